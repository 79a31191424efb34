"""The card's statistics: every figure it shows that comes from the data, merged from each
shard's figures (tally.py), as the shard tasks hand them back or as read back from the shards."""
from __future__ import annotations

import fnmatch
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import CardError
from ..subsets import DEFAULT_CONFIG, subsets_of
from .tally import ShardFigures, merge_lengths, read_figures

PERCENTILES = (5, 25, 50, 75, 95)
TOP = 10  # feeds and categories listed (the rest summed as "other")
# The card's `language:` lists the ISO 639-1 codes the `language` column holds ("other" is no code).
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English", "ja": "Japanese", "ko": "Korean"}


@dataclass(frozen=True)
class SplitStats:
    name: str
    files: tuple[Path, ...]
    rows: int
    file_bytes: int   # on disk (what is downloaded)
    arrow_bytes: int  # in memory once loaded: what `datasets` reports as num_bytes


@dataclass(frozen=True)
class CardStats:
    """Every figure the card shows that comes from the data, from the shards' figures."""

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


def card_stats(folder: str | Path, split_names: Iterable[str], under: str = "data",
               shards: Sequence[ShardFigures] | None = None) -> CardStats:
    """The figures of the shards under folder/`under` (a glob: `data/*` for every subset,
    `data/zh` for one), split by split: from `shards`, the figures the shard tasks handed back,
    when given; else each shard read back (tally.read_figures)."""
    folder = Path(folder)
    found = []
    for name in split_names:
        if shards is None:
            paths = sorted(folder.glob(f"{under}/{name}-*.parquet"))
            found.append((name, [read_figures(path, name) for path in paths]))
        else:
            mine = [f for f in shards if _under(folder, Path(f.path), under, name)]
            found.append((name, sorted(mine, key=lambda f: Path(f.path))))
    return merged_stats(found)


def _under(folder: Path, path: Path, under: str, split: str) -> bool:
    """Whether `path` is a shard that folder.glob(f"{under}/{split}-*.parquet") lists."""
    relative = path.relative_to(folder)
    return fnmatch.fnmatchcase(relative.parent.as_posix(), under) and \
        fnmatch.fnmatchcase(relative.name, f"{split}-*.parquet")


def merged_stats(found: list[tuple[str, list[ShardFigures]]]) -> CardStats:
    """The card's statistics from each split's shard figures (split spec order), counted one
    way or the other: memory holds counters and the distinct lengths, whatever the rows."""
    splits = []
    feeds_by_split: dict[str, Counter] = {}
    languages, categories, warnings, per_month = Counter(), Counter(), Counter(), Counter()
    lengths = []
    date_min = date_max = None
    undated = flagged = 0
    for name, figures in found:
        if not figures:
            continue
        feeds = feeds_by_split[name] = Counter()
        for f in figures:
            for total, part in ((feeds, f.feeds), (languages, f.languages), (categories, f.categories),
                                (warnings, f.warnings), (per_month, f.months)):
                total.update(part)
            lengths.append(f.lengths)
            undated += f.undated
            flagged += f.flagged
            if f.date_min is not None:
                date_min = f.date_min if date_min is None else min(date_min, f.date_min)
                date_max = f.date_max if date_max is None else max(date_max, f.date_max)
        splits.append(SplitStats(name, tuple(Path(f.path) for f in figures), sum(f.rows for f in figures),
                                 sum(f.file_bytes for f in figures), sum(f.arrow_bytes for f in figures)))
    n = sum(s.rows for s in splits)

    months: tuple = ()
    if per_month:
        first, last = min(per_month), max(per_month)
        months = tuple((f"{k // 12:04d}-{k % 12 + 1:02d}", per_month.get(k, 0)) for k in range(first, last + 1))

    n_chars: dict = {}
    bins: tuple = ()
    hist: tuple = ()
    if n:
        values, counts = merge_lengths(lengths)
        ends = np.cumsum(counts)  # rows up to and including each distinct value
        lo, hi = int(values[0]), int(values[-1])
        # Nearest rank below, as Arrow's quantile(interpolation="lower"): rank floor(q * (n - 1)).
        qs = [int(values[np.searchsorted(ends, math.floor((p / 100) * (n - 1)), side="right")])
              for p in PERCENTILES]
        total = int(np.dot(values, counts))
        n_chars = {"min": lo, **{f"p{p}": v for p, v in zip(PERCENTILES, qs)}, "max": hi,
                   "mean": total / n, "total": total}
        # 40 log-spaced bins on whole numbers (lengths span 20 to 100,000+ characters).
        start = max(lo, 1)
        edges = np.unique(np.round(np.geomspace(start, hi + 1, 41))) if hi + 1 > start else np.array([lo, lo + 1])
        hist_counts, edges = np.histogram(values, bins=edges, weights=counts)
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


def folder_stats(folder: Path, summary: dict, manifest: dict,
                 shards: Sequence[ShardFigures] | None = None) -> CardStats:
    """The figures of every row: the shards under data/, or under data/*/ for a subset build
    (from `shards`, the shard tasks' figures, when given)."""
    return card_stats(folder, split_names_of(manifest), "data/*" if subset_list(summary) else "data", shards)


def subset_stats(folder: Path, summary: dict, manifest: dict,
                 shards: Sequence[ShardFigures] | None = None) -> Subsets | None:
    """Each subset's figures (None without subsets); from `shards` when given, as folder_stats."""
    found = subset_list(summary)
    if found is None:
        return None
    column, entries = found
    names = split_names_of(manifest)
    return Subsets(column, tuple(SubsetStats(e["name"], e.get("value"),
                                             card_stats(folder, names, f"data/{e['name']}", shards))
                                 for e in entries))


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
