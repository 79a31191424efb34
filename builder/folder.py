"""The dataset folder around its shards: the ledger, the split manifest, the summary, the card.

`write_metadata` writes them into a build's folder before it is swapped in; `write_dataset`
writes a whole folder from rows in memory (a re-split: its shards by split, or by subset
and split).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from splits import SplitSpec, write_manifest

from .card import CardOptions, write_card
from .card.plots import BackgroundPlots
from .card.tally import ShardFigures
from .output import atomic_output
from .subsets import SUMMARY_KEY as SUBSETS_KEY, subset_name, subsets_summary
from .write import write_split

# --subset-by: the row group of a (subset, split) writer (a split's own writers: write.ROW_GROUP_BYTES):
# a column of many values has many writers open at once.
SUBSET_ROW_GROUP_BYTES = 4 * 2**20


def write_dataset(out: Path, table: pa.Table, spec: SplitSpec, manifest: dict, summary: dict, *,
                  rejects: list[dict], card_template: str | os.PathLike | None = None,
                  subset_by: str | None = None) -> None:
    """Write a dataset folder atomically from rows in memory (a re-split): shards per split
    (per subset and split with `subset_by`), ledger, manifest, summary, card. `table` carries a `_split` column (None: dropped by the
    split, e.g. a time embargo). The caller holds `output_lock(out)`."""
    with atomic_output(out) as tmp:
        counts: dict[str | None, dict[str, int]] = {}
        for name, _ in spec.splits:
            part = table.filter(pc.equal(table.column("_split"), name)).drop_columns(["_split"])
            if subset_by is None:
                write_split(part, tmp / "data", name)
                continue
            _write_subsets(part, subset_by, name, counts, tmp / "data")
        summary = dict(summary)
        summary.pop(SUBSETS_KEY, None)
        if subset_by is not None:
            summary[SUBSETS_KEY] = subsets_summary(subset_by, counts, [name for name, _ in spec.splits])
        write_metadata(tmp, manifest, summary, rejects=rejects, card_template=card_template)


def _write_subsets(rows: pa.Table, column: str, split: str, counts: dict, data_dir: Path) -> None:
    """One split's rows to their subsets' folders, each laid out as a build lays it out."""
    values = rows.column(column)
    for value in sorted(set(values.to_pylist()), key=lambda v: (v is not None, v or "")):
        mask = pc.is_null(values) if value is None else pc.fill_null(pc.equal(values, value), False)
        mine = rows.filter(mask)
        write_split(mine, data_dir / subset_name(value), split, row_group_bytes=SUBSET_ROW_GROUP_BYTES)
        per_split = counts.setdefault(value, {})
        per_split[split] = per_split.get(split, 0) + mine.num_rows


def write_metadata(tmp: Path, manifest: dict, summary: dict, *, rejects: list[dict],
                   card_template: str | os.PathLike | None = None, card: CardOptions | None = None,
                   plotter: BackgroundPlots | None = None, shards: Sequence[ShardFigures] | None = None) -> None:
    """Everything beside the shards: ledger, split manifest, build summary, card (its figures
    from `shards`, the shard tasks' figures, when given; else read back from the shards)."""
    with open(tmp / "rejects.jsonl", "w", encoding="utf-8") as fh:
        for r in rejects:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    write_manifest(tmp, manifest)
    (tmp / "build_summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                            encoding="utf-8")
    # README.md (the card, checked first), croissant.json and the plots under assets/.
    write_card(tmp, summary=summary, manifest=manifest, template=Path(card_template) if card_template else None,
               plotter=plotter, options=card, shards=shards)


