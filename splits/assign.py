"""Pure split assignment: columns of rows + a SplitSpec -> the split of every row.

Rows are grouped first: the group key is the value of `spec.group` (the row id when
`spec.group` is None, or when the row's value is null or empty), and every row of a
group lands in the same split. The result depends only on the set of rows, never on
their order.

hash (default)
    The group key is hashed with the salt into one of 10,000 buckets (`bucket_of`);
    cumulative bucket ranges map to splits in the order given. A row's split depends on
    its group key alone, so adding rows never moves an existing one.

time
    Splits are consecutive time slices in the order given: the last split starts at the
    cutoff, and with three or more splits each earlier boundary is a quantile of the group
    times before the cutoff, so `validation` is the slice just before `test`. A group is
    placed by its latest date. The embargo drops every group whose latest date falls
    within `embargo_days` before any boundary (`dropped_embargo`), and a group whose dates
    span a boundary is dropped too (`dropped_straddle`): otherwise a test row could be
    older than a train row. Hence every row of a later split is dated at or after the
    boundary, and every row of an earlier split more than the embargo before it.
    The cutoff, when not given, is the quantile of group times (each group's latest date)
    that gives the last split its share. A quantile moves as the corpus grows, so the
    manifest pins the boundaries actually used (`Assignment.pinned_spec`); pin `cutoff`
    yourself for splits that stay put across rebuilds.
    Groups with no date at all cannot be shown to predate the cutoff nor to follow it;
    they go by hash among the earlier splits (never the last), at the earlier splits'
    relative ratios, and are counted (`undated`).

stratify
    A rule that is stable under growth must give each group a split from the group alone:
    if adding rows may never move a row, then the row's split in the full corpus equals
    its split in a corpus holding just its group. So no stable rule can use the other rows
    of a stratum to balance it, and each stratum's share is binomial around the ratio
    whatever is done (sd = sqrt(r(1-r)/n) for n groups: +-1 point at 1,000 groups,
    +-7 points at 20). We keep stability, the issue's first promise, and per-group
    hashing; the stratum never enters the hash, so relabelling a feed moves nothing.
    `stratify` names the column the audit breaks shares down by, so a skewed small
    stratum is visible rather than silent. The rejected alternative, a quota by hash rank
    within each stratum, is exact to one group but moves rows near the quota line
    whenever the stratum grows.
"""
from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import compress, repeat
from datetime import datetime, timedelta, timezone

from .errors import SpecError
from .hashing import NUM_BUCKETS, bucket_edges, bucket_map
from .spec import SplitSpec, parse_time

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NAIVE_EPOCH = EPOCH.replace(tzinfo=None)
_ONE_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
# A boundary no row reaches (a quantile on too few groups to give the last split any).
_NEVER = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc) - EPOCH) // _ONE_US


