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

from splits import SplitSpec

from .duplicates import Duplicates
from .folder import SUBSET_ROW_GROUP_BYTES
from .parts import SIGNATURE, take_rows
from .reading import Facts
from .run import Executor
from .schema import ROW_SCHEMA
from .splitting import SplitPlan
from .subsets import subset_name
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


def write_shards(executor: Executor, facts: Facts, dups: Duplicates, plan: SplitPlan, spec: SplitSpec,
                  data_dir: Path, subset_by: str | None) -> dict | None:
    """Every shard written by a task, from the plan: each split's rows in id order (with
    `subset_by`, each (subset, split)'s, under data_dir/<subsets.subset_name(value)>/).
    Returns the subsets' rows per split (None without subsets)."""
    table = facts.table
    rows_of = dups.order[plan.kept]  # facts rows of the kept rows, in id order
    task, row, nbytes = (table.column(c).to_numpy() for c in ("task", "row", "nbytes"))
    clusters = np.array([dups.clusters[i] for i in plan.kept.tolist()], dtype=object)
    groups, buckets = np.array(plan.group, dtype=object), np.array(plan.bucket, dtype=np.int64)
    subsets: dict | None = None if subset_by is None else {}
    shards = []
    for k, name in enumerate(spec.names):
        mine = np.flatnonzero(plan.code == k)
        units = [(data_dir, mine)]
        if subset_by is not None:
            values = table.column(subset_by).take(rows_of[mine]).to_pylist()
            units = []
            for value in sorted(set(values), key=lambda v: (v is not None, v or "")):
                ours = mine[np.array([v == value for v in values], dtype=bool)]
                units.append((data_dir / subset_name(value), ours))
                subsets.setdefault(value, {})[name] = len(ours)
        for folder, ours in units:
            if not len(ours):
                continue  # an empty split writes nothing: `datasets` cannot load a split without rows
            r = rows_of[ours]
            shards += plan_split(str(facts.folder), folder, name, task[r], row[r], nbytes[r], clusters[ours].tolist(),
                                 groups[ours].tolist(), buckets[ours].tolist(),
                                 row_group_bytes=SUBSET_ROW_GROUP_BYTES if subset_by else ROW_GROUP_BYTES)
    for _ in executor.map(write_shard, enumerate(shards)):
        pass
    return subsets
