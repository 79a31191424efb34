"""The split of a build: each kept row's split, group and bucket, from the rows' facts.

Pure over columns: the rows dedup kept, in id order, with the columns the split spec reads
(its group, which by default is the duplicate cluster, stratify and time columns). The hash
strategy places each row by its own group key, so rows are fed to `splits.StreamingSplit` a
batch at a time (its manifest equals build_manifest's); the time strategy needs every
group's dates first and assigns them all at once.

What moves rows between splits (the spec's salt, ratios, group or the bucket hash) is a
major version of a published dataset: see splits/hashing.py.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from splits import SplitSpec, StreamingSplit, assign, build_manifest, copy_leaks

from .duplicates import Duplicates
from .parts import hex_strings
from .reading import Facts
from .schema import ROW_SCHEMA

log = logging.getLogger(__name__)
_BATCH = 50_000  # rows fed to the streaming split at a time


@dataclass
class SplitPlan:
    """Where the kept rows go, by their place among the kept rows (`kept`: their positions in
    the id-ordered sequence): the split's index in spec.names (-1: dropped by the split, e.g.
    a time embargo), the group key and its bucket; and the manifest."""

    kept: np.ndarray
    code: np.ndarray
    group: pa.ChunkedArray
    bucket: np.ndarray
    manifest: dict


def split_columns(spec: SplitSpec) -> list[str]:
    """The columns the split and its manifest read (the dates only for the time strategy)."""
    time = spec.time_column if spec.strategy == "time" else None
    return sorted({"id", "content_sha256", spec.group, spec.stratify, time} - {None} & set(ROW_SCHEMA.names))


def plan_splits(facts: Facts, dups: Duplicates, spec: SplitSpec) -> SplitPlan:
    kept = np.flatnonzero(dups.verdicts.keep)
    rows, clusters = dups.order[kept], dups.cluster_rows[kept]

    def columns(part: slice) -> dict[str, list]:
        """The columns the split reads, as lists (the row's values), for the kept rows in `part`."""
        out = {}
        for name in split_columns(spec):
            values = facts.table.column("id" if name == "dup_cluster" else name).take(
                pa.array((clusters if name == "dup_cluster" else rows)[part]))
            out[name] = hex_strings(values) if pa.types.is_fixed_size_binary(values.type) else values.to_pylist()
        return out

    if spec.strategy == "hash":  # a batch of Python strings at a time, never one for every row
        stream = StreamingSplit(spec)
        codes, groups, buckets = [], [], []
        for start in range(0, len(kept), _BATCH):
            placed = stream.add(columns(slice(start, start + _BATCH)))
            # Each batch's splits and buckets as arrays: a Python int a row cost 36 MB at a million rows.
            codes.append(_codes(placed.split, spec.names))
            groups.append(pa.array(placed.group, pa.string()))
            buckets.append(np.asarray(placed.bucket, dtype=np.int32))
        code = np.concatenate(codes) if codes else np.empty(0, np.int16)
        bucket = np.concatenate(buckets) if buckets else np.empty(0, np.int32)
        # One chunk: Arrow's take on a column of many chunks joins them all first (a copy of
        # every row's group for each shard the plan is taken from).
        group = pa.chunked_array([pa.concat_arrays(groups)] if groups else [], pa.string())
        manifest = stream.manifest()
    else:  # every group's dates first: all at once
        whole = columns(slice(None))
        assignment = assign(whole, spec)
        code, group = _codes(assignment.split, spec.names), pa.chunked_array([pa.array(assignment.group, pa.string())])
        bucket = np.asarray(assignment.bucket, dtype=np.int32)
        manifest = build_manifest(whole, assignment, spec)
    return SplitPlan(kept, code, group, bucket, manifest)


def _codes(split: list[str | None], names: tuple[str, ...]) -> np.ndarray:
    """Each row's split as its index in `names` (-1: dropped by the split)."""
    code_of = {name: k for k, name in enumerate(names)}
    return np.fromiter((code_of.get(s, -1) for s in split), np.int16, len(split))


def _set_split_columns(table: pa.Table, groups: list, buckets: list, clusters: list | None = None) -> pa.Table:
    # The schema's own fields (not null): the shard writer joins tables made here and elsewhere.
    names = [("split_group", groups, pa.string()), ("split_bucket", buckets, pa.int32())]
    if clusters is not None:
        names.append(("dup_cluster", clusters, pa.string()))
    for name, values, typ in names:
        where = table.schema.get_field_index(name)
        table = table.set_column(where, table.schema.field(where), pa.array(values, typ))
    return table


def assign_splits(table: pa.Table, spec: SplitSpec) -> tuple[pa.Table, dict]:
    """Assign every row a split by `spec` (pure: the rows' own columns decide); returns the
    table with split_group, split_bucket and a `_split` column, and the manifest."""
    if "_split" in table.column_names:
        table = table.drop_columns(["_split"])
    names = {"id", "content_sha256", spec.group, spec.stratify, spec.time_column} - {None}
    columns = {name: table.column(name).to_pylist() for name in names if name in table.column_names}
    assignment = assign(columns, spec)
    manifest = build_manifest(columns, assignment, spec)
    table = _set_split_columns(table, assignment.group, assignment.bucket)
    table = table.append_column("_split", pa.array(assignment.split, pa.string()))
    return table, manifest


def audit_copies(plan: SplitPlan, dups: Duplicates, facts: Facts, names: list[str]) -> None:
    """Add the rows of later splits with a near or contained copy in the first split to the
    audit (splits.copy_leaks): from the detector's verified pairs, not from its clusters, so a
    split that keeps a story's copies apart shows here whatever the clusters say."""
    placed = np.full(len(dups.order), -1, dtype=np.int64)
    placed[plan.kept] = plan.code
    ids = facts.table.column("id")

    def split(position: int) -> str | None:
        return names[placed[position]] if placed[position] >= 0 else None

    def id_of(position: int) -> str:
        return ids[int(dups.order[position])].as_py()

    leaks = copy_leaks([(id_of(a), split(a), id_of(b), split(b)) for a, b in dups.copies.tolist()], names[0])
    audit = plan.manifest["audit"]
    audit.update(leaks)
    audit["ok"] = audit["ok"] and not leaks["copies_across_splits"]
