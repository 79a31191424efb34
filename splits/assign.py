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
    placed by its latest date: rows strictly before the cutoff go to the earlier splits,
    rows at or after it to the last. The embargo drops every group whose latest date falls
    within `embargo_days` before any boundary (`dropped_embargo`), and a group whose
    earliest date lies before the slice its latest date falls in is dropped too
    (`dropped_crossing`): otherwise a test row could be older than a train row. Hence every
    dated row of a later split is at or after the boundary, and every dated row of an
    earlier split more than the embargo before it.
    The cutoff, when not given, is the quantile of group times (each group's latest date)
    that gives the last split its share. A quantile moves as the corpus grows, so the
    manifest pins the boundaries actually used (`Assignment.pinned_spec`); pin `cutoff`
    yourself for splits that stay put across rebuilds (a row then moves only when rows
    added to its own group change the group's dates).
    Groups with no date at all cannot be shown to predate the cutoff nor to follow it;
    they go by hash among the earlier splits (never the last), at the earlier splits'
    relative ratios, and are counted (`undated`).

stratify
    A rule that is stable under growth must give each group a split from the group alone:
    if adding rows may never move a row, then the row's split in the full corpus equals
    its split in a corpus holding just its group. So no stable rule can use the other rows
    of a stratum to balance it, and each stratum's share is binomial around the ratio
    whatever is done (sd = sqrt(r(1-r)/n) for n groups; for r = 0.1, 1 point at 1,000
    groups, 7 points at 20). We keep stability, the issue's first promise, and per-group
    hashing; the stratum never enters the hash, so relabelling a feed moves nothing.
    `stratify` names the column the audit breaks shares down by, so a skewed small
    stratum is visible rather than silent. The rejected alternative, a quota by hash rank
    within each stratum, is exact to one group but moves rows near the quota line
    whenever the stratum grows.
"""
from __future__ import annotations

import bisect
import math
import operator
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from itertools import compress, repeat

from .errors import SpecError
from .hashing import NUM_BUCKETS, bucket_edges, buckets_of
from .spec import SplitSpec, parse_time

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NAIVE_EPOCH = EPOCH.replace(tzinfo=None)
_ONE_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
# Stands for "no date" where times must be ints: below any datetime (year 1 is -6.2e16).
_UNDATED = -(2**62)
# A boundary no row reaches (a quantile on too few groups to give the last split any).
_NEVER = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc) - EPOCH) // _ONE_US


@dataclass(frozen=True, kw_only=True)
class Assignment:
    """The outcome of `assign`, one entry per input row in input order.

    split: split name, or None for a row dropped by the time rules (embargo or crossing).
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
    dropped_crossing: int = 0
    undated: int = 0
    cutoffs: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """Rows per split, every split of the spec included (in spec order)."""
        return {name: self.split.count(name) for name in self.spec.names}

    def dropped(self) -> dict[str, int]:
        return {"embargo": self.dropped_embargo, "crossing": self.dropped_crossing}

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
    try:
        buckets = buckets_of(keys, spec.salt)
    except TypeError as e:
        raise SpecError(f"group column {spec.group!r} must hold strings: {e}") from None
    if spec.strategy == "hash":
        split = list(map(_split_table(spec.names, spec.ratios).__getitem__, buckets))
        return Assignment(spec=spec, split=split, bucket=buckets, group=keys)
    return _assign_time(columns, spec, ids, keys, buckets)


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


def _assign_time(columns, spec: SplitSpec, ids, keys, buckets) -> Assignment:
    # Per-row work is done by C-level map/bisect over plain lists: at a million rows,
    # a Python loop per row or per group costs more than the whole hash strategy.
    names, last = spec.names, len(spec.names) - 1
    row_time = _times(columns[spec.time_column], ids, spec.time_column, undated=_UNDATED)

    # A row stands for its group by the group's latest date; only groups of several rows
    # need gathering (and can cross a boundary). Plain int dicts, not [lo, hi] lists,
    # spare the garbage collector a container per group.
    sizes = Counter(keys)
    earliest: dict[str, int] = {}
    latest: dict[str, int] = {}
    in_larger = None
    if len(sizes) < len(keys):
        larger = {key for key, n in sizes.items() if n > 1}
        in_larger = list(map(larger.__contains__, keys))
        for key, t in compress(zip(keys, row_time), in_larger):
            if t > latest.get(key, _UNDATED - 1):
                latest[key] = t
            if t != _UNDATED and t < earliest.get(key, _NEVER + 1):
                earliest[key] = t
        for i in compress(range(len(keys)), in_larger):
            row_time[i] = latest[keys[i]]

    def group_times() -> list[int]:  # sorted latest date of each dated group; only quantiles need it
        one_row_groups = compress(row_time, map(operator.not_, in_larger)) if in_larger else row_time
        times = sorted([*one_row_groups, *latest.values()])
        return times[bisect.bisect_right(times, _UNDATED):]

    bounds = _boundaries(spec, group_times)

    # The time line as regions: undated, then per split its kept slice and (but the last)
    # its embargo, the `embargo_days` before the next split's start.
    embargo = round(spec.embargo_days * _DAY_US)
    points, labels = [_UNDATED + 1], [None]  # region 0 (undated) is placed by hash below
    for i, name in enumerate(names[:last]):
        start = bounds[i - 1] if i else _UNDATED + 1
        points += [max(start, bounds[i] - embargo), bounds[i]]
        labels += [name, None]
    labels.append(names[last])
    region = list(map(bisect.bisect_right, repeat(points), row_time))

    # Undated groups cannot be shown to precede or follow the cutoff: hashed among the earlier splits.
    earlier = spec.ratios[:last]
    undated_table = _split_table(names[:last], [r / math.fsum(earlier) for r in earlier])
    split = [labels[r] if r else undated_table[b] for r, b in zip(region, buckets)]

    # A group whose earliest date falls before its slice would put an older row in a later split.
    crossing = {
        key for key, lo in earliest.items()
        if labels[bisect.bisect_right(points, latest[key])] is not None and _slice_start(points, latest[key]) > lo
    }
    if crossing:
        for i in compress(range(len(keys)), in_larger):
            if keys[i] in crossing:
                split[i] = None
    return Assignment(
        spec=spec, split=split, bucket=buckets, group=keys,
        dropped_embargo=sum(region.count(r) for r in range(2, len(labels), 2)),
        dropped_crossing=sum(sizes[key] for key in crossing),
        undated=region.count(0),
        cutoffs=tuple(_iso(b) for b in bounds),
    )


def _slice_start(points: list[int], t: int) -> int:
    """Start of the region holding t."""
    return points[bisect.bisect_right(points, t) - 1]


def _boundaries(spec: SplitSpec, group_times) -> list[int]:
    """Start (micros since the epoch) of each split after the first, from the spec or the data.

    `group_times()` gives the sorted latest date of every dated group.
    """
    if isinstance(spec.cutoff, tuple):
        return [_to_micros(parse_time(v)) for v in spec.cutoff]
    latest_times = group_times()
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


def _times(values: Sequence, ids: Sequence[str], column: str, *, undated=None) -> list:
    """Microseconds since the epoch per row (`undated` when the row has no date)."""
    try:  # fast path: aware datetimes and None, as read from the schema's timestamp[us, tz=UTC]
        return [undated if v is None else (v - EPOCH) // _ONE_US for v in values]
    except TypeError:  # naive datetimes, or a value that is no datetime: row by row, naming the bad one
        times = [_micros(v, row_id, column) for v, row_id in zip(values, ids)]
        return [undated if t is None else t for t in times]


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
