"""Rows -> Parquet shards named as the Hub expects: data/{split}-{i:05d}-of-{n:05d}.parquet.

Rows are written ordered by id with ROW_SCHEMA and the `datasets` Features in the file
metadata, zstd-compressed, row groups under 100 MB and shards under 500 MB uncompressed, so
the same rows always give the same files, and `load_dataset` gives timestamps and lists.
"""
from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .schema import ROW_SCHEMA, schema_with_features

ROW_GROUP_BYTES = 100 * 2**20
SHARD_BYTES = 500 * 2**20


def rows_to_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def write_split(table: pa.Table, data_dir: Path, split: str, *, shard_bytes: int = SHARD_BYTES,
                row_group_bytes: int = ROW_GROUP_BYTES) -> list[Path]:
    """Write one split's rows (any order) as shards sorted by id; return the files written.
    An empty split writes nothing: `datasets` cannot load a split without rows."""
    if table.num_rows == 0:
        return []
    table = table.sort_by("id").cast(schema_with_features())
    n_shards = max(1, math.ceil(table.nbytes / shard_bytes))
    bounds = _balanced_bounds(table, n_shards)
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (start, stop) in enumerate(bounds):
        part = table.slice(start, stop - start)
        per_row = part.nbytes / max(1, part.num_rows)
        path = data_dir / shard_name(split, i, n_shards)
        pq.write_table(part, path, compression="zstd",
                       row_group_size=max(1, min(part.num_rows, int(row_group_bytes / max(per_row, 1)))),
                       write_statistics=True, store_schema=True)
        paths.append(path)
    return paths


def _balanced_bounds(table: pa.Table, n: int) -> list[tuple[int, int]]:
    """Cut the rows into n consecutive slices of about equal bytes (by text length, which
    dominates a row's size)."""
    if n == 1:
        return [(0, table.num_rows)]
    sizes = pc.utf8_length(table.column("text")).to_pylist()
    target = sum(sizes) / n
    bounds, start, acc = [], 0, 0
    for i, size in enumerate(sizes):
        acc += size
        if acc >= target * (len(bounds) + 1) and len(bounds) < n - 1:
            bounds.append((start, i + 1))
            start = i + 1
    bounds.append((start, table.num_rows))
    while len(bounds) < n:  # fewer cut points than shards (very uneven rows): keep the names honest
        bounds.append((table.num_rows, table.num_rows))
    return bounds
