"""The card's check: the rendered card parses as a dataset card (as huggingface_hub reads one), its
metadata keys are ones the Hub knows, and its `configs` and `dataset_info` match the shards on disk."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from ..errors import CardError
from .template import HUB_METADATA_KEYS, VERSION_KEY, as_list


def check_card(text: str, folder: str | Path) -> None:
    """Raise CardError unless the card parses as `huggingface_hub` parses it (card_metadata), its
    metadata keys are ones the Hub knows, and every `configs` data_files pattern matches shards
    in `folder`, each shard claimed by exactly one split, with `dataset_info` agreeing on the
    splits.

    `configs` and `dataset_info` are read by their documented structure rather than through
    `datasets` (importing it cost half a second of every build); the tests hold the two
    readings equal on built cards."""
    folder = Path(folder)
    try:
        data = card_metadata(text)
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


# huggingface_hub.repocard's REGEX_YAML_BLOCK: the YAML block at the top of a card.
_YAML_BLOCK = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")


def card_metadata(text: str) -> dict:
    """The card's metadata as `huggingface_hub.DatasetCard(text).data.to_dict()` gives it, by its
    rules, without importing it (repocard imports the Hub client): the YAML block at the top (none:
    no metadata), a mapping with string keys, None values dropped, `train_eval_index` spelt
    `train-eval-index`. Raises ValueError or TypeError where DatasetCard does; the tests hold the
    two equal."""
    match = _YAML_BLOCK.search(text)
    data = yaml.safe_load(match.group(2)) if match else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("repo card metadata block should be a dict")
    if any(not isinstance(key, str) for key in data) or "ignore_metadata_errors" in data:
        raise TypeError("the card's metadata keys must be strings, and not ignore_metadata_errors")
    out = {key: value for key, value in data.items() if key not in ("train_eval_index", "train-eval-index")}
    out["train-eval-index"] = data.get("train_eval_index") or data.get("train-eval-index")
    return {key: value for key, value in out.items() if value is not None}


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
