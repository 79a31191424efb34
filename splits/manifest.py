"""The splits manifest published with a dataset, and `verify`, which recomputes it.

The manifest records the spec, the rows per split and the sha256 of each split's sorted
id list, so anyone holding the published rows can check that nothing moved.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from .assign import Assignment, assign
from .audit import audit
from .errors import SpecError
from .spec import SplitSpec

FORMAT = 1
FIRST_IDS = 10  # differing ids named per check


def id_list_sha256(ids: Sequence[str]) -> str:
    """sha256 (hex) of the ids sorted by code point and joined with newlines."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def build_manifest(
    columns: Mapping[str, Sequence],
    assignment: Assignment,
    spec: SplitSpec,
    *,
    text_hash_column: str = "content_sha256",
) -> dict:
    """The JSON-safe manifest of `assignment`, computed from `columns` with `spec`.

    "spec" is the spec as asked; "pinned_spec" is the same with the time boundaries that
    were used written in (equal to "spec" for `hash`): `verify` and anyone regenerating
    the split from the published rows use it, because the published rows lack the dropped
    ones a quantile cutoff was computed with.
    """
    if assignment.spec != spec:
        raise SpecError(
            f"the assignment was made with {assignment.spec!r}, not with {spec!r}; pass the spec it was made with"
        )
    by_split = assignment.ids_by_split(columns["id"])
    return {
        "format": FORMAT,
        "spec": spec.to_dict(),
        "pinned_spec": assignment.pinned_spec().to_dict(),
        "counts": {name: len(ids) for name, ids in by_split.items()},
        "id_sha256": {name: id_list_sha256(ids) for name, ids in by_split.items()},
        "dropped": assignment.dropped(),
        "audit": audit(columns, assignment, text_hash_column=text_hash_column),
    }


def manifest_spec(manifest: Mapping) -> SplitSpec:
    """The spec a manifest's split is reproduced with: its pinned spec (older: its spec)."""
    d = manifest.get("pinned_spec") or manifest.get("spec")
    if not isinstance(d, dict):
        raise SpecError("the manifest has no 'spec'; it was not written by splits.build_manifest")
    return SplitSpec.from_dict(d)


def verify(manifest: Mapping, columns: Mapping[str, Sequence]) -> list[str]:
    """Differences between `manifest` and the assignment recomputed over `columns`; empty when nothing moved.

    Rows are checked one by one wherever `columns` says where they were published: a
    "split" column (the split each row was published in), "split_group" and "split_bucket";
    those checks name the first differing ids. Then each split's count and id-list sha256
    are compared with the manifest's.
    """
    if manifest.get("format") != FORMAT:
        return [f"manifest format {manifest.get('format')!r} is not supported; this version reads format {FORMAT}"]
    spec = manifest_spec(manifest)
    result = assign(columns, spec)
    ids = columns["id"]
    problems = []
    for column, recomputed, what in (
        ("split", result.split, "split"),
        ("split_group", result.group, "group key"),
        ("split_bucket", result.bucket, "bucket"),
    ):
        if column in columns:
            moved = sorted(
                (row_id, old, new) for row_id, old, new in zip(ids, columns[column], recomputed) if old != new
            )
            if moved:
                first = ", ".join(
                    f"{row_id} (published {old!r}, recomputed {new!r})" for row_id, old, new in moved[:FIRST_IDS]
                )
                problems.append(f"{len(moved):,} row(s) have a different {what} than published; first ids: {first}")
    by_split = result.ids_by_split(ids)
    counts, hashes = manifest.get("counts", {}), manifest.get("id_sha256", {})
    for name in spec.names:
        expected = counts.get(name)
        if expected != len(by_split[name]):
            problems.append(f"split {name!r}: {len(by_split[name]):,} rows recomputed, {expected!r} in the manifest")
        if hashes.get(name) != id_list_sha256(by_split[name]):
            problems.append(f"split {name!r}: the sha256 of its sorted id list differs from the manifest")
    return problems
