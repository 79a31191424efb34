"""The cache's file index: what each article file became, and how to know the file again.

One entry per article file, in path order (INDEX_SCHEMA): its stat, its sha256, and what it
became (a row: its handle, the partition and row that hold it; or a reject). A file is
known by its stat only if it was hashed while already TRUST_MARGIN_NS old (`trusted`).
"""
from __future__ import annotations

import bisect
import os
from pathlib import Path
from typing import Iterator, NamedTuple

import pyarrow as pa
import pyarrow.ipc as ipc

FORMAT = 4  # v1, v2: an SQLite table of pickled results per (path, sha256); v3: layers of id ranges
# A file is trusted by its stat only if it was hashed while its mtime and ctime were this far
# in the past: a write in the same clock tick as the hashing (coarse file system clocks tick
# every 1-2 s) would otherwise leave the stat unchanged and the content stale.
TRUST_MARGIN_NS = 2_000_000_000

INDEX_SCHEMA = pa.schema([
    pa.field("path", pa.string(), False),
    pa.field("size", pa.int64(), False),
    pa.field("mtime_ns", pa.int64(), False),
    pa.field("ctime_ns", pa.int64(), False),
    pa.field("ino", pa.uint64(), False),
    pa.field("sha256", pa.string()),          # None: the file was not read (too large, unreadable)
    pa.field("trusted", pa.bool_(), False),   # hashed while older than TRUST_MARGIN_NS
    pa.field("part", pa.int32(), False),      # the row's handle: its partition (-1: a reject)
    pa.field("row", pa.int64(), False),       # and its place there
    pa.field("reason", pa.string()),          # the reject's reason and message
    pa.field("message", pa.string()),
    pa.field("warnings", pa.list_(pa.string()), False),
])


class Stat(NamedTuple):
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


def stat_of(st: os.stat_result) -> Stat:
    return Stat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def trusted(stat: Stat, hashed_at_ns: int) -> bool:
    """Whether a file with this stat, hashed at `hashed_at_ns` or later, can be known by it."""
    return max(stat.mtime_ns, stat.ctime_ns) + TRUST_MARGIN_NS < hashed_at_ns


class Entry(NamedTuple):
    """What one article file became in a build, and how to know the file again."""

    path: str
    stat: Stat
    sha256: str | None
    trusted: bool
    part: int                # the row's partition (builder.parts); -1: a reject
    row: int                 # its place there
    reason: str | None
    message: str | None
    warnings: list[str]

    @property
    def reusable(self) -> bool:
        return reusable(self.sha256, self.reason)


def reusable(sha256: str | None, reason: str | None) -> bool:
    """Whether a cached result may stand for its file again: an unread file and a timeout are
    decided afresh every time (the next try may pass)."""
    return sha256 is not None and reason != "timeout"


def _row(e: Entry) -> tuple:
    """An entry as a row of INDEX_SCHEMA (its fields in the same order, the stat spread out)."""
    return (e.path, *e.stat, *e[2:])


def _entry(row: tuple) -> Entry:
    return Entry(row[0], Stat(*row[1:5]), *row[5:])


def entry_at(table: pa.Table, j: int) -> Entry:
    """Row j of a table of index rows (INDEX_SCHEMA), as an Entry."""
    return _entry(tuple(table.column(name)[j].as_py() for name in INDEX_SCHEMA.names))


class PreviousBuild:
    """The cached build of a source, opened for reading: its entries, streamed in path order,
    and its partitions."""

    def __init__(self, folder: Path, meta: dict) -> None:
        self.folder = folder
        self.parts = folder / "parts"
        self.n_tasks: int = meta["n_tasks"]

    def entries(self) -> Iterator[Entry]:
        for batch in self.batches():
            yield from map(_entry, zip(*(batch.column(name).to_pylist() for name in INDEX_SCHEMA.names)))

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The entries as INDEX_SCHEMA batches, in path order."""
        # Read a batch at a time, not memory-mapped: a mapping read through to its end counts
        # the whole file in the process's RSS (224 MB at a million files, read while the
        # workers run: a rebuild's peak was 577 MB there).
        with pa.OSFile(str(self.folder / "files.arrow")) as source:
            reader = ipc.open_file(source)
            for k in range(reader.num_record_batches):
                yield reader.get_batch(k)


class Lookup:
    """The previous build's entries, handed out in runs of path order: `upto(path)` gives those
    after the ones given before, up to and including `path`. The index is read a batch at a
    time, so no map of a million paths is held; a read task matches its own files against the
    run it is given. Entries come as INDEX_SCHEMA rows, not objects: a rebuild takes most of
    them whole."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._batches = batches
        self._window = INDEX_SCHEMA.empty_table()  # index rows read and not yet given
        self._paths: list[str] = []                # their paths
        self._at = 0                               # the first of them not given

    def upto(self, path: str) -> pa.Table:
        """The entries after those given before, up to `path` (paths asked in path order)."""
        while True:
            end = bisect.bisect_right(self._paths, path, self._at)
            if end < len(self._paths) or not self._more():
                break
        rows = self._window.slice(self._at, end - self._at)
        self._at = end
        # Copied out: a slice keeps (and pickles, to the read task) the whole batches under it.
        return pa.Table.from_arrays([pa.concat_arrays(column.chunks) if column.num_chunks else column
                                     for column in rows.columns], schema=INDEX_SCHEMA)

    def _more(self) -> bool:
        batch = next(self._batches, None)
        if batch is None:
            return False
        self._window = pa.concat_tables([self._window.slice(self._at), pa.Table.from_batches([batch])])
        self._paths = self._paths[self._at:] + batch.column("path").to_pylist()
        self._at = 0
        return True


class IndexWriter:
    """files.arrow, written as the build reads, in batches of at least `batch` rows (a build
    adds a task's files at a time, ~64; the next build's Lookup reads it a batch at a time)."""

    def __init__(self, path: Path, *, batch: int = 4096) -> None:
        self._writer = ipc.new_file(str(path), INDEX_SCHEMA)
        self._batch = batch
        self._pending: list[pa.Table] = []
        self._rows = 0

    def add_table(self, table: pa.Table) -> None:
        """Entries as a table of INDEX_SCHEMA rows (see `index_table`), after those added before."""
        self._pending.append(table)
        self._rows += table.num_rows
        if self._rows >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.concat_tables(self._pending).combine_chunks())
            self._pending, self._rows = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()


def index_table(entries: list[Entry]) -> pa.Table:
    """Entries as a table of INDEX_SCHEMA rows."""
    columns = zip(*map(_row, entries)) if entries else [[]] * len(INDEX_SCHEMA)
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, INDEX_SCHEMA)], schema=INDEX_SCHEMA)
