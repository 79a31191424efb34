"""Rows on disk between reading and writing, so no build holds its rows in memory.

Ids are hex digests, uniformly spread, so the id's first four hex digits cut the id space
into contiguous ranges ("partitions") of about equal size. Rows are appended to their
partition's Arrow IPC file as they arrive, in any order; afterwards each partition, small
enough to hold, is read, sorted and handed on, in id order. A radix partition instead of a
k-way merge: one pass, no heap, memory bounded by one partition.
"""
from __future__ import annotations

import math
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.ipc as ipc

from .output import check_target

_KEY_SPACE = 16**4
ROWS_PER_PARTITION = 4000  # ~10 MB of typical news rows: what the final pass holds at once


def partition_count(expected_rows: int) -> int:
    return max(1, min(_KEY_SPACE, math.ceil(expected_rows / ROWS_PER_PARTITION)))


class PartitionedSpill:
    """Append rows (dicts in `schema`, plus any columns of `extra`) to id-range partitions."""

    def __init__(self, folder: Path, schema: pa.Schema, expected_rows: int, *, buffer_rows: int = 2000):
        self.folder = folder
        self.schema = schema
        self.n = partition_count(expected_rows)
        self.buffer_rows = buffer_rows
        self._buffer: list[dict] = []
        self._writers: dict[int, ipc.RecordBatchFileWriter] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def partition_of(self, row_id: str) -> int:
        return int(row_id[:4], 16) * self.n // _KEY_SPACE

    def add(self, row: dict) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= self.buffer_rows:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        groups: dict[int, list[dict]] = {}
        for row in self._buffer:
            groups.setdefault(self.partition_of(row["id"]), []).append(row)
        for part, rows in groups.items():
            writer = self._writers.get(part)
            if writer is None:
                writer = self._writers[part] = ipc.new_file(self._path(part), self.schema)
            writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))
        self._buffer.clear()

    def close(self) -> None:
        self.flush()
        for writer in self._writers.values():
            writer.close()

    def partitions(self, *, columns: list[str] | None = None, keep: bool = False) -> Iterator[pa.Table]:
        """Each partition's rows (only `columns`, if given), partitions in id order; rows
        within one are not sorted. Unless `keep`, a partition's file is deleted once read."""
        self.close()
        for part in range(self.n):
            path = self._path(part)
            if not path.exists():
                continue
            # Memory-mapped: reading a few columns touches only their pages.
            with pa.memory_map(str(path)) as source:
                table = ipc.open_file(source).read_all()
                if columns is not None:
                    table = table.select(columns)
                table = table.combine_chunks()  # a copy: independent of the mapping
            if not keep:
                path.unlink()  # free the disk as we go
            yield table

    def _path(self, part: int) -> Path:
        return self.folder / f"part-{part:05d}.arrow"


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
