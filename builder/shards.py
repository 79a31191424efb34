"""The shard stage: the driver plans every shard's rows; tasks write the Parquet files.

A plan names each shard's file and its rows, as handles into the partitions (builder.parts),
in the shard's order (builder.layout: date, then id, cut at date windows), with the columns
set once every row was seen (dup_cluster, split_group, split_bucket). A shard task works out
the shard's key, a digest of what decides its bytes (each row's id, its file's sha256 and its
later-set columns; the code and settings that make rows from files; the writer's options).
If the previous output holds a shard of that key, the task copies it byte for byte (the
same bytes a write would give); else it reads its rows from the partitions and writes the
file (builder.write.ShardWriter), the key in its footer. It hands back the shard's figures for
the card (builder.card.tally), counted from the rows it wrote, or read back from the shard it
copied.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from splits import SplitSpec

from .duplicates import Duplicates
from . import layout
from .card.tally import STAT_COLUMNS, ShardFigures, read_figures
from .folder import SUBSET_ROW_GROUP_BYTES
from .parts import LATER, Partitions
from .reading import Facts
from .run import Executor
from .schema import ROW_SCHEMA
from .splitting import SplitPlan
from .subsets import subset_name
from .write import ROW_GROUP_BYTES, ShardWriter, shard_name

log = logging.getLogger(__name__)
KEY = "corpus_builder.shard_key"  # a shard's footer key: the digest of what decides its bytes
_READ = [f.name for f in ROW_SCHEMA if f.name not in LATER]  # the columns a shard task reads from the partitions
_SLICE = 4096  # rows a shard task reads and hands its writer at a time


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
    ids: list[str]
    files: list[str]                     # each row's file sha256 (its first 16 hex digits)
    salt: str                            # the code and settings that make rows from files
    previous: dict[str, str]             # shard key -> a shard of the previous output
    row_group_bytes: int = ROW_GROUP_BYTES


@dataclass
class Written:
    """A shard's figures, as its task hands them back."""

    path: str
    rows: int
    bytes: int
    copied: bool
    figures: ShardFigures  # the card's


def shard_key(task: ShardTask) -> str:
    """The digest of what decides a shard's bytes (see the module's docstring)."""
    h = hashlib.sha256(f"{task.salt}\n{task.row_group_bytes}\n".encode())
    for row in zip(task.ids, task.files, task.dup_cluster, task.split_group, task.split_bucket):
        h.update(("\t".join(map(str, row)) + "\n").encode())
    return h.hexdigest()


def previous_shards(data_dir: Path) -> dict[str, str]:
    """key -> path of each shard of a previous output's data folder that carries a key."""
    found = {}
    for path in sorted(data_dir.rglob("*.parquet")) if data_dir.is_dir() else ():
        try:
            key = (pq.read_metadata(path).metadata or {}).get(KEY.encode())
        except (OSError, pa.ArrowException):
            continue  # a damaged shard is never copied
        if key:
            found[key.decode()] = str(path)
    return found


def write_shard(task: ShardTask) -> Written:
    """One shard: copied from the previous output if it holds the same, else written from its
    rows in the partitions, in the planned order."""
    key = shard_key(task)
    data_dir = Path(task.data_dir)
    final = data_dir / task.name
    if key in task.previous:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(task.previous[key], final)
            return Written(str(final), len(task.ids), final.stat().st_size, True, read_figures(final, task.split))
        except OSError:
            pass  # gone since it was listed: written below
    scratch = data_dir / f".{task.name}.d"
    writer = ShardWriter(scratch, task.split, shard_bytes=2**62, row_group_bytes=task.row_group_bytes,
                         footer={KEY: key})
    figures = ShardFigures(str(final), task.split)
    with Partitions(task.folder, _READ) as parts:  # not the signatures: 512 bytes a row
        for start in range(0, len(task.ids), _SLICE):  # a slice of rows in memory at a time, not the shard
            rows = _rows(task, parts, slice(start, start + _SLICE))
            writer.write(rows)
            figures.add(rows.select(STAT_COLUMNS))
    (written,) = writer.close()
    written.rename(final)
    shutil.rmtree(scratch, ignore_errors=True)
    figures.file_bytes, figures.arrow_bytes = final.stat().st_size, writer.loaded[0]
    return Written(str(final), len(task.ids), figures.file_bytes, False, figures)


