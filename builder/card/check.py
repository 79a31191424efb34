"""The card's check: the rendered card parses as a dataset card (huggingface_hub), its metadata
keys are ones the Hub knows, and its `configs` and `dataset_info` match the shards on disk."""
from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import CardError
from .template import HUB_METADATA_KEYS, VERSION_KEY, as_list


def check_card(text: str, folder: str | Path) -> None:
    """Raise CardError unless `huggingface_hub` parses the card, its metadata keys are ones the
    Hub knows, and every `configs` data_files pattern matches shards in `folder`, each shard
    claimed by exactly one split, with `dataset_info` agreeing on the splits.

    `configs` and `dataset_info` are read by their documented structure rather than through
    `datasets` (importing it cost half a second of every build); the tests hold the two
    readings equal on built cards."""
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    try:
        card = DatasetCard(text, ignore_metadata_errors=False)
        data = card.data.to_dict()
        configs = _configs(data.get("configs"))
        info_splits = _info_splits(data.get("dataset_info"))
    except (ValueError, TypeError, KeyError, yaml.YAMLError) as exc:
        raise CardError(f"the rendered card is not a valid dataset card: {exc}") from None
    unknown = sorted(set(data) - HUB_METADATA_KEYS - {VERSION_KEY})
    if unknown:
        raise CardError(f"the rendered card has metadata key(s) {unknown} the Hub does not know")

    shards = sorted(p.relative_to(folder).as_posix() for p in (folder / "data").rglob("*.parquet"))
    claimed: dict[str, str] = {}
    split_names = []
    for name, config in configs.items():
        entries = config.get("data_files") or []
        if isinstance(entries, str) or any(not isinstance(e, dict) or not {"split", "path"} <= set(e)
                                           for e in entries):
            raise CardError(f"config {name!r}: data_files must list {{split, path}} entries")
        for entry in entries:
            split_names.append(entry["split"])
            for pattern in as_list(entry["path"]):
                matched = [p.relative_to(folder).as_posix() for p in folder.glob(pattern) if p.is_file()]
                if not matched:
                    raise CardError(f"config {name!r}, split {entry['split']!r}: pattern {pattern!r} matches no file "
                                    f"in {str(folder)!r}")
                for path in matched:
                    if claimed.setdefault(path, entry["split"]) != entry["split"]:
                        raise CardError(f"{path} is claimed by splits {claimed[path]!r} and {entry['split']!r}")
    unclaimed = [s for s in shards if s not in claimed]
    if unclaimed:
        raise CardError(f"Parquet file(s) {unclaimed} are in no split of the card's configs")
    if info_splits is not None and sorted(info_splits) != sorted(split_names):
        raise CardError(f"dataset_info lists splits {sorted(info_splits)} but configs list {sorted(split_names)}")


def _configs(value) -> dict[str, dict]:
    """The card's `configs`: a list of mappings, each named by `config_name` (default 'default')."""
    if value is None:
        return {}
    if not isinstance(value, list) or any(not isinstance(c, dict) for c in value):
        raise ValueError("configs must be a list of mappings")
    out: dict[str, dict] = {}
    for config in value:
        name = str(config.get("config_name", "default"))
        if name in out:
            raise ValueError(f"config {name!r} is listed twice")
        out[name] = config
    return out


def _info_splits(value) -> list[str] | None:
    """The split names of the card's `dataset_info` (a mapping, or a list of them per config)."""
    if value is None:
        return None
    infos = value if isinstance(value, list) else [value]
    if any(not isinstance(i, dict) for i in infos):
        raise ValueError("dataset_info must be a mapping")
    splits = [s for i in infos for s in (i.get("splits") or [])]
    if any(not isinstance(s, dict) or "name" not in s for s in splits):
        raise ValueError("dataset_info.splits entries need a name")
    return [str(s["name"]) for s in splits] if splits or any("splits" in i for i in infos) else None
