"""The read stage: the driver plans read tasks over the article files and gathers their facts.

Each task (run.worker.ReadTask) covers a run of files in path order and writes its rows to its
own partition (builder.parts); the driver gets back each file's outcome and each row's small
columns, never a text. A file the cached build knows is taken from it: not read if its stat
is unchanged and trusted, else read and taken if its sha256 is the same; its row is copied
by the task from the cached partition. What became of each file goes to the next cache's
index, in path order, with the handle (task, row) of its row.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import readers
from .cache import INDEX_SCHEMA, BuildCache, IndexWriter, Lookup, PreviousBuild, reusable, stat_of
from .card import InputManifest
from .dedup.store import SignatureFile
from .errors import Reject
from .parts import SIGNATURE, big_endian64, hex_bytes, signatures_of
from .report import BuildReport
from .run import Executor, Inline, executor_for, worker
from .run.worker import ReadResult, ReadTask
from .settings import BuildSettings

log = logging.getLogger(__name__)
INLINE_BELOW = 200  # fewer files than this: worker start-up costs more than it saves
_CHUNK = 512  # files a worker task reads, at least (see _chunk_for)
_PARTITIONS = 512  # partitions a build makes at most, while a task can read more than _CHUNK (see _chunk_for)
_SPAN = 2048  # files one task covers at most, counting those taken from the cache unread
# The tasks' facts are joined into one table every this many tasks: kept as a table a task,
# each column's buffers allocated apart, they cost the driver a few times their own bytes.
_JOIN_EVERY = 64


def _chunk_for(n_files: int) -> int:
    """The files a read task reads: _CHUNK, or more in a large build (up to _SPAN), so that the
    build makes at most _PARTITIONS partitions. A shard task opens every partition its rows
    are in: the rows of one date window come from files all over the path order (an archive
    names its posts by title), so a shard opens most partitions, and the shard stage costs
    shards x partitions. Larger tasks cost the workers memory, so they start only where the
    partitions would outnumber _PARTITIONS (bench/NOTES_shards.md)."""
    return max(_CHUNK, min(_SPAN, -(-n_files // _PARTITIONS)))


def install_cache(cache: BuildCache, work: Path, n_tasks: int) -> None:
    """Keep this build's results for the next one: its index and partitions. The dataset is
    written already: a cache that cannot be saved (a full disk, say) costs the next build its
    speed, not this build."""
    try:
        cache.install(work / "cache", work / "parts", n_tasks=n_tasks)
    except OSError as exc:
        log.warning("the build cache could not be saved in %s (%s); the next build reads every file",
                    cache.folder, exc.strerror or exc)


@dataclass
class Facts:
    """What the read stage gives the rest of the build: one row of `table` per row written
    (its file's place in path order `file` and the first 8 bytes of its sha256 `file_digest`
    as a big-endian uint64, its handle `task`/`row`, parts.FACTS (the text hash as its 32
    bytes) and the split's columns) and its MinHash signature, row for row, in `signatures`
    (a file of uint32)."""

    table: pa.Table
    signatures: Path
    num_perm: int
    folder: Path            # the partitions
    n_tasks: int

    def handles(self) -> tuple[np.ndarray, np.ndarray]:
        """Each facts row's handle into the partitions: its task's and its row's arrays."""
        return self.table.column("task").to_numpy(), self.table.column("row").to_numpy()

    def signature_rows(self, rows: np.ndarray) -> np.ndarray:
        """The signatures of facts rows `rows` (any order), read without the file's pages
        staying in this process (a mapping of the whole file, indexed in id order, put all of
        it in the RSS: 487 MB of a million-file build's driver)."""
        if not self.table.num_rows:
            return np.empty((0, self.num_perm), np.uint32)
        return SignatureFile.reader(self.signatures, self.num_perm).gather(rows)


def read_all(found, settings: BuildSettings, executor: Executor, progress: bool,
             previous: PreviousBuild | None, cache_work: Path | None, work: Path,
             report: BuildReport, rejects: list[Reject], inputs: InputManifest, *,
             extra: tuple[str, ...] = ()) -> Facts:
    """Read every article (in tasks, see the module's docstring); rejects to `rejects`, each
    file to the input manifest and, with `cache_work`, to the next cache's index there.
    `extra`: the row columns the later stages need beside parts.FACTS."""
    folder = work / "parts"
    folder.mkdir()
    lookup = Lookup(previous.batches()) if previous is not None else None
    index = None
    if cache_work is not None:
        cache_work.mkdir(parents=True, exist_ok=True)
        index = IndexWriter(cache_work / "files.arrow")
    gather = _Gather(report, rejects, inputs, index, work / "signatures.u32", settings.dedup.num_perm)
    tasks = _tasks(found.articles, lookup, str(folder), str(previous.parts) if previous is not None else None, extra,
                   found.sizes, chunk=_chunk_for(len(found.articles)))
    for plan, result in _run(tasks, settings, executor, progress, total=len(found.articles),
                             found=report.files_found):
        gather.take(plan, result)
    if index is not None:
        index.close()
    return gather.close(folder)


@dataclass
class _Plan:
    """A task's articles, in path order: each one's row in `cached` (the cached build's index
    rows of these articles; -1: none usable) and its place among the files the task reads
    (-1: taken from the cache unread); `no` is the task's number, `first` its first file's
    place in path order."""

    no: int
    first: int
    cached: pa.Table | None
    old: list[int]
    read: list[int]

    def __len__(self) -> int:
        return len(self.read)


def _tasks(articles, lookup: Lookup | None, folder: str, cache: str | None,
           extra: tuple[str, ...], sizes=None, *, chunk: int = _CHUNK) -> Iterator[tuple[_Plan, ReadTask]]:
    """The articles in path order as read tasks. A file the cached build knows by an unchanged
    stat is not read: its row is taken from the cached partition. A task reads at most `chunk`
    files and covers at most _SPAN articles."""
    no = first = 0
    old: list[int] = []
    read: list[int] = []
    items: list = []
    taken: list = []
    pieces: list[pa.Table] = []
    base = 0  # where the rows of the block at hand start in the task's cached rows

    def task() -> tuple[_Plan, ReadTask]:
        cached = (pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)) if pieces else None
        return _Plan(no, first, cached, old, read), ReadTask(no, folder, items, taken, cache, extra)

    for start in range(0, len(articles), 256):
        block = articles[start:start + 256]
        where = [-1] * len(block)
        if lookup is not None:
            rows, where = lookup.match([shown for shown, _ in block])
            pieces.append(rows)
            sha, reason, trust, part, row = (rows.column(c).to_pylist()
                                             for c in ("sha256", "reason", "trusted", "part", "row"))
            stats = list(zip(*(rows.column(c).to_pylist() for c in ("size", "mtime_ns", "ctime_ns", "ino"))))
        for n, ((shown, path), j) in enumerate(zip(block, where), start):
            if j >= 0 and not reusable(sha[j], reason[j]):
                j = -1
            at = len(old)
            if j >= 0 and trust[j] and _same_stat(path, stats[j]):
                old.append(base + j)
                read.append(-1)
                if part[j] >= 0:
                    taken.append((at, part[j], row[j]))
            else:
                old.append(base + j if j >= 0 else -1)
                read.append(len(items))
                items.append((at, shown, path, (sha[j], part[j], row[j]) if j >= 0 else None,
                              sizes[n] if sizes is not None else None))
            if len(items) >= chunk or len(read) >= _SPAN:
                yield task()
                no, first = no + 1, first + len(read)
                old, read, items, taken = [], [], [], []
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