def _rows(task: ShardTask, parts: Partitions, at: slice) -> pa.Table:
    """The rows of a shard's slice `at`, read from the partitions, with their later-set columns."""
    table = parts.take(task.tasks[at], task.rows[at])
    later = {"dup_cluster": pa.array(task.dup_cluster[at], pa.string()),
             "split_group": pa.array(task.split_group[at], pa.string()),
             "split_bucket": pa.array(task.split_bucket[at], pa.int32())}
    return pa.Table.from_arrays([later[f.name] if f.name in later else table.column(f.name) for f in ROW_SCHEMA],
                                schema=ROW_SCHEMA)


def facts_read(subset_by: str | None) -> list[str]:
    """The facts columns the shard stage reads (the ids among them, which the audit after it reads)."""
    return ["id", "date", "nbytes", "file_digest", "task", "row"] + ([subset_by] if subset_by else [])


def write_shards(executor: Executor, facts: Facts, dups: Duplicates, plan: SplitPlan, spec: SplitSpec,
                 data_dir: Path, subset_by: str | None, *, salt: str,
                 previous: Path | None = None) -> tuple[dict | None, list[ShardFigures]]:
    """Every shard written (or copied from the `previous` output's data folder) by a task, from
    the plan: each split's rows (with `subset_by`, each (subset, split)'s, under
    data_dir/<subsets.subset_name(value)>/) in builder.layout's order and shards. Returns the
    subsets' rows per split (None without subsets) and every shard's figures for the card."""
    table = facts.table
    rows_of = dups.order[plan.kept]  # facts rows of the kept rows, in id order
    task, row, nbytes = (table.column(c).to_numpy() for c in ("task", "row", "nbytes"))
    dates = table.column("date").cast(pa.int64())
    dated = pc.is_valid(dates).to_numpy(zero_copy_only=False)
    dates = pc.fill_null(dates, 0).to_numpy()
    ids, files = table.column("id"), table.column("file_digest").to_numpy()
    clusters = dups.cluster_rows[plan.kept]  # facts rows of the kept members, by place among the kept rows

    def strings(column, at: np.ndarray) -> list[str]:  # a shard's strings, never every row's
        return column.take(pa.array(at)).to_pylist()
    known = previous_shards(previous) if previous is not None else {}
    subsets: dict | None = None if subset_by is None else {}

    def shards() -> Iterator[ShardTask]:
        """The shard tasks, made as the executor takes them: the strings of a few shards are held
        at a time, not every row's (at a million rows those lists were the driver's largest)."""
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
                ours = ours[layout.order(dates[rows_of[ours]], dated[rows_of[ours]])]
                r = rows_of[ours]
                pieces = layout.cut(dates[r], dated[r], nbytes[r])
                for i, s in enumerate(pieces):
                    rs, mine_s = r[s], ours[s]
                    yield ShardTask(str(facts.folder), str(folder), name, shard_name(name, i, len(pieces)),
                                    task[rs], row[rs], strings(ids, clusters[mine_s]), strings(plan.group, mine_s),
                                    plan.bucket[mine_s].tolist(), strings(ids, rs),
                                    [f"{d:016x}" for d in files[rs].tolist()], salt, known,
                                    SUBSET_ROW_GROUP_BYTES if subset_by else ROW_GROUP_BYTES)
    written = [w for _, w in executor.map(write_shard, enumerate(shards()))]
    copied = sum(w.copied for w in written)
    log.info("%d shards: %d copied from the previous output, %d written", len(written), copied, len(written) - copied)
    return subsets, [w.figures for w in written]
