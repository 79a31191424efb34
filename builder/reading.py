"""The read stage: every article file read by an executor, or taken from the cached build.

Rows go to disk as they come, in id-range partitions (runs.PartitionedSpill), each with its
MinHash signature and its place in path order; rejects to a list; each file to the input
manifest and to the next cache's index. A file the cached build knows is taken from it:
unread if its stat is unchanged and trusted, else read and taken if its sha256 is the same.
Files taken unread, most of a rebuild's, are handled as columns, never one by one.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import readers
from .cache import (MAX_LAYERS, MAX_STORED_PER_LIVE, BuildCache, Entry, IndexWriter, Lookup, PreviousBuild, Stat,
                    entry_at, index_table, reusable, stat_of)
from .card import InputManifest
from .errors import CacheError, Reject
from .report import BuildReport
from .run import Inline, executor_for, worker
from .run.worker import Chunk
from .runs import SEQ, SIGNATURE, PartitionedSpill, partition_count, read_renumbered, signature_column, spill_schema
from .settings import BuildSettings

log = logging.getLogger(__name__)
INLINE_BELOW = 200  # fewer files than this: worker start-up costs more than it saves
_CHUNK = 64  # files a worker task reads
_SPAN = 2048  # files one task covers at most, counting those taken from the cache unread


def install_cache(cache: BuildCache, staged: "Staged", n_partitions: int) -> None:
    """Keep this build's results for the next one. The dataset is written already: a cache that
    cannot be saved (a full disk, say) costs the next build its speed, not this build."""
    try:
        cache.install(staged.folder, n_partitions=n_partitions, layers=staged.layers, live_rows=staged.live_rows)
    except OSError as exc:
        log.warning("the build cache could not be saved in %s (%s); the next build reads every file",
                    cache.folder, exc.strerror or exc)


# ---- the stages of a build ---------------------------------------------------------------------

@dataclass
class Staged:
    """The next cached build, as this one prepares it: files.arrow and the layer `layer` under
    `folder`, the other layers it uses (kept from the cached build unless `compact`)."""

    folder: Path
    layer: int
    compact: bool                       # all rows in the new layer (written, not moved)
    layers: dict[int, dict] = field(default_factory=dict)
    live_rows: int = 0


def read_all(found, settings: BuildSettings, workers: int | None, progress: bool,
              previous: PreviousBuild | None, staged: Path | None, work: Path,
              report: BuildReport, rejects: list[Reject], inputs: InputManifest, *,
              engine: str = "local", ray_address: str | None = None) -> tuple[PartitionedSpill, Staged | None]:
    """Read every article (in workers): rows go to disk as they come, in id-range partitions,
    each with its MinHash signature and its place in path order; rejects to `rejects`. No
    per-row state stays in memory. With the cached `previous` build, a file it knows is taken
    from it (unread if its stat is unchanged, else if its sha256 is); with `staged`, what
    became of each file is written there for the next build."""
    schema = spill_schema(settings)
    # The cached build's partitions are read in place when this spill is cut the same way: kept
    # while the corpus stays within a factor of two of its size, so partitions stay small.
    same_cut = previous is not None and previous.n_partitions / 2 <= partition_count(len(found.articles)) \
        <= previous.n_partitions * 2
    spill = PartitionedSpill(work / "spill", schema, expected_rows=len(found.articles),
                             n_partitions=previous.n_partitions if same_cut else None)
    lookup = Lookup(previous.batches()) if previous is not None else None
    # Where each cached row goes: remaps[layer][its seq there] = its seq in this build (-1: gone).
    remaps = {layer: np.full(v["seq_space"], -1, dtype=np.int64)
              for layer, v in (previous.layers.items() if previous is not None else ())}
    stage = _stage(staged, previous, same_cut) if staged is not None else None
    index = IndexWriter(staged / "files.arrow") if staged is not None else None
    taker = _Taker(settings, report, rejects, inputs, spill, remaps, stage, index)
    for plan, chunk in _process_all(_tasks(found.articles, lookup), settings, workers, progress,
                                    total=len(found.articles), found=report.files_found,
                                    engine=engine, ray_address=ray_address):
        taker.take(plan, chunk)
    seq, new_rows = taker.seq, taker.new_rows
    if index is not None:
        index.close()
    used = [(layer, remap) for layer, remap in remaps.items() if (remap >= 0).any()]
    if previous is not None:
        _take_cached_rows(spill, previous, used, same_cut)
    if stage is not None:
        if not stage.compact:
            stage.layers = {layer: previous.layers[layer] for layer, _ in used}
        if stage.compact or new_rows:
            stage.layers[stage.layer] = {"seq_space": seq, "rows": seq if stage.compact else new_rows}
        stage.live_rows = seq
    return spill, stage


def _stage(folder: Path, previous: PreviousBuild | None, same_cut: bool) -> Staged:
    """The next cached build: a new layer, and whether it takes every row (compacts) because
    the cached build is cut otherwise, has too many layers or too many rows no longer used."""
    compact = previous is None or not same_cut or len(previous.layers) + 1 > MAX_LAYERS \
        or previous.stored_rows > MAX_STORED_PER_LIVE * previous.live_rows
    stage = Staged(folder, layer=max(previous.layers, default=-1) + 1 if previous is not None else 0,
                    compact=compact)
    (folder / f"L{stage.layer}").mkdir(parents=True)
    return stage


def _take_cached_rows(spill: PartitionedSpill, previous: PreviousBuild, used: list[tuple[int, np.ndarray]],
                      same_cut: bool) -> None:
    """The cached rows this build uses, into the spill: read in place from the cached layers
    as each partition is read, when they are cut the same way (the usual case); else copied in."""
    if same_cut:
        spill.use_base([(partial(previous.part, layer), remap) for layer, remap in used], SEQ)
        return
    copied = 0
    for layer, remap in used:
        for k in range(previous.n_partitions):
            table = read_renumbered(previous.part(layer, k), remap, SEQ)
            if table is not None:
                spill.add(table)
                copied += table.num_rows
    check_cached_rows(copied, sum(int((remap >= 0).sum()) for _, remap in used))


def check_cached_rows(got: int, expected: int) -> None:
    if got != expected:
        raise CacheError(f"the build cache gave {got} of the {expected} rows it holds for this source: "
                         "its files were changed or damaged. It is deleted now; build again.")


_NO_STAT = Stat(0, 0, 0, 0)


@dataclass
class _Plan:
    """A task's articles, in path order: each one's row in `cached` (the cached build's index
    rows of these articles; -1: none usable) and its place among the files the task reads
    (-1: taken from the cache unread)."""

    cached: pa.Table | None
    old: list[int]
    read: list[int]

    def __len__(self) -> int:
        return len(self.read)


def _tasks(articles, lookup: Lookup | None) -> Iterator[tuple[_Plan, list]]:
    """The articles in path order as tasks: (plan, files to read, each (shown path, path, the
    cached sha256 or None)). A file the cached build knows by an unchanged stat is not read.
    A task reads at most _CHUNK files and covers at most _SPAN articles."""
    old: list[int] = []
    read: list[int] = []
    items: list[tuple[str, str, str | None]] = []
    pieces: list[pa.Table] = []
    base = 0  # where the rows of the block at hand start in the task's cached rows

    def task() -> tuple[_Plan, list]:
        cached = (pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)) if pieces else None
        return _Plan(cached, old, read), items

    for start in range(0, len(articles), 256):
        block = articles[start:start + 256]
        where = [-1] * len(block)
        if lookup is not None:
            rows, where = lookup.match([shown for shown, _ in block])
            pieces.append(rows)
            sha, reason, trust = (rows.column(c).to_pylist() for c in ("sha256", "reason", "trusted"))
            stats = list(zip(*(rows.column(c).to_pylist() for c in ("size", "mtime_ns", "ctime_ns", "ino"))))
        for (shown, path), j in zip(block, where):
            if j >= 0 and not reusable(sha[j], reason[j]):
                j = -1
            if j >= 0 and trust[j] and _same_stat(path, stats[j]):
                old.append(base + j)
                read.append(-1)
            else:
                old.append(base + j if j >= 0 else -1)
                read.append(len(items))
                items.append((shown, path, sha[j] if j >= 0 else None))
            if len(items) >= _CHUNK or len(read) >= _SPAN:
                yield task()
                old, read, items = [], [], []
                pieces = pieces[-1:]  # the block's rows, for the rest of it
                base = 0
        base = sum(p.num_rows for p in pieces) if lookup is not None else 0
    if read:
        yield task()


def _same_stat(path: str, stat: tuple) -> bool:
    try:
        return stat_of(os.stat(path)) == stat
    except OSError:
        return False  # read as any other file: its reader reports the problem


class _Taker:
    """What reading gave, task by task, into the build: rows to the spill (each numbered by its
    place in path order), rejects to the list, each file to the input manifest and to the next
    cache's index; cached rows taken are mapped (remaps) to their new place. Files taken from
    the cache unread, most of a rebuild's, are handled as columns."""

    def __init__(self, settings: BuildSettings, report: BuildReport, rejects: list[Reject],
                 inputs: InputManifest, spill: PartitionedSpill, remaps: dict[int, np.ndarray],
                 stage: Staged | None, index: IndexWriter | None) -> None:
        self.schema = spill_schema(settings)
        self.report, self.rejects, self.inputs = report, rejects, inputs
        self.spill, self.remaps, self.stage, self.index = spill, remaps, stage, index
        self.seq = self.new_rows = 0

    def take(self, plan: _Plan, chunk: Chunk | None) -> None:
        cached, report, stage = plan.cached, self.report, self.stage
        columns = ("path", "sha256", "seq", "reason", "message")
        c_path, c_sha, c_seq, c_reason, c_message = (cached.column(c).to_pylist() for c in columns) \
            if cached is not None else ([],) * 5
        pairs = []          # (path, sha256) for the input manifest, in path order
        new_seqs = []       # seq of each row the chunk computed
        taken, taken_seq = [], []  # cached rows taken unread, and their seq here (-1: a reject)
        rows_at, rows = [], []     # index entries of the files read, and their places in the plan
        same_bytes = 0
        seq = self.seq
        for at, (j, k) in enumerate(zip(plan.old, plan.read)):
            if k < 0:  # taken unread
                pairs.append((c_path[j], c_sha[j]))
                taken.append(j)
                if c_seq[j] >= 0:
                    taken_seq.append(seq)
                    seq += 1
                else:
                    taken_seq.append(-1)
                    self.rejects.append(Reject(c_path[j], c_reason[j], c_message[j]))
                continue
            path, digest, reject, warnings, stat, trust, same = chunk.files[k]
            row = -1
            if same:  # read again (its stat changed), and the same bytes: the cached result
                same_bytes += 1
                entry = entry_at(cached, j)._replace(stat=stat, trusted=trust)
                pairs.append((entry.path, entry.sha256))
                layer, lseq = entry.layer, entry.lseq
                if entry.seq >= 0:
                    self.remaps[layer][lseq] = row = seq
                    if stage is not None and stage.compact:  # the row moves to the new layer
                        layer, lseq = stage.layer, seq
                    seq += 1
                    report.warnings.update(entry.warnings)
                else:
                    self.rejects.append(Reject(entry.path, entry.reason, entry.message))
                rows.append(entry._replace(seq=row, layer=layer, lseq=lseq))
            else:
                pairs.append((path, digest or "unread"))
                if reject is not None:
                    self.rejects.append(reject)
                else:
                    report.warnings.update(warnings)
                    new_seqs.append(seq)
                    row, seq = seq, seq + 1
                rows.append(Entry(path, stat or _NO_STAT, digest, trust, row, stage.layer if stage is not None else -1,
                                  row, reject and reject.reason, reject and reject.message, list(warnings)))
            rows_at.append(at)
        self.seq = seq
        self.inputs.add_many(pairs)
        taken_rows = self._take_cached(cached, taken, taken_seq) if taken else None
        if taken:
            report.from_cache["stat"] += len(taken)
        if same_bytes:
            report.from_cache["bytes"] += same_bytes
        if self.index is not None:
            self._index(plan, taken_rows, rows, rows_at)
        if new_seqs:
            self.new_rows += len(new_seqs)
            self.spill.add(chunk.table.append_column(self.schema.field(SEQ), pa.array(new_seqs, pa.int64()))
                           .append_column(self.schema.field(SIGNATURE), signature_column(chunk.signatures)))

    def _take_cached(self, cached: pa.Table, taken: list[int], taken_seq: list[int]) -> pa.Table:
        """The index rows of the cached files taken unread, renumbered (and moved to the new
        layer if it takes every row); their rows mapped in `remaps`, their warnings counted."""
        table = cached.take(pa.array(taken, pa.int64()))
        new = np.array(taken_seq, dtype=np.int64)
        is_row = new >= 0
        layer = table.column("layer").to_numpy()
        lseq = table.column("lseq").to_numpy()
        for k in np.unique(layer[is_row]).tolist():
            mine = is_row & (layer == k)
            self.remaps[k][lseq[mine]] = new[mine]
        warned = pc.list_value_length(table.column("warnings")).to_numpy() > 0
        if (warned & is_row).any():
            self.report.warnings.update(pc.list_flatten(table.filter(pa.array(warned & is_row))
                                                        .column("warnings")).to_pylist())
        stage = self.stage
        table = _set_index_column(table, "seq", new)
        if stage is not None and stage.compact:
            table = _set_index_column(table, "layer", np.where(is_row, stage.layer, layer).astype(np.int32))
            table = _set_index_column(table, "lseq", np.where(is_row, new, lseq))
        return table

    def _index(self, plan: _Plan, taken: pa.Table | None, rows: list[Entry], rows_at: list[int]) -> None:
        """The task's files into the next cache's index, in path order."""
        read = index_table(rows) if rows else None
        if taken is None or read is None:
            if taken is not None or read is not None:
                self.index.add_table(taken if read is None else read)
            return
        where = np.array([at for at, k in enumerate(plan.read) if k < 0] + rows_at, dtype=np.int64)
        self.index.add_table(pa.concat_tables([taken, read]).take(pa.array(np.argsort(where, kind="stable"))))