class _Gather:
    """Each task's outcome into the build: rejects to the list, each file to the input
    manifest and the next cache's index, the rows' facts to a table and their signatures to a
    file, each row numbered by its place in path order."""

    def __init__(self, report: BuildReport, rejects: list[Reject], inputs: InputManifest,
                 index: IndexWriter | None, signatures: Path, num_perm: int) -> None:
        self.report, self.rejects, self.inputs, self.index = report, rejects, inputs, index
        self.signatures, self.num_perm = signatures, num_perm
        self._sigs = open(signatures, "wb")
        self.facts: list[pa.Table] = []
        self._joined = 0  # the first tables of `facts` each hold _JOIN_EVERY tasks' facts, joined
        self.n_tasks = 0

    def take(self, plan: _Plan, result: ReadResult | None) -> None:
        """A task's outcome, as columns: every file's index row (taken from the cached build's
        for a file not read again, or read again and the same bytes), in place order."""
        report = self.report
        facts = result.facts if result is not None and result.facts.num_rows else None
        places = facts.column("k").to_numpy() if facts is not None else np.empty(0, np.int64)
        read = np.array(plan.read, dtype=np.int64)
        old = np.array(plan.old, dtype=np.int64)
        tables, where = [], []
        unread = np.flatnonzero(read < 0)  # taken unread: most of a rebuild's files
        if len(unread):
            report.from_cache["stat"] += len(unread)
            tables.append(self._handled(plan.cached.take(pa.array(old[unread])), unread, plan.no, places))
            where.append(unread)
        if result is not None and result.files.num_rows:
            files = result.files
            k = files.column("k").to_numpy()
            same = files.column("same").to_numpy(zero_copy_only=False)
            fresh = files.filter(pa.array(~same))
            part = pa.array(np.where(fresh.column("reason").is_null().to_numpy(zero_copy_only=False), 0, -1))
            fresh = pa.Table.from_arrays([fresh.column(f.name) if f.name in fresh.column_names else part.cast(f.type)
                                          for f in INDEX_SCHEMA], schema=INDEX_SCHEMA)
            tables.append(self._handled(fresh, k[~same], plan.no, places))
            where.append(k[~same])
            if same.any():  # read again and the same bytes: the cached result, with today's stat
                report.from_cache["bytes"] += int(same.sum())
                again = files.filter(pa.array(same))
                cached = plan.cached.take(pa.array(old[k[same]]))
                for name in ("size", "mtime_ns", "ctime_ns", "ino", "trusted"):
                    cached = _set(cached, name, again.column(name))
                tables.append(self._handled(cached, k[same], plan.no, places))
                where.append(k[same])
        table = pa.concat_tables(tables).take(pa.array(np.argsort(np.concatenate(where), kind="stable")))
        kept = table.filter(pc.greater_equal(table.column("part"), 0))
        for value in pc.value_counts(pc.list_flatten(kept.column("warnings"))).to_pylist():
            report.warnings[value["values"]] += value["counts"]
        if kept.num_rows < table.num_rows:
            gone = table.filter(pc.less(table.column("part"), 0))
            self.rejects += [Reject(p, r, m) for p, r, m in zip(*(gone.column(c).to_pylist()
                                                                    for c in ("path", "reason", "message")))]
        shas = pc.fill_null(table.column("sha256"), "unread")
        self.inputs.add_columns(table.column("path"), shas)
        if self.index is not None:
            self.index.add_table(table)
        self.n_tasks = max(self.n_tasks, plan.no + 1)
        if facts is None:
            return
        sigs = signatures_of(facts.column(SIGNATURE))
        self._sigs.write(np.ascontiguousarray(sigs, dtype=np.uint32).tobytes())
        n = facts.num_rows
        at = pa.array(places)
        self.facts.append(facts.drop_columns(["k", SIGNATURE])
                          .append_column("file", pa.array((places + plan.first).astype(np.int32)))
                          .append_column("file_digest", pa.array(big_endian64(hex_bytes(shas.take(at), 8))))
                          .append_column("task", pa.array(np.full(n, plan.no, dtype=np.int32)))
                          .append_column("row", pa.array(np.arange(n, dtype=np.int32))))
        if len(self.facts) - self._joined >= _JOIN_EVERY:
            self.facts[self._joined:] = [_joined(self.facts[self._joined:])]
            self._joined += 1

    @staticmethod
    def _handled(table: pa.Table, at: np.ndarray, no: int, places: np.ndarray) -> pa.Table:
        """Index rows of the files at places `at` with their handles in this build: a row's is
        (this task, its place in the task's partition), a reject's (-1, -1)."""
        is_row = table.column("part").to_numpy() >= 0
        table = _set(table, "part", np.where(is_row, no, -1))
        return _set(table, "row", np.where(is_row, np.searchsorted(places, at), -1))

    def close(self, folder: Path) -> Facts:
        self._sigs.close()
        pieces, self.facts = self.facts, []
        return Facts(_joined(pieces) if pieces else None, self.signatures, self.num_perm, folder, self.n_tasks)


