"""The dataset card: dataset_card.md (the owner's template) rendered with what the build knows.

The owner's YAML keys survive; the build adds `configs` (so `load_dataset` finds the splits),
`dataset_info` (features and per-split sizes) and `size_categories`, and fills the body's
`{{placeholders}}` from the Parquet files actually written, so the card is always true.
"""
from __future__ import annotations

import re
from pathlib import Path

import frontmatter
import pyarrow.parquet as pq
import yaml

from .schema import COLUMNS, DESCRIPTIONS

DEFAULT_TEMPLATE = Path(__file__).with_name("dataset_card.md")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_OWNER_ONLY = ("source_description", "citation")  # template keys that are not Hub metadata


def render_card(folder: Path, *, summary: dict, manifest: dict, template: Path | None = None,
                repo_id: str | None = None) -> str:
    post = frontmatter.loads((template or DEFAULT_TEMPLATE).read_text(encoding="utf-8"))
    owner = dict(post.metadata)
    files = _split_files(folder, [name for name, _ in manifest["spec"]["splits"]])
    meta = {k: v for k, v in owner.items() if k not in _OWNER_ONLY}
    meta["configs"] = [{"config_name": "default",
                        "data_files": [{"split": s, "path": f"data/{s}-*"} for s in files]}]
    meta["dataset_info"] = _dataset_info(files)
    meta["size_categories"] = [_size_category(summary["rows"])]
    values = {
        "pretty_name": str(owner.get("pretty_name", "Dataset")),
        "source_description": str(owner.get("source_description", "")).strip(),
        "citation": _citation(owner.get("citation")),
        "summary": _summary(summary),
        "how_to_load": _how_to_load(repo_id),
        "schema": _schema_table(),
        "statistics": _statistics(summary, files),
        "splits": _splits(manifest),
        "provenance": _provenance(summary),
    }
    body = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), post.content)
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{head}---\n\n{body.strip()}\n"


def _split_files(folder: Path, order: list[str]) -> dict[str, list[Path]]:
    """Split name -> its shards, in the split spec's order (train first, as people expect)."""
    files = {name: sorted((folder / "data").glob(f"{name}-*.parquet")) for name in order}
    return {name: paths for name, paths in files.items() if paths}


def _dataset_info(files: dict[str, list[Path]]) -> dict:
    from .schema import ROW_SCHEMA
    from datasets import Features

    splits, download, total = [], 0, 0
    for name, paths in files.items():
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
        nbytes = sum(pq.ParquetFile(p).metadata.row_group(i).total_byte_size
                     for p in paths for i in range(pq.ParquetFile(p).metadata.num_row_groups))
        splits.append({"name": name, "num_bytes": nbytes, "num_examples": rows})
        download += sum(p.stat().st_size for p in paths)
        total += nbytes
    from datasets.info import DatasetInfo

    features = DatasetInfo(features=Features.from_arrow_schema(ROW_SCHEMA))._to_yaml_dict()["features"]
    return {"features": features, "splits": splits, "download_size": download, "dataset_size": total}


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def _summary(summary: dict) -> str:
    rejected = sum(summary["rejected"].values())
    ignored = sum(summary["ignored"].values())
    return (f"{summary['rows']:,} articles, built by corpus-builder {summary['tool']['version']} from "
            f"{summary['files_found']:,} files ({rejected:,} rejected with a reason, {ignored:,} non-article "
            f"files ignored).")


def _how_to_load(repo_id: str | None) -> str:
    target = f'"{repo_id}"' if repo_id else '"path/to/this/folder"'
    return ("```python\nfrom datasets import load_dataset\n\n"
            f"ds = load_dataset({target})\n"
            + (f'ds = load_dataset({target}, revision="v1.0.0")  # a pinned release\n' if repo_id else "")
            + "```")


def _schema_table() -> str:
    lines = ["| column | type | description |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | `{typ}` | {DESCRIPTIONS[name]} |" for name, typ, _, _ in COLUMNS]
    return "\n".join(lines)


def _statistics(summary: dict, files: dict[str, list[Path]]) -> str:
    lines = ["| split | rows |", "| --- | --- |"]
    lines += [f"| {name} | {summary['splits'].get(name, 0):,} |" for name in files]
    for title, key in (("Rejected files by reason", "rejected"), ("Ignored files by suffix", "ignored"),
                       ("Warnings by kind", "warnings")):
        counts = summary[key]
        lines += ["", f"**{title}:** " + (", ".join(f"`{k}` {v:,}" for k, v in counts.items()) or "none")]
    return "\n".join(lines)


def _splits(manifest: dict) -> str:
    spec = manifest["spec"]
    counts = ", ".join(f"{k} {v:,}" for k, v in manifest["counts"].items())
    return (f"Strategy `{spec['strategy']}`, ratios "
            + ", ".join(f"{name} {ratio}" for name, ratio in spec["splits"])
            + f", salt `{spec['salt']}`, grouped by `{spec.get('group') or 'id'}`. Rows: {counts}. "
            "The assignment is recorded in `splits.json`; `python -m splits verify .` recomputes it.")


def _provenance(summary: dict) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in summary["settings"].items())
    return f"Built by corpus-builder {summary['tool']['version']} with settings: {settings}."


def _citation(value: object) -> str:
    text = str(value or "").strip()
    return f"```bibtex\n{text}\n```" if text else "No citation given."
