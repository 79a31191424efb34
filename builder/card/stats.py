"""The card's statistics: every figure it shows that comes from the data, computed column-wise
(pyarrow.compute) from the Parquet shards under data/, one row group at a time."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import CardError
from ..subsets import DEFAULT_CONFIG, subsets_of
from ..write import TEXT_BYTES_KEY

PERCENTILES = (5, 25, 50, 75, 95)
TOP = 10  # feeds and categories listed (the rest summed as "other")
# The card's `language:` lists the ISO 639-1 codes the `language` column holds ("other" is no code).
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English", "ja": "Japanese", "ko": "Korean"}
_STAT_COLUMNS = ["id", "date", "language", "n_chars", "feed", "categories", "warnings", "dup_cluster"]


@dataclass(frozen=True)
class SplitStats:
    name: str
    files: tuple[Path, ...]
    rows: int
    file_bytes: int   # on disk (what is downloaded)
    arrow_bytes: int  # in memory once loaded: what `datasets` reports as num_bytes


@dataclass(frozen=True)
class CardStats:
    """Every figure the card shows that comes from the data, computed from the shards."""

    splits: tuple[SplitStats, ...]  # the split spec's order; splits without rows have no shard
    rows: int
    date_min: datetime | None
    date_max: datetime | None
    undated: int
    months: tuple[tuple[str, int], ...]          # every month first..last, zeros included
    languages: tuple[tuple[str, int], ...]       # most rows first
    n_chars: dict                                # min, p5..p95 (nearest-below rank), max, mean, total
    length_bins: tuple[float, ...]
    length_counts: tuple[int, ...]
    feeds: tuple[tuple[str | None, dict], ...]   # top feeds: (feed, rows per split), most rows first
    other_feeds: dict                            # rows per split of the feeds past the top
    n_feeds: int                                 # distinct feeds (a missing feed counts as one)
    categories: tuple[tuple[str, int], ...]
    n_categories: int
    warnings: tuple[tuple[str, int], ...]        # warning codes on the rows kept
    flagged_copies: int                          # rows kept although not their cluster's kept row


def card_stats(folder: str | Path, split_names: Iterable[str], under: str = "data") -> CardStats:
    """Read the shards under folder/data back one row group at a time (the text is only
    measured) and fold each group into running counts: memory holds one row group and the
    lengths (4 bytes a row, for their percentiles), whatever the number of rows. `under` is
    the shards' folder within `folder` (a glob: `data/*` for every subset, `data/zh` for one)."""
    folder = Path(folder)
    splits = []
    feeds_by_split: dict[str, Counter] = {}
    languages, categories, warnings, per_month = Counter(), Counter(), Counter(), Counter()
    lengths: list[np.ndarray] = []
    date_min = date_max = None
    undated = flagged = 0
    for name in split_names:
        paths = tuple(sorted(folder.glob(f"{under}/{name}-*.parquet")))
        if not paths:
            continue
        rows = arrow_bytes = 0
        feeds = feeds_by_split[name] = Counter()
        for path in paths:
            pf = pq.ParquetFile(path)
            columns, texts = _columns_to_read(pf)
            for i in range(pf.num_row_groups):
                # One thread: a reader thread per column kept freed buffers resident (allocator
                # arenas), ~150 MB after 100,000 rows.
                group = pf.read_row_group(i, columns=columns, use_threads=False)
                rows += group.num_rows
                arrow_bytes += group.nbytes
                group = group.select(_STAT_COLUMNS)  # the text's buffers go here
                _count(feeds, group.column("feed"))
                _count(languages, group.column("language"))
                _count(categories, pc.list_flatten(group.column("categories")))
                _count(warnings, pc.list_flatten(group.column("warnings")))
                lengths.append(group.column("n_chars").to_numpy())
                flagged += pc.sum(pc.not_equal(group.column("dup_cluster"), group.column("id"))).as_py() or 0
                dates = group.column("date")
                undated += dates.null_count
                if dates.null_count < len(dates):
                    lo, hi = (v.as_py() for v in pc.min_max(dates).values())
                    date_min = lo if date_min is None else min(date_min, lo)
                    date_max = hi if date_max is None else max(date_max, hi)
                    naive = dates.cast(pa.timestamp("us"))  # values are UTC: drop the zone, no tz database needed
                    key = pc.add(pc.multiply(pc.year(naive), 12), pc.subtract(pc.month(naive), 1))
                    _count(per_month, key)
            if texts is not None:  # the text column as Arrow counts it: 4 bytes of offset a row, and its bytes
                arrow_bytes += 4 * pf.metadata.num_rows + texts
        splits.append(SplitStats(name, paths, rows, sum(p.stat().st_size for p in paths), arrow_bytes))
    n = sum(s.rows for s in splits)

    months: tuple = ()
    per_month.pop(None, None)  # null: no date
    if per_month:
        first, last = min(per_month), max(per_month)
        months = tuple((f"{k // 12:04d}-{k % 12 + 1:02d}", per_month.get(k, 0)) for k in range(first, last + 1))

    n_chars: dict = {}
    bins: tuple = ()
    hist: tuple = ()
    if n:
        values = np.sort(np.concatenate(lengths).astype(np.int64))
        lo, hi = int(values[0]), int(values[-1])
        # Nearest rank below, as Arrow's quantile(interpolation="lower"): index floor(q * (n - 1)).
        qs = [int(values[math.floor((p / 100) * (n - 1))]) for p in PERCENTILES]
        total = int(values.sum())
        n_chars = {"min": lo, **{f"p{p}": v for p, v in zip(PERCENTILES, qs)}, "max": hi,
                   "mean": total / n, "total": total}
        # 40 log-spaced bins on whole numbers (lengths span 20 to 100,000+ characters).
        start = max(lo, 1)
        edges = np.unique(np.round(np.geomspace(start, hi + 1, 41))) if hi + 1 > start else np.array([lo, lo + 1])
        hist_counts, edges = np.histogram(values, bins=edges)
        bins, hist = tuple(float(e) for e in edges), tuple(int(c) for c in hist_counts)

    per_split = {name: dict(_ranked(c)) for name, c in feeds_by_split.items()}
    totals: dict = {}
    for split_counts in per_split.values():
        for feed, c in split_counts.items():
            totals[feed] = totals.get(feed, 0) + c
    ranked = sorted(totals, key=lambda f: (-totals[f], f is None, f or ""))
    feeds = tuple((f, {s: per_split[s].get(f, 0) for s in per_split}) for f in ranked[:TOP])
    other = {s: sum(per_split[s].get(f, 0) for f in ranked[TOP:]) for s in per_split}
    category_counts = _ranked(categories)
    return CardStats(
        splits=tuple(splits), rows=n, date_min=date_min, date_max=date_max, undated=undated, months=months,
        languages=tuple(_ranked(languages)), n_chars=n_chars, length_bins=bins, length_counts=hist,
        feeds=feeds, other_feeds=other, n_feeds=len(totals), categories=tuple(category_counts[:TOP]),
        n_categories=len(category_counts), warnings=tuple(sorted(_ranked(warnings))), flagged_copies=flagged)


