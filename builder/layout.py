"""Where a split's rows go: in date order, cut into shards that stay put as the corpus grows.

A news archive grows by its newest articles. Rows in id order put new rows in every page of
every shard, so each release rewrote and re-uploaded all of them. Here a split's rows are
ordered by date, then id (undated rows last, by id), and cut where the date crosses the edge
of a window of `span` days, windows aligned on 1970-01-01. The span is the largest power of
two whose expected bytes (the split's bytes per day over the middle 90 % of its dates) stay within
SHARD_TARGET: it changes only when that density crosses a power of two (a function of the
rows alone cannot do better: a rebuild must equal a clean build), so rarely as an archive
grows at a steady pace. New articles
then land in the last window's shard, a late older article in the shard of its own window,
and the other shards are the same rows in the same order: the same bytes (builder.shards
copies them from the previous output instead of writing them again). A window holding more
than twice the target (a burst of news) is cut inside by size; undated rows come last, in the
last window (so a small split is one shard).

Row order within a split is not part of a dataset's contract (no row moves split, no column
changes), so changing it is not a major version.
"""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SHARD_TARGET = 32 * 2**20  # the rows' measured bytes (parts.FACTS nbytes) a shard aims at
_DAY_US = 86_400 * 10**6


def row_bytes(table: pa.Table) -> pa.Array:
    """Each row's size for the layout: its text's and extra's bytes and a little for the rest."""
    text, extra = (pc.binary_length(table.column(c)) for c in ("text", "extra"))
    return pc.add(pc.add(text, extra), 160).cast(pa.int64())


def arrange(table: pa.Table, target: int | None = None) -> list[pa.Table]:
    """A split's rows (any order) in the layout's order, cut into its shards (none for no rows)."""
    if not table.num_rows:
        return []
    table = table.sort_by("id")
    dates = table.column("date").cast(pa.int64())
    dated = pc.is_valid(dates).to_numpy(zero_copy_only=False)
    dates = pc.fill_null(dates, 0).to_numpy()
    nbytes = row_bytes(table).to_numpy()
    at = order(dates, dated)
    table = table.take(pa.array(at))
    return [table.slice(s.start, s.stop - s.start) for s in cut(dates[at], dated[at], nbytes[at], target)]


def order(dates_us: np.ndarray, dated: np.ndarray) -> np.ndarray:
    """The rows (given in id order) in date order, then id; undated rows last, by id."""
    key = np.where(dated, dates_us, np.iinfo(np.int64).max)
    return np.argsort(key, kind="stable")


def span_days(days: np.ndarray, nbytes: np.ndarray, target: int | None = None) -> int:
    """The window, in days (a power of two), for dated rows of these days and sizes."""
    target = target or SHARD_TARGET
    if not len(days):
        return 1
    # The density of the middle 90 % of the dates: an article dated decades off (a typo, a
    # placeholder date) must not stretch the range, and the newest 1 % barely move it.
    lo, hi = np.quantile(days, [0.05, 0.95], method="lower")
    middle = (days >= lo) & (days <= hi)
    per_day = max(1, int(nbytes[middle].sum())) / (int(hi) - int(lo) + 1)
    return 2 ** max(0, math.floor(math.log2(max(1.0, target / per_day))))


def cut(dates_us: np.ndarray, dated: np.ndarray, nbytes: np.ndarray, target: int | None = None) -> list[slice]:
    """The rows, already in `order`, cut into shards (slices, in order; none for no rows)."""
    target = target or SHARD_TARGET
    n = len(nbytes)
    if not n:
        return []
    days = np.floor_divide(dates_us[dated], _DAY_US)
    span = span_days(days, nbytes[dated], target)
    window = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)  # undated rows alone: by size
    window[dated] = days // span
    if dated.any():
        window[~dated] = window[dated].max()  # undated rows join the last window (they come last)
    edges = [0, *(np.flatnonzero(np.diff(window)) + 1).tolist(), n]
    out = []
    for start, end in zip(edges, edges[1:]):
        if window[start] != np.iinfo(np.int64).max and int(nbytes[start:end].sum()) <= 2 * target:
            out.append(slice(start, end))
            continue
        out += [slice(start + s.start, start + s.stop) for s in by_size(nbytes[start:end], target)]
    return out


def by_size(nbytes: np.ndarray, limit: int) -> list[slice]:
    """A run of rows cut into pieces of at most `limit` bytes (a larger row alone), in order."""
    out, start, size = [], 0, 0
    for k, b in enumerate(nbytes.tolist()):
        if k > start and size + b > limit:
            out.append(slice(start, k))
            start, size = k, 0
        size += b
    if start < len(nbytes):
        out.append(slice(start, len(nbytes)))
    return out
