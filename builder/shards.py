"""The shard stage: the driver plans every shard's rows; tasks write the Parquet files.

A plan names each shard's file and its rows, as handles into the partitions (builder.parts),
in the shard's order, with the columns set once every row was seen (dup_cluster,
split_group, split_bucket). A shard task reads its rows from the partitions, writes its file
(builder.write.ShardWriter: the same row groups, options and footer as any shard) and hands
back its figures. Rows of a split are in id order; a split's rows are cut into shards of at
most SHARD_BYTES (the rows' sizes as the read tasks measured them).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .parts import SIGNATURE, take_rows
from .schema import ROW_SCHEMA
from .write import ROW_GROUP_BYTES, SHARD_BYTES, ShardWriter, shard_name


@dataclass
class ShardTask:
    """One shard to write: `name` under `data_dir`, its rows by handle (partition `tasks[i]`,
    row `rows[i]` in `folder`) in order, and their later-set columns."""

    folder: str
    data_dir: str
    split: str
    name: str
    tasks: np.ndarray
    rows: np.ndarray
    dup_cluster: list[str]
    split_group: list[str]
    split_bucket: list[int]
    row_group_bytes: int = ROW_GROUP_BYTES


@dataclass
class Written:
    """A shard's figures, as its task hands them back."""

    path: str
    rows: int
    bytes: int


def cut(nbytes: np.ndarray, limit: int = SHARD_BYTES) -> list[slice]:
    """A run of rows (their sizes, in order) cut into shards of at most `limit` bytes (a row
    larger than that alone), in order; none for no rows."""
    out, start, size = [], 0, 0
    for k, n in enumerate(nbytes.tolist()):
        if k > start and size + n > limit:
            out.append(slice(start, k))
            start, size = k, 0
        size += n
    if start < len(nbytes):
        out.append(slice(start, len(nbytes)))
    return out


def plan_split(folder: str, data_dir: Path, split: str, tasks: np.ndarray, rows: np.ndarray, nbytes: np.ndarray,
               clusters: list[str], groups: list[str], buckets: list[int], *,
               row_group_bytes: int = ROW_GROUP_BYTES) -> list[ShardTask]:
    """One split's shards (its rows given in order, by handle), named as the Hub expects."""
    pieces = cut(nbytes)
    return [ShardTask(folder, str(data_dir), split, shard_name(split, i, len(pieces)), tasks[s], rows[s],
                      clusters[s], groups[s], buckets[s], row_group_bytes) for i, s in enumerate(pieces)]


def write_shard(task: ShardTask) -> Written:
    """Write one shard: its rows from the partitions, in the planned order."""
    table = take_rows(task.folder, task.tasks, task.rows).drop_columns([SIGNATURE])
    later = {"dup_cluster": pa.array(task.dup_cluster, pa.string()),
             "split_group": pa.array(task.split_group, pa.string()),
             "split_bucket": pa.array(task.split_bucket, pa.int32())}
    table = pa.Table.from_arrays([later[f.name] if f.name in later else table.column(f.name) for f in ROW_SCHEMA],
                                 schema=ROW_SCHEMA)
    data_dir = Path(task.data_dir)
    scratch = data_dir / f".{task.name}.d"
    writer = ShardWriter(scratch, task.split, shard_bytes=2**62, row_group_bytes=task.row_group_bytes)
    for batch in table.to_batches(max_chunksize=4096):
        writer.write(pa.Table.from_batches([batch]))
    (written,) = writer.close()
    final = data_dir / task.name
    written.rename(final)
    shutil.rmtree(scratch, ignore_errors=True)
    return Written(str(final), table.num_rows, final.stat().st_size)
