"""Rows on disk between reading and writing, so no build holds its rows in memory.

Ids are hex digests, uniformly spread, so the id's first four hex digits cut the id space
into contiguous ranges ("partitions") of about equal size. Rows are appended to their
partition's Arrow IPC file as they arrive, in any order; afterwards each partition, small
enough to hold, is read, sorted and handed on, in id order. A radix partition instead of a
k-way merge: one pass, no heap, memory bounded by one partition.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from .output import check_target
from .schema import ROW_SCHEMA

_KEY_SPACE = 16**4
# Each byte's value as a hex digit (-1: not one), for reading ids' first digits as numbers.
_HEX_VALUE = np.full(256, -1, dtype=np.int64)
for _k, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _HEX_VALUE[ord(chr(_c).upper())] = _k
ROWS_PER_PARTITION = 4000  # ~10 MB of typical news rows: what the final pass holds at once


_SPARE_FILES = 64  # descriptors left for everything else a build opens (workers, cache, shards)


def partition_count(expected_rows: int, max_open: int | None = None) -> int:
    """Partitions of about ROWS_PER_PARTITION rows, at most `max_open` (each is an open file
    while rows are read): past that, partitions grow instead of the build failing with
    'Too many open files' (1,024 descriptors is a common limit: four million files)."""
    n = max(1, min(_KEY_SPACE, math.ceil(expected_rows / ROWS_PER_PARTITION)))
    return n if max_open is None else max(1, min(n, max_open))


def open_file_budget(wanted: int) -> int:
    """How many files the spill may hold open: the soft descriptor limit, raised toward the
    hard one when `wanted` (plus spares) needs it, less the spares."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = wanted + _SPARE_FILES
        if soft != resource.RLIM_INFINITY and soft < need:
            target = need if hard == resource.RLIM_INFINITY else min(need, hard)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
            except (ValueError, OSError):
                pass
        return wanted if soft == resource.RLIM_INFINITY else max(1, soft - _SPARE_FILES)
    except ImportError:  # no resource module (Windows): its limit is far above our need
        return wanted


