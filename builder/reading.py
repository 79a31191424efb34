"""The read stage: the driver plans read tasks over the article files and gathers their facts.

Each task (run.worker.ReadTask) covers a run of the article list in path order (its paths as
the list's front-coded bytes, and the cached build's entries of that stretch) and writes its
rows to its own partition (builder.parts); the driver plans runs, never a file, and gets back
each file's index entry and each row's small columns, never a text. A file the cached build
knows is taken from it by the task: not read if its stat is unchanged and trusted, else read
and taken if its sha256 is the same; its row is copied from the cached partition. The entries
go to the next cache's index, in path order, with the handle (task, row) of each row.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import readers
from .cache import BuildCache, IndexWriter, Lookup, PreviousBuild
from .card import InputManifest
from .dedup.store import SignatureFile
from .errors import Reject
from .parts import SIGNATURE, signatures_of
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

    def narrowed(self, columns: list[str]) -> "Facts":
        """These facts with only `columns` of the table: once a stage is done, what only it read
        is freed before the next one's peak."""
        return replace(self, table=self.table.select(columns))

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
    tasks = _tasks(found, lookup, str(folder), str(previous.parts) if previous is not None else None, extra)
    for task, result in _run(tasks, settings, executor, progress, total=len(found.articles),
                             found=report.files_found):
        gather.take(task, result)
    if index is not None:
        index.close()
    return gather.close(folder)


def _tasks(found, lookup: Lookup | None, folder: str, cache: str | None,
           extra: tuple[str, ...]) -> Iterator[ReadTask]:
    """The articles in path order as read tasks, each a run of the list with the cached build's
    entries of its stretch of path order: the task itself decides, file by file, what to read
    (see the module docstring), so planning costs the driver nothing a file. A run is
    `_chunk_for` files; _SPAN when a cached build gives most rows unread."""
    articles, sizes = found.articles, found.sizes
    n = len(articles)
    span = _chunk_for(n) if lookup is None else _span_for(n)
    for no, start in enumerate(range(0, n, span)):
        stop = min(n, start + span)
        known = lookup.upto(articles[stop - 1][0]) if lookup is not None else None
        yield ReadTask(no, folder, start, articles.block(start, stop), known, cache,
                       sizes[start:stop] if sizes is not None else None, extra)


def _span_for(n_files: int) -> int:
    """The files a rebuild's read task covers: up to _SPAN (most are taken from the cache
    unread), but enough tasks (about 32) for the files that changed to spread over the workers."""
    return max(_chunk_for(n_files), min(_SPAN, -(-n_files // 32)))


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

    def take(self, task: ReadTask, result: ReadResult) -> None:
        """A task's outcome, as columns: every file's index entry, in path order."""
        report = self.report
        if result.unread:
            report.from_cache["stat"] += result.unread
        if result.same:
            report.from_cache["bytes"] += result.same
        table = result.index
        report.warnings.update(result.warnings)
        gone = table.filter(pc.less(table.column("part"), 0))
        if gone.num_rows:
            self.rejects += [Reject(p, r, m) for p, r, m in zip(*(gone.column(c).to_pylist()
                                                                    for c in ("path", "reason", "message")))]
        if table.num_rows:
            paths = table.column("path")
            self.inputs.add_lines(paths[0].as_py(), paths[-1].as_py(), result.manifest)
        if self.index is not None:
            self.index.add_table(table)
        self.n_tasks = max(self.n_tasks, task.no + 1)
        facts = result.facts
        if not facts.num_rows:
            return
        sigs = signatures_of(facts.column(SIGNATURE))
        self._sigs.write(np.ascontiguousarray(sigs, dtype=np.uint32).tobytes())
        n = facts.num_rows
        places = facts.column("k").to_numpy()
        self.facts.append(facts.drop_columns(["k", SIGNATURE])
                          .append_column("file", pa.array((places + task.first).astype(np.int32)))
                          .append_column("task", pa.array(np.full(n, task.no, dtype=np.int32)))
                          .append_column("row", pa.array(np.arange(n, dtype=np.int32))))
        if len(self.facts) - self._joined >= _JOIN_EVERY:
            self.facts[self._joined:] = [_joined(self.facts[self._joined:])]
            self._joined += 1

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


def _run(tasks: Iterator[ReadTask], settings: BuildSettings, executor: Executor, progress: bool, *,
         total: int, found: int) -> Iterator[tuple[ReadTask, ReadResult]]:
    """(task, what it gave) for each task, in order. The bar counts every file found (as
    the summary does): those that are no article are done from the start; tqdm's own settings,
    such as TQDM_DISABLE, are honoured unless `progress` is False."""
    from tqdm import tqdm

    bar = tqdm(total=found, initial=found - total, unit="file", desc="reading", leave=False,
               **({} if progress else {"disable": True}))
    done = executor.map(worker.task(settings), ((task, task) for task in tasks))
    try:
        for task, result in done:
            yield task, result
            bar.update(len(task.paths))
    finally:
        bar.close()
        done.close()
