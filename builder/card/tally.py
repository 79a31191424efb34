"""One shard's figures for the card, counted from its rows: by the shard task from the rows it
has just written (builder.shards), or read back from a shard on disk (a published folder, a
re-split, a shard copied from the previous build). stats.py merges them into the card's
statistics, whichever way they were counted."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..write import TEXT_BYTES_KEY

STAT_COLUMNS = ["id", "date", "language", "n_chars", "feed", "categories", "warnings", "dup_cluster"]


@dataclass
class ShardFigures:
    """The figures of one shard: counters, not rows. `lengths` holds the distinct values of
    n_chars, ascending, and how many rows have each (exact percentiles from a few KB)."""

    path: str
    split: str
    rows: int = 0
    file_bytes: int = 0   # on disk
    arrow_bytes: int = 0  # in memory once read (builder.write.loaded_bytes)
    feeds: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    categories: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    months: Counter = field(default_factory=Counter)  # year * 12 + month - 1 -> dated rows
    lengths: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    undated: int = 0
    flagged: int = 0      # rows kept although not their cluster's kept row
    date_min: datetime | None = None
    date_max: datetime | None = None

    def add(self, rows: pa.Table) -> None:
        """Count `rows` (at least the STAT_COLUMNS) into these figures."""
        self.rows += rows.num_rows
        _count(self.feeds, rows.column("feed"))
        _count(self.languages, rows.column("language"))
        _count(self.categories, pc.list_flatten(rows.column("categories")))
        _count(self.warnings, pc.list_flatten(rows.column("warnings")))
        self.lengths = merge_lengths([self.lengths, _value_counts(rows.column("n_chars"))])
        self.flagged += pc.sum(pc.not_equal(rows.column("dup_cluster"), rows.column("id"))).as_py() or 0
        dates = rows.column("date")
        self.undated += dates.null_count
        if dates.null_count < len(dates):
            lo, hi = (v.as_py() for v in pc.min_max(dates).values())
            self.date_min = lo if self.date_min is None else min(self.date_min, lo)
            self.date_max = hi if self.date_max is None else max(self.date_max, hi)
            naive = dates.cast(pa.timestamp("us"))  # values are UTC: drop the zone, no tz database needed
            _count(self.months, pc.add(pc.multiply(pc.year(naive), 12), pc.subtract(pc.month(naive), 1)))
            self.months.pop(None, None)  # the undated rows, counted apart


def read_figures(path: Path, split: str) -> ShardFigures:
    """The figures of a shard on disk, read back one row group at a time (the text is only
    measured): memory holds one row group."""
    figures = ShardFigures(str(path), split, file_bytes=path.stat().st_size)
    pf = pq.ParquetFile(path)
    columns, texts = _columns_to_read(pf)
    for i in range(pf.num_row_groups):
        # One thread: a reader thread per column kept freed buffers resident (allocator
        # arenas), ~150 MB after 100,000 rows.
        group = pf.read_row_group(i, columns=columns, use_threads=False)
        figures.arrow_bytes += group.nbytes
        figures.add(group.select(STAT_COLUMNS))  # the text's buffers go here
    if texts is not None:  # the text column as Arrow counts it: 4 bytes of offset a row, and its bytes
        figures.arrow_bytes += 4 * pf.metadata.num_rows + texts
    return figures


def merge_lengths(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values ascending, counts) of several such pairs together."""
    values = np.concatenate([v for v, _ in parts]).astype(np.int64)
    counts = np.concatenate([c for _, c in parts]).astype(np.int64)
    if not len(values):
        return values, counts
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return values[starts], np.add.reduceat(counts, starts)


def _value_counts(values: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    found, counts = np.unique(values.to_numpy(), return_counts=True)
    return found.astype(np.int64), counts.astype(np.int64)


def _columns_to_read(pf: pq.ParquetFile) -> tuple[list[str] | None, int | None]:
    """The columns read back from a shard (None: all), and the UTF-8 bytes of its texts when
    the shard's footer gives them (TEXT_BYTES_KEY, written by our ShardWriter): the texts,
    most of the bytes, are then not read."""
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