class PartitionedSpill:
    """Append rows (Arrow tables in `schema`) to id-range partitions."""

    def __init__(self, folder: Path, schema: pa.Schema, expected_rows: int, *, buffer_rows: int = 4000,
                 buffer_bytes: int = 8 * 2**20, max_open: int | None = None, n_partitions: int | None = None):
        self.folder = folder
        self.schema = schema
        # n_partitions: the count of an earlier spill whose files this one reads as its base.
        wanted = partition_count(expected_rows) if n_partitions is None else n_partitions
        self.n = max(1, min(wanted, open_file_budget(wanted) if max_open is None else max_open))
        self._base: tuple | None = None
        self.base_rows = 0  # rows the last pass over the partitions took from the base
        self.base_expected = 0  # rows the base should give: a pass that finds fewer lost some
        self.buffer_rows, self.buffer_bytes = buffer_rows, buffer_bytes
        self._buffer: list[pa.Table] = []
        self._buffered = self._buffered_bytes = 0
        self._writers: dict[int, ipc.RecordBatchFileWriter] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def partition_of(self, row_id: str) -> int:
        return int(row_id[:4], 16) * self.n // _KEY_SPACE

    def add(self, table: pa.Table) -> None:
        """Rows to spill; they are buffered and written in batches of about `buffer_rows` or
        `buffer_bytes`, whichever comes first (a flush holds the batch three times over:
        the tables, their concatenation, the copy sorted by partition)."""
        if table.num_rows:
            self._buffer.append(table)
            self._buffered += table.num_rows
            self._buffered_bytes += table.nbytes
        if self._buffered >= self.buffer_rows or self._buffered_bytes >= self.buffer_bytes:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        # Not joined first: `take` reads across the chunks, and the join was one more copy.
        table = pa.concat_tables(self._buffer)
        self._buffer.clear()
        self._buffered = self._buffered_bytes = 0
        part = self.partitions_of(table.column("id"))
        order = np.argsort(part, kind="stable")
        table, part = table.take(pa.array(order)), part[order]
        cuts = (np.flatnonzero(np.diff(part)) + 1).tolist()
        for start, end in zip([0, *cuts], [*cuts, len(part)]):  # one run of rows per partition
            key = int(part[start])
            if key not in self._writers:
                self._writers[key] = ipc.new_file(self._path(key), self.schema)
            self._writers[key].write_table(table.slice(start, end - start))

    def partitions_of(self, ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """`partition_of` for every id, read from the column's bytes (no Python string per row)."""
        ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        n = len(ids)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * ids.offset)
        if not ids.null_count and np.all(np.diff(offsets) >= 4):
            digits = _HEX_VALUE[np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[:-1, None] + np.arange(4)]]
            if np.all(digits >= 0):
                return digits @ np.array([4096, 256, 16, 1], dtype=np.int64) * self.n // _KEY_SPACE
        # Short, missing or not hex: as partition_of reads (or refuses) each.
        return np.fromiter((self.partition_of(i) for i in ids.to_pylist()), np.int64, n)

    def close(self) -> None:
        self.flush()
        for writer in self._writers.values():
            writer.close()

    def use_base(self, layers: list[tuple], seq_column: str) -> None:
        """Rows of earlier spills of the same partitioning (the cached build's layers), taken
        into each partition as it is read. Each layer is (part_path, remap): `part_path(k)` is
        its partition k's file, and a row of it with `seq_column` = s is kept, renumbered to
        remap[s], if remap[s] >= 0."""
        self._base = ([(part_path, remap) for part_path, remap in layers], seq_column)
        self.base_expected = sum(int(np.count_nonzero(remap >= 0)) for _, remap in layers)

    def partitions(self, *, columns: list[str] | None = None, keep: bool = False,
                   save_to: Path | None = None, save_base: bool = True) -> Iterator[pa.Table]:
        """Each partition's rows (only `columns`, if given), partitions in id order; rows
        within one are not sorted. Unless `keep`, a partition's file is deleted once read, or
        with `save_to` (all columns) kept there as part-NNNNN.arrow: moved when it holds the
        partition's rows alone (or `save_base` is false: the base's rows not saved), else
        written with the base's rows."""
        self.close()
        self.base_rows = 0
        for part in range(self.n):
            path = self._path(part)
            base = self._read_base(part, columns)
            own, joined = _read_joined(path, columns)
            tables = [t for t in (*base, own) if t is not None]
            if not tables:
                continue
            table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
            if save_to is not None:
                saved = save_to / path.name
                if own is not None and (not base or not save_base):
                    if joined:  # written as the one batch it was joined into: every later read is free
                        with ipc.new_file(str(saved), self.schema) as writer:
                            writer.write_table(own)
                    else:
                        os.replace(path, saved)
                elif save_base:  # one batch: the next build reads it whole
                    with ipc.new_file(str(saved), self.schema) as writer:
                        writer.write_table(table.combine_chunks())
            if not keep:
                path.unlink(missing_ok=True)  # free the disk as we go
            yield table

    def _read_base(self, part: int, columns: list[str] | None) -> list[pa.Table]:
        if self._base is None:
            return []
        layers, seq = self._base
        tables = [read_renumbered(part_path(part), remap, seq, columns) for part_path, remap in layers]
        tables = [t for t in tables if t is not None and t.num_rows]
        self.base_rows += sum(t.num_rows for t in tables)
        return tables

    def _path(self, part: int) -> Path:
        return self.folder / f"part-{part:05d}.arrow"


