"""Regenerate splits from a published dataset alone: put its splits back together and re-assign.

`datasets` is imported inside the function, so `splits` imports without it.
"""
from __future__ import annotations

from .assign import assign
from .errors import SpecError
from .spec import SplitSpec


def regenerate(dataset_dict, spec: SplitSpec):
    """A `datasets.DatasetDict` with one entry per split of `spec`, rows in their input order.

    All splits of `dataset_dict` (a DatasetDict, or a single Dataset) are concatenated in
    its order and assigned with `assign`; rows the time rules drop are in no split. The
    `split_group` and `split_bucket` columns, when present, are rewritten for `spec`.
    To reproduce a published split exactly, pass the manifest's pinned spec
    (`splits.manifest_spec(manifest)`).
    """
    from datasets import Dataset, DatasetDict, concatenate_datasets  # heavy import: only where needed

    parts = [dataset_dict] if isinstance(dataset_dict, Dataset) else list(dataset_dict.values())
    if not parts:
        raise SpecError("the DatasetDict has no splits to regenerate from")
    full = concatenate_datasets(parts)
    needed = ["id", spec.group, spec.stratify, spec.time_column if spec.strategy == "time" else None]
    needed = [name for name in dict.fromkeys(needed) if name is not None]
    missing = [name for name in needed if name not in full.column_names]
    if missing:
        raise SpecError(f"column(s) {missing} named by the split spec are missing; the dataset has {full.column_names}")
    table = full.select_columns(needed).with_format("arrow")[:]
    result = assign({name: table.column(name).to_pylist() for name in needed}, spec)

    order = full.column_names
    for name, values in (("split_group", result.group), ("split_bucket", result.bucket)):
        if name in order:
            feature = full.features[name]
            full = full.remove_columns(name).add_column(name, values, feature=feature)
    full = full.select_columns(order)

    indices: dict[str, list[int]] = {name: [] for name in spec.names}
    for i, name in enumerate(result.split):
        if name is not None:
            indices[name].append(i)
    return DatasetDict({name: full.select(rows) for name, rows in indices.items()})
