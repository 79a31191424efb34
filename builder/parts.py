"""Partitions: the rows a read task writes for the later tasks, and the handles that find them.

A read task writes its rows (in path order) to one Arrow IPC file in the build's work folder,
`t{task:06d}.arrow`, and hands back only the small columns the driver plans with (`FACTS`).
A row is then found by its handle, (task, row): the shard writers read their rows from the
partitions directly, memory-mapped, and the driver never holds a text. The cache keeps a
build's partitions as they are, so the next build's read tasks take unchanged rows from them.

A partition holds the row columns a file gives (ROW_SCHEMA less those set once every row has
been seen: dup_cluster, split_group, split_bucket) and its MinHash signature.
"""
from __future__ import annotations

import mmap
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from .output import check_target
from .schema import ROW_SCHEMA, SET_LATER

SIGNATURE = "_signature"
LATER = SET_LATER  # set by the driver from what every row told it (dedup, the split): not in a partition
# The small columns a read task hands back for each row it wrote, beside the split's own
# (a group, stratify, time or subset column): what dedup, the split and the shard plan need.
# content_sha256 comes as its 32 bytes (fixed_size_binary), not 64 hex digits: a million rows'
# facts are held by the driver, and the hex string was half of them.
FACTS = ("id", "content_sha256", "date", "n_chars", "warnings", "nbytes")


def part_schema(num_perm: int) -> pa.Schema:
    """A partition's columns, for signatures of `num_perm` values."""
    fields = [f for f in ROW_SCHEMA if f.name not in LATER]
    return pa.schema(fields).append(pa.field(SIGNATURE, pa.list_(pa.uint32(), num_perm), False))


def part_path(folder: str | Path, task: int) -> Path:
    return Path(folder) / f"t{task:06d}.arrow"


def write_part(path: Path, table: pa.Table) -> None:
    """A partition as one record batch (a reader maps it and takes rows without copying it)."""
    tmp = path.with_suffix(".partial")
    with ipc.new_file(str(tmp), table.schema) as writer:
        writer.write_table(table.combine_chunks())
    tmp.rename(path)