def _set_index_column(table: pa.Table, name: str, values: np.ndarray) -> pa.Table:
    at = table.schema.get_field_index(name)
    return table.set_column(at, table.schema.field(at), pa.array(values, table.schema.field(at).type))


def _process_all(tasks: Iterator[tuple[_Plan, list]], settings: BuildSettings, workers: int | None,
                 progress: bool, *, total: int, found: int, engine: str = "local", ray_address: str | None = None) -> Iterator[tuple[_Plan, Chunk | None]]:
    """(plan, what reading its files gave) for each task, in order; files are read by workers
    (or here, for one worker or a few files). The bar counts every file found (as the summary
    does): those that are no article are done from the start; tqdm's own settings, such as
    TQDM_DISABLE, are honoured unless `progress` is False."""
    from tqdm import tqdm

    workers = readers.count(workers)
    executor = executor_for(engine, workers, inline=total < INLINE_BELOW, initializer=worker.init_process,
                            describe=worker.describe, ray_address=ray_address)
    if isinstance(executor, Inline):
        readers.stop()  # if the `corpus` command started one early: not needed
    bar = tqdm(total=found, initial=found - total, unit="file", desc="reading", leave=False,
               **({} if progress else {"disable": True}))
    done = executor.map(worker.task(settings), ((plan, items or None) for plan, items in tasks))
    try:
        for plan, chunk in done:
            yield plan, chunk
            bar.update(len(plan))
    finally:
        bar.close()
        done.close()  # its pool shut down