def _joined(pieces: list[pa.Table]) -> pa.Table:
    """The tasks' facts as one table of one chunk a column, joined a column at a time: a column's
    pieces are freed once it is joined, so the facts are never held twice."""
    schema = pieces[0].schema
    chunks = {name: [chunk for piece in pieces for chunk in piece.column(name).chunks] for name in schema.names}
    pieces.clear()
    return pa.Table.from_arrays([pa.concat_arrays(chunks.pop(name)) for name in schema.names], schema=schema)


def executor_of_build(engine: str, workers: int | None, n_files: int, ray_address: str | None) -> Executor:
    """The executor a build's tasks run on: `engine`'s, or this process for one worker or a
    few files (worker start-up costs more than it saves)."""
    workers = readers.count(workers)
    executor = executor_for(engine, workers, inline=n_files < INLINE_BELOW, initializer=worker.init_process,
                            describe=worker.describe, ray_address=ray_address)
    if isinstance(executor, Inline):
        readers.stop()  # if the `corpus` command started one early: not needed
    return executor


def _set(table: pa.Table, name: str, values) -> pa.Table:
    at = table.schema.get_field_index(name)
    field = table.schema.field(at)
    return table.set_column(at, field, values if isinstance(values, (pa.Array, pa.ChunkedArray))
                            else pa.array(values, field.type))


def _run(tasks: Iterator[tuple[_Plan, ReadTask]], settings: BuildSettings, executor: Executor, progress: bool, *,
         total: int, found: int) -> Iterator[tuple[_Plan, ReadResult | None]]:
    """(plan, what its task gave) for each task, in order. The bar counts every file found (as
    the summary does): those that are no article are done from the start; tqdm's own settings,
    such as TQDM_DISABLE, are honoured unless `progress` is False."""
    from tqdm import tqdm

    bar = tqdm(total=found, initial=found - total, unit="file", desc="reading", leave=False,
               **({} if progress else {"disable": True}))
    done = executor.map(worker.task(settings), tasks)
    try:
        for plan, result in done:
            yield plan, result
            bar.update(len(plan))
    finally:
        bar.close()
        done.close()