def read_part(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """A partition's rows, memory-mapped (only `columns`, if given): nothing is read until used."""
    with pa.memory_map(str(path)) as source:
        table = ipc.open_file(source).read_all()
    return table if columns is None else table.select(columns)


def take_rows(folder: str | Path, tasks: np.ndarray, rows: np.ndarray, columns: list[str] | None = None) -> pa.Table:
    """The rows at handles (tasks[i], rows[i]), in that order, from the partitions in `folder`
    (one handle at least: the schema comes from a partition)."""
    with Partitions(folder, columns) as parts:
        return parts.take(tasks, rows)


class Partitions:
    """The partitions of a folder as one task reads them, a slice of handles after another:
    each partition mapped and opened once (a shard task's slices each touch most partitions,
    and reopening them for every slice took ~0.5 ms a time, 5,600 times at 100,000 files), and
    its mapped pages handed back as soon as its rows are taken, so the task's RSS holds the rows
    it took, not the partitions it read from. (Taking a few rows maps in most of a partition's
    text: the kernel maps the cached pages around each one read. Handed back once per slice
    instead, a slice held ~500 MB of a million-file build's partitions.)"""

    def __init__(self, folder: str | Path, columns: list[str] | None = None) -> None:
        self.folder, self.columns = folder, columns
        self._maps: dict[int, mmap.mmap] = {}
        self._tables: dict[int, pa.Table] = {}

    def _table(self, task: int) -> pa.Table:
        table = self._tables.get(task)
        if table is None:
            with open(part_path(self.folder, task), "rb") as fh:
                self._maps[task] = mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            table = ipc.open_file(pa.BufferReader(pa.py_buffer(mapped))).read_all()
            self._tables[task] = table = table if self.columns is None else table.select(self.columns)
        return table

    def take(self, tasks: np.ndarray, rows: np.ndarray) -> pa.Table:
        """The rows at handles (tasks[i], rows[i]), in that order (one handle at least)."""
        pieces, at = zip(*self.runs(tasks, rows, views=False))
        joined = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
        back = np.empty(len(tasks), dtype=np.int64)
        back[np.concatenate(at)] = np.arange(len(tasks))
        return joined.take(pa.array(back))

    def runs(self, tasks: np.ndarray, rows: np.ndarray, *, views: bool = True) -> list[tuple[pa.Table, np.ndarray]]:
        """The rows at handles (tasks[i], rows[i]) a partition at a time, each partition's in row
        order: (its rows, the i of each). With `views`, a run of consecutive rows comes as a
        slice of the mapped partition, not a copy (the caller copies it before closing)."""
        order = np.lexsort((rows, tasks))
        out = []
        cuts = np.flatnonzero(np.diff(tasks[order])) + 1
        for run in np.split(order, cuts):
            task, mine = int(tasks[run[0]]), rows[run]
            table = self._table(task)
            if mine[-1] >= table.num_rows:
                raise IndexError(f"row {int(mine[-1])} of a partition of {table.num_rows} rows")
            if views and mine[-1] - mine[0] + 1 == len(mine):
                out.append((table.slice(int(mine[0]), len(mine)), run))
            else:
                out.append((table.take(pa.array(mine)), run))
                self._let_go(task)
        return out

    def _let_go(self, task: int) -> None:
        """Hand back a partition's mapped pages (read again from the page cache when needed;
        what `take` returned is a copy, and stays)."""
        if hasattr(mmap, "MADV_DONTNEED"):
            self._maps[task].madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        self._tables.clear()
        for mapped in self._maps.values():
            try:
                mapped.close()
            except BufferError:  # a caller still holds a zero-copy view: the mapping goes with it
                pass
        self._maps.clear()

    def __enter__(self) -> "Partitions":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_NIBBLE = np.full(256, 255, np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_NIBBLE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def hex_bytes(strings: pa.Array | pa.ChunkedArray, width: int) -> np.ndarray:
    """The bytes the first 2 * `width` hex digits of each string spell, as an (n, width) uint8
    array (ValueError if a string is shorter or not hex)."""
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    strings = pc.utf8_slice_codeunits(strings, 0, 2 * width)
    if strings.null_count:
        raise ValueError("hex_bytes: a null where hex digits were expected")
    offsets = np.frombuffer(strings.buffers()[1], np.int32)[strings.offset:strings.offset + len(strings) + 1]
    if len(strings) and not np.all(np.diff(offsets) == 2 * width):
        raise ValueError(f"hex_bytes: a string shorter than {2 * width} hex digits")
    data = np.frombuffer(strings.buffers()[2], np.uint8) if len(strings) else np.empty(0, np.uint8)
    nibbles = _NIBBLE[data[offsets[0]:offsets[-1]]].reshape(-1, 2 * width)
    if (nibbles == 255).any():
        raise ValueError("hex_bytes: a character that is no hex digit")
    return (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]


def binary_column(rows: np.ndarray) -> pa.Array:
    """An (n, width) uint8 array as a fixed_size_binary(width) column."""
    n, width = rows.shape
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n,
                                                [None, pa.py_buffer(np.ascontiguousarray(rows).tobytes())])


def hex_strings(column: pa.Array | pa.ChunkedArray) -> list[str]:
    """A fixed_size_binary column's values as hex strings (what the row's column holds)."""
    return [value.hex() for value in column.to_pylist()]


def digests64(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The first 8 bytes of each value of a fixed_size_binary column, big-endian, as uint64: the
    order of these is the order of the hex strings' first 16 digits."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    width = column.type.byte_width
    if not len(column):
        return np.empty(0, np.uint64)
    raw = np.frombuffer(column.buffers()[1], np.uint8)[column.offset * width:(column.offset + len(column)) * width]
    return big_endian64(raw.reshape(-1, width)[:, :8])


def big_endian64(rows: np.ndarray) -> np.ndarray:
    """An (n, 8) uint8 array's rows read as big-endian 64-bit numbers (uint64)."""
    return np.ascontiguousarray(rows).view(">u8").ravel().astype(np.uint64)


def signature_column(sigs: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(sigs, dtype=np.uint32).ravel()),
                                             sigs.shape[1])


def signatures_of(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return column.flatten().to_numpy().reshape(-1, column.type.list_size)


@contextmanager
def work_folder(output: Path) -> Iterator[Path]:
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