def read_renumbered(path: Path, remap: np.ndarray, seq: str, columns: list[str] | None = None) -> pa.Table | None:
    """The rows of a partition file whose `seq` column s has remap[s] >= 0, renumbered to
    remap[s] (only `columns`, if given); None if there is no such file. The rows are slices
    of the file's mapping where they can be (see `rows_where`)."""
    wanted = None if columns is None else list(dict.fromkeys([*columns, seq]))
    table = _read(path, wanted)
    if table is None:
        return None
    new = remap[table.column(seq).to_numpy()]
    mask = new >= 0
    at = table.schema.get_field_index(seq)
    table = rows_where(table, mask).set_column(at, table.schema.field(at), pa.array(new[mask], pa.int64()))
    return table if columns is None or seq in columns else table.drop_columns([seq])


# A partition file of more batches than this is joined into one as it is read.
_MAX_CHUNKS = 64
# Kept rows in runs shorter than this on average: a copy of them costs less than the slices.
_MIN_ROWS_PER_RUN = 64


def rows_where(table: pa.Table, mask: np.ndarray) -> pa.Table:
    """The rows of `table` where `mask` is true, in order. Without a copy when they fall in
    few runs (a rebuild keeps nearly every cached row): each run a zero-copy slice, the
    result a chunked table, which `take` reads as fast as one chunk; else a filtered copy."""
    if mask.all():
        return table
    edges = np.flatnonzero(np.diff(mask.astype(np.int8), prepend=0, append=0))
    starts, ends = edges[0::2].tolist(), edges[1::2].tolist()
    if not starts:
        return table.slice(0, 0)
    if len(starts) * _MIN_ROWS_PER_RUN > len(mask):
        return table.filter(pa.array(mask))
    return pa.concat_tables([table.slice(a, b - a) for a, b in zip(starts, ends)])


def _read(path: Path, columns: list[str] | None) -> pa.Table | None:
    """A partition file's rows (only `columns`, if given), or None if there is no such file.
    Memory-mapped and not copied: reading a few columns touches only their pages, and the
    mapping lives as long as the table (an unlinked file's too). Chunked as written (unless
    the batches are many, see `_read_joined`): the callers sort and `take`, which copy once,
    and a copy here faulted in fresh pages first."""
    return _read_joined(path, columns)[0]


def _read_joined(path: Path, columns: list[str] | None) -> tuple[pa.Table | None, bool]:
    """`_read`, and whether the rows were joined into one chunk (a copy) as they were read."""
    if not path.exists():
        return None, False
    with pa.memory_map(str(path)) as source:
        reader = ipc.open_file(source)
        table = reader.read_all()
    table = table if columns is None else table.select(columns)
    # A file of many small batches (a large build's spill writes a few rows per partition at a
    # time) is joined: every later step pays per chunk, and at 470 chunks a partition's sort and
    # take took 2.5 times as long as the copy and one chunk.
    if reader.num_record_batches > _MAX_CHUNKS:
        return table.combine_chunks(), True
    return table, False


@contextmanager
def spill_folder(output: Path) -> Iterator[Path]:
    """A scratch folder beside the output (same disk as the result, not a small /tmp),
    removed afterwards; scratch folders that a killed build left behind are removed first."""
    target = check_target(output)
    for stale in target.parent.glob(f".{target.name}.spill-*"):
        shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.spill-", dir=target.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


SEQ, SIGNATURE = "_seq", "_signature"  # spill-only columns: place in path order, MinHash signature


def spill_schema(settings) -> pa.Schema:
    """ROW_SCHEMA and the spill-only columns, for signatures of `settings.dedup.num_perm` values."""
    return ROW_SCHEMA.append(pa.field(SEQ, pa.int64(), False)).append(
        pa.field(SIGNATURE, pa.list_(pa.uint32(), settings.dedup.num_perm), False))


def signature_column(sigs: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(sigs, dtype=np.uint32).ravel()),
                                             sigs.shape[1])


def signatures_of(part: pa.Table) -> np.ndarray:
    column = part.column(SIGNATURE).combine_chunks()
    width = column.type.list_size
    return column.flatten().to_numpy().reshape(-1, width)
