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

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from .output import check_target
from .schema import ROW_SCHEMA, SET_LATER

SIGNATURE = "_signature"
LATER = SET_LATER  # set by the driver from what every row told it (dedup, the split): not in a partition
# The small columns a read task hands back for each row it wrote, beside the split's own
# (a group, stratify, time or subset column): what dedup, the split and the shard plan need.
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
    order = np.lexsort((rows, tasks))
    pieces = []
    cuts = np.flatnonzero(np.diff(tasks[order])) + 1
    for run in np.split(order, cuts):
        table = read_part(part_path(folder, int(tasks[run[0]])), columns)
        pieces.append(table.take(pa.array(rows[run])))
    joined = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
    back = np.empty(len(order), dtype=np.int64)
    back[order] = np.arange(len(order))
    return joined.take(pa.array(back))


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