@dataclass(frozen=True, kw_only=True)
class Assignment:
    """The outcome of `assign`, one entry per input row in input order.

    split: split name, or None for a row dropped by the time rules (embargo or straddle).
    bucket: the group key's bucket (0..9999) under the spec's salt, for every strategy.
    group: the group key used for the row.
    cutoffs: time only, the start (ISO, UTC) of each split after the first, as used.
    undated: time only, rows whose group has no date (placed by hash, never in the last split).
    """

    spec: SplitSpec
    split: list[str | None]
    bucket: list[int]
    group: list[str]
    dropped_embargo: int = 0
    dropped_straddle: int = 0
    undated: int = 0
    cutoffs: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """Rows per split, every split of the spec included (in spec order)."""
        counts = dict.fromkeys(self.spec.names, 0)
        for name in self.split:
            if name is not None:
                counts[name] += 1
        return counts

    def dropped(self) -> dict[str, int]:
        return {"embargo": self.dropped_embargo, "straddle": self.dropped_straddle}

    def ids_by_split(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The sorted ids of each split (dropped rows are in none)."""
        out: dict[str, list[str]] = {name: [] for name in self.spec.names}
        for row_id, name in zip(ids, self.split):
            if name is not None:
                out[name].append(row_id)
        return {name: sorted(v) for name, v in out.items()}

    def pinned_spec(self) -> SplitSpec:
        """The spec with the time boundaries used written in, so the same rows give the same
        split without the dropped rows (which a published dataset no longer holds)."""
        if self.spec.strategy != "time":
            return self.spec
        return replace(self.spec, cutoff=self.cutoffs)


def assign(columns: Mapping[str, Sequence], spec: SplitSpec) -> Assignment:
    """Assign every row to a split. `columns` holds "id" and the columns `spec` names.

    The group column holds str (null or empty: the row is its own group), the time column
    aware or naive-UTC `datetime` or None, the stratify column str or None.
    """
    ids = _check_columns(columns, spec)
    keys = _group_keys(columns, spec, ids)
    sizes = Counter(keys)  # rows per group; its keys are the distinct groups
    try:
        bucket_by_key = bucket_map(sizes, spec.salt)
    except TypeError as e:
        raise SpecError(f"group column {spec.group!r} must hold strings: {e}") from None
    buckets = list(map(bucket_by_key.__getitem__, keys))

    if spec.strategy == "hash":
        split_of_bucket = _split_table(spec.names, spec.ratios)
        split = list(map(split_of_bucket.__getitem__, buckets))
        return Assignment(spec=spec, split=split, bucket=buckets, group=keys)
    return _assign_time(columns, spec, ids, keys, sizes, bucket_by_key, buckets)


def _check_columns(columns: Mapping[str, Sequence], spec: SplitSpec) -> Sequence[str]:
    needed = ["id", spec.group, spec.stratify, spec.time_column if spec.strategy == "time" else None]
    needed = [name for name in dict.fromkeys(needed) if name is not None]
    missing = [name for name in needed if name not in columns]
    if missing:
        raise SpecError(f"column(s) {missing} named by the split spec are missing; columns given: {sorted(columns)}")
    ids = columns["id"]
    lengths = {name: len(columns[name]) for name in needed}
    if len(set(lengths.values())) > 1:
        raise SpecError(f"columns have different lengths: {lengths}")
    try:
        "".join(ids)  # a C-speed check that every id is a str
    except TypeError:
        bad = next(row_id for row_id in ids if not isinstance(row_id, str))
        raise SpecError(f"column 'id' must hold strings, found {bad!r}")
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(row_id for row_id in ids if row_id in seen or seen.add(row_id))
        raise SpecError(f"duplicate id {dup!r}: ids must be unique for splits to be verifiable")
    return ids


def _group_keys(columns: Mapping[str, Sequence], spec: SplitSpec, ids: Sequence[str]) -> list[str]:
    if spec.group is None or spec.group == "id":
        return list(ids)
    # A null or empty key would otherwise pull every such row into one giant group.
    return [value if value else row_id for value, row_id in zip(columns[spec.group], ids)]


def _split_table(names: Sequence[str], ratios: Sequence[float]) -> list[str]:
    """bucket -> split name, for all 10,000 buckets."""
    table: list[str] = []
    for name, end in zip(names, bucket_edges(ratios)):
        table.extend([name] * (end - len(table)))
    assert len(table) == NUM_BUCKETS
    return table


def _assign_time(columns, spec: SplitSpec, ids, keys, sizes, bucket_by_key, buckets) -> Assignment:
    names = spec.names
    last = len(names) - 1
    times = _times(columns[spec.time_column], ids, spec.time_column)

    # Each group's latest and earliest date (None: undated). Most groups are one row, whose
    # date is both; only rows of larger groups go through the Python loop.
    latest: dict[str, int | None] = dict(zip(keys, times))
    earliest: dict[str, int] = {}
    larger = {key for key, n in sizes.items() if n > 1}
    if larger:
        for key in larger:
            latest[key] = None
        for key, t in compress(zip(keys, times), map(larger.__contains__, keys)):
            if t is not None:
                hi = latest[key]
                if hi is None:
                    latest[key] = earliest[key] = t
                elif t > hi:
                    latest[key] = t
                elif t < earliest[key]:
                    earliest[key] = t

    # Groups in time order: each slice of the spec (and its embargo) is then a run of this list.
    order = sorted([key for key, t in latest.items() if t is not None], key=latest.__getitem__)
    order_times = list(map(latest.__getitem__, order))
    bounds = _boundaries(spec, order_times)
    embargo = round(spec.embargo_days * _DAY_US)

    def position(t: float) -> int:  # first group at or after time t
        return bisect.bisect_left(order_times, t)

    placed: dict[str, str | None] = {}
    embargoed: list[str] = []
    for i, name in enumerate(names):
        start = bounds[i - 1] if i > 0 else -math.inf
        if i == last:
            placed.update(zip(order[position(start):], repeat(name)))
            continue
        keep_end = max(start, bounds[i] - embargo)  # a group whose latest date is in [keep_end, bounds[i]) is embargoed
        placed.update(zip(order[position(start):position(keep_end)], repeat(name)))
        embargoed += order[position(keep_end):position(bounds[i])]
    placed.update(zip(embargoed, repeat(None)))

    straddling = []
    for key in larger:
        hi = latest[key]
        if hi is not None and placed[key] is not None:
            i = bisect.bisect_right(bounds, hi)
            if i > 0 and earliest[key] < bounds[i - 1]:
                straddling.append(key)
    placed.update(zip(straddling, repeat(None)))

    # Undated groups cannot be shown to precede or follow the cutoff: hashed among the earlier splits.
    undated = [key for key, t in latest.items() if t is None]
    earlier_total = math.fsum(spec.ratios[:last])
    undated_table = _split_table(names[:last], [r / earlier_total for r in spec.ratios[:last]])
    placed.update((key, undated_table[bucket_by_key[key]]) for key in undated)

    rows = sizes.__getitem__
    return Assignment(
        spec=spec, split=list(map(placed.__getitem__, keys)), bucket=buckets, group=keys,
        dropped_embargo=sum(map(rows, embargoed)), dropped_straddle=sum(map(rows, straddling)),
        undated=sum(map(rows, undated)),
        cutoffs=tuple(_iso(b) for b in bounds),
    )


def _boundaries(spec: SplitSpec, latest_times: list[int]) -> list[int]:
    """Start (micros since the epoch) of each split after the first, from the spec or the data."""
    if isinstance(spec.cutoff, tuple):
        return [_to_micros(parse_time(v)) for v in spec.cutoff]
    ratios = spec.ratios
    if spec.cutoff is not None:
        cutoff = _to_micros(parse_time(spec.cutoff))
    else:
        cutoff = _quantile(latest_times, 1.0 - ratios[-1])
    # Earlier boundaries split the groups before the cutoff at the earlier splits' relative ratios.
    before = latest_times[: bisect.bisect_left(latest_times, cutoff)]
    earlier = ratios[:-1]
    bounds, total = [], 0.0
    for ratio in earlier[:-1]:
        total += ratio
        bounds.append(min(_quantile(before, total / math.fsum(earlier)), cutoff))
    return [*bounds, cutoff]


def _quantile(sorted_times: list[int], fraction: float) -> int:
    """The time at which `fraction` of the groups lie before (ties go to the later slice)."""
    k = math.floor(len(sorted_times) * fraction + 0.5)
    return sorted_times[k] if k < len(sorted_times) else _NEVER


def _times(values: Sequence, ids: Sequence[str], column: str) -> list[int | None]:
    """Microseconds since the epoch per row (None when the row has no date)."""
    try:  # fast path: aware datetimes and None, as read from the schema's timestamp[us, tz=UTC]
        return [None if v is None else (v - EPOCH) // _ONE_US for v in values]
    except TypeError:  # naive datetimes, or a value that is no datetime: row by row, naming the bad one
        return [_micros(v, row_id, column) for v, row_id in zip(values, ids)]


def _micros(value, row_id: str, column: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _to_micros(value)
    raise SpecError(f"time column {column!r} must hold datetime or None, row {row_id!r} has {value!r}")


def _to_micros(value: datetime) -> int:
    if value.tzinfo is None:  # naive times are UTC, as the schema's timestamp[us, tz=UTC] promises
        return (value - _NAIVE_EPOCH) // _ONE_US
    return (value - EPOCH) // _ONE_US


def _iso(micros: int) -> str:
    return (EPOCH + timedelta(microseconds=micros)).isoformat()
