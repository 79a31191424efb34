"""Re-split a built or published dataset from its Parquet alone: no raw files, no re-parsing.

The rows already carry every column a split spec can name (id, dup_cluster, date, feed, ...),
so a new assignment is `splits.assign` over those columns; shards, manifest and card are then
rewritten together, atomically, by the same writer the build uses. The source may be a dataset
folder (ours, or a folder of downloaded Parquet) or `hf://datasets/owner/name[@revision]`.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import nullcontext
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from splits import SplitSpec

from .card import template_from_card, template_text
from .checks import check_split_columns
from .errors import SourceError
from .folder import write_dataset
from .integrity import check_intact
from .output import output_lock, storage_errors
from .parts import work_folder
from .schema import ROW_SCHEMA
from .splitting import assign_splits
from .subsets import check_subset_column, subsets_of


class _AsSource:
    def __repr__(self) -> str:
        return "AS_SOURCE"


# resplit(subset_by=AS_SOURCE), the default: the source's subsets (build_summary.json), if any.
AS_SOURCE = _AsSource()

_HF_URL = re.compile(r"^hf://datasets/(?P<repo>[^/@]+/[^/@]+)(?:@(?P<rev>[^/]+))?/?$")


def read_rows(folder: Path) -> pa.Table:
    """Every row of every Parquet file under `folder` (any split layout), as ROW_SCHEMA."""
    files = sorted(folder.rglob("*.parquet"))
    if not files:
        raise SourceError(f"no Parquet files under {str(folder)!r}: is it a built dataset folder?")
    tables = []
    for path in files:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise SourceError(f"cannot read {path}: {exc}") from None
        missing = set(ROW_SCHEMA.names) - set(table.column_names)
        if missing:
            raise SourceError(f"{path} lacks the columns {sorted(missing)}: not a corpus-builder dataset")
        tables.append(table.select(ROW_SCHEMA.names).cast(ROW_SCHEMA))
    return pa.concat_tables(tables)


def resolve_source(source: str | os.PathLike, workdir: Path) -> Path:
    """A local folder as is; `hf://datasets/owner/name@rev` downloaded (Parquet, manifest,
    summary, ledger) into `workdir`."""
    m = _HF_URL.match(str(source))
    if not m:
        folder = Path(source)
        if not folder.is_dir():
            raise SourceError(f"dataset folder {str(folder)!r} does not exist")
        return folder
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return Path(snapshot_download(m.group("repo"), repo_type="dataset", revision=m.group("rev"),
                                      local_dir=workdir / "download",
                                      allow_patterns=["*.parquet", "*.json", "*.jsonl", "README.md"]))
    except HfHubHTTPError as exc:
        raise SourceError(f"cannot download {source}: {exc}") from None


def resplit(source: str | os.PathLike, output: str | os.PathLike | None = None, *, spec: SplitSpec,
            card_template: str | os.PathLike | None = None, subset_by: str | None | _AsSource = AS_SOURCE) -> dict:
    """Re-assign the splits of the dataset at `source` by `spec` and write the result to
    `output` (default: in place). `subset_by`: a column to write subsets by (build's
    --subset-by), None for none; by default the source's. Returns the new manifest."""
    # Only a download needs a scratch folder: a killed split of a local folder leaves none behind.
    remote = _HF_URL.match(str(source)) is not None
    if output is None and str(source).startswith("hf://"):
        raise SourceError("a dataset on the Hub cannot be re-split in place: give an output folder (-o)")
    if not remote and not Path(source).is_dir():
        raise SourceError(f"dataset folder {str(source)!r} does not exist")
    check_split_columns(spec, ROW_SCHEMA)
    if not isinstance(subset_by, _AsSource):
        check_subset_column(subset_by, ROW_SCHEMA)
    out = Path(output if output is not None else source)
    with output_lock(out, "split"), storage_errors(out), \
            tempfile.TemporaryDirectory(prefix="corpus-split-") if remote else nullcontext(".") as work:
        folder = resolve_source(source, Path(work))
        check_intact(folder, shown=str(source))  # a damaged shard is refused, not copied on
        table = read_rows(folder)
        summary = _read_json(folder / "build_summary.json") or {
            "rows": table.num_rows, "files_found": table.num_rows, "rejected": {}, "ignored": {}, "warnings": {},
            "tool": {"name": "corpus-builder", "version": "unknown"}, "settings": {}}
        rejects = [json.loads(line) for line in _read_lines(folder / "rejects.jsonl")]
        table, manifest = assign_splits(table, spec)
        summary["splits"] = manifest["counts"]
        if isinstance(subset_by, _AsSource):
            found = subsets_of(summary)
            subset_by = found[0] if found else None
            check_subset_column(subset_by, ROW_SCHEMA)
        # Beside the output, not in /tmp: a killed split's scratch is removed by the next run.
        with work_folder(out) as card_dir:
            if card_template is None:
                card_template = own_template(folder, Path(card_dir))
            write_dataset(out, table, spec, manifest, summary, rejects=rejects, card_template=card_template,
                          subset_by=subset_by)
    return manifest


def own_template(folder: Path, scratch: Path) -> Path | None:
    """The dataset's own card (folder/README.md) as a template file in `scratch`, so a re-split
    keeps what its owner wrote there (license, title, text, changelog); None when it has none."""
    card = folder / "README.md"
    if not card.is_file():
        return None
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    path = scratch / "dataset_card.md"
    path.write_text(template_text(template_from_card(text, path=card)), encoding="utf-8")
    return path


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError:
        return []