@dataclass(frozen=True)
class SubsetStats:
    """One subset of a `--subset-by` build: its folder and config name, its value, its figures."""

    name: str
    value: str | None
    stats: CardStats


@dataclass(frozen=True)
class Subsets:
    column: str
    subsets: tuple[SubsetStats, ...]


_SUBSET_NAME = re.compile(r"^[a-z0-9_~-]+$")  # what subsets.subset_name writes


def subset_list(summary: dict) -> tuple[str, list[dict]] | None:
    """The subsets build_summary.json records, their names checked (a name is a folder)."""
    found = subsets_of(summary)
    if found is None:
        return None
    for entry in found[1]:
        if not isinstance(entry["name"], str) or not _SUBSET_NAME.match(entry["name"]) \
                or entry["name"] == DEFAULT_CONFIG:
            raise CardError(f"build_summary.json names a subset {entry['name']!r}, which is not a subset name: "
                            "rebuild the dataset")
    return found


def folder_stats(folder: Path, summary: dict, manifest: dict) -> CardStats:
    """The figures of every row: the shards under data/, or under data/*/ for a subset build."""
    return card_stats(folder, split_names_of(manifest), "data/*" if subset_list(summary) else "data")


def subset_stats(folder: Path, summary: dict, manifest: dict) -> Subsets | None:
    found = subset_list(summary)
    if found is None:
        return None
    column, entries = found
    return Subsets(column, tuple(SubsetStats(e["name"], e.get("value"),
                                             card_stats(folder, split_names_of(manifest), f"data/{e['name']}"))
                                 for e in entries))


def _columns_to_read(pf: pq.ParquetFile) -> tuple[list[str] | None, int | None]:
    """The columns card_stats reads from a shard (None: all), and the UTF-8 bytes of its texts
    when the shard's footer gives them (TEXT_BYTES_KEY, written by our ShardWriter): the
    texts, most of the bytes, are then not read."""
    value = (pf.metadata.metadata or {}).get(TEXT_BYTES_KEY.encode())
    schema = pf.schema_arrow
    if value is None or "text" not in schema.names or schema.field("text").type != pa.string() \
            or schema.field("text").nullable:
        return None, None
    return [name for name in schema.names if name != "text"], int(value)


def _count(counter: Counter, array) -> None:
    """Add an Arrow array's value counts (nulls included) to `counter`."""
    if len(array) == 0:
        return
    vc = pc.value_counts(array)
    for value, count in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
        counter[value] += count


def _ranked(counter: Counter) -> list[tuple[object, int]]:
    """(value, count) pairs, most frequent first, then by value (nulls last): a stable order."""
    return sorted(((v, c) for v, c in counter.items() if c), key=lambda p: (-p[1], p[0] is None,
                                                                            p[0] if p[0] is not None else ""))


def split_names_of(manifest: dict) -> list[str]:
    """The split names of splits.json's spec, in its order."""
    return [name for name, _ in manifest["spec"]["splits"]]


def language_codes(stats: CardStats) -> list[str]:
    """The language codes of the rows (most rows first), without "other" and nulls."""
    return [lang for lang, _ in stats.languages if isinstance(lang, str) and lang in LANGUAGE_NAMES]


def default_name(stats: CardStats) -> str:
    """A title the data can vouch for, when the owner gives none: "Articles in English and Japanese"."""
    names = [LANGUAGE_NAMES[c] for c in language_codes(stats)]
    if not names:
        return "Articles"
    return "Articles in " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])
