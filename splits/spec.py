"""SplitSpec: what a split should be (names, ratios, strategy, salt, columns, cutoff, embargo).

A spec is validated when it is built, so a bad setting fails before any row is read.
It round-trips through `to_dict`/`from_dict` (JSON-safe) and loads from TOML:

    strategy = "hash"            # or "time"
    salt = "corpus-builder/v1"
    group = "content_sha256"     # "id" groups by row id (TOML has no null)

    [splits]                     # in order: buckets / time slices are given out in this order
    train = 0.8
    validation = 0.1
    test = 0.1
"""
from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from os import PathLike

from .errors import SpecError
from .hashing import NUM_BUCKETS, bucket_edges

STRATEGIES = ("hash", "time")
SPLIT_NAME = re.compile(r"\w+(\.\w+)*")  # what `datasets` accepts as a split name (and safe in a file name)


@dataclass(frozen=True)
class SplitSpec:
    """How rows are split. See `splits.assign` for what each strategy does with these fields.

    cutoff (time only): None = the quantile giving the last split its share; an ISO date or
    datetime = the start of the last split (a date means 00:00 UTC, a naive time is UTC);
    a sequence of len(splits) - 1 ISO values = the start of every split after the first.
    """

    splits: tuple[tuple[str, float], ...] = (("train", 0.9), ("test", 0.1))
    strategy: str = "hash"
    salt: str = "corpus-builder/v1"
    group: str | None = "content_sha256"
    stratify: str | None = None
    time_column: str = "date"
    cutoff: str | tuple[str, ...] | None = None
    embargo_days: float = 0

    def __post_init__(self) -> None:
        # Normalise containers so that equal specs compare (and hash) equal whatever was passed in.
        object.__setattr__(self, "splits", _check_splits(self.splits))
        if isinstance(self.cutoff, (list, tuple)):
            object.__setattr__(self, "cutoff", tuple(self.cutoff))
        if self.strategy not in STRATEGIES:
            raise SpecError(f"unknown split strategy {self.strategy!r}; use one of {', '.join(STRATEGIES)}")
        if not isinstance(self.salt, str) or "\x00" in self.salt:
            raise SpecError(f"salt must be a string without NUL characters, got {self.salt!r}")
        for name in ("group", "stratify"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise SpecError(f"{name} must be a column name or None, got {value!r}")
        if not isinstance(self.time_column, str) or not self.time_column:
            raise SpecError(f"time_column must be a column name, got {self.time_column!r}")
        embargo = self.embargo_days
        if not _is_number(embargo) or not math.isfinite(embargo) or embargo < 0:
            raise SpecError(f"embargo_days must be a number >= 0, got {embargo!r}")
        object.__setattr__(self, "embargo_days", float(embargo))
        if self.strategy == "time":
            self._check_time()
        elif self.cutoff is not None or self.embargo_days:
            raise SpecError(
                f"cutoff={self.cutoff!r} and embargo_days={self.embargo_days!r} apply only to "
                f"strategy='time'; remove them or set strategy='time'"
            )

    def _check_time(self) -> None:
        if len(self.splits) < 2:
            raise SpecError(f"strategy='time' needs at least two splits, got {list(self.names)}")
        if self.cutoff is None:
            return
        values = (self.cutoff,) if isinstance(self.cutoff, str) else self.cutoff
        if not isinstance(self.cutoff, str) and len(values) != len(self.splits) - 1:
            raise SpecError(
                f"cutoff has {len(values)} values {list(values)} but {len(self.splits)} splits need "
                f"{len(self.splits) - 1} (the start of each split after the first), or give one value"
            )
        starts = [parse_time(v) for v in values]
        if starts != sorted(starts):
            raise SpecError(f"cutoff values must be in ascending order, got {list(values)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.splits)

    @property
    def ratios(self) -> tuple[float, ...]:
        return tuple(ratio for _, ratio in self.splits)

    def to_dict(self) -> dict:
        """JSON-safe form; `SplitSpec.from_dict(spec.to_dict()) == spec`."""
        return {
            "splits": [[name, ratio] for name, ratio in self.splits],
            "strategy": self.strategy,
            "salt": self.salt,
            "group": self.group,
            "stratify": self.stratify,
            "time_column": self.time_column,
            "cutoff": list(self.cutoff) if isinstance(self.cutoff, tuple) else self.cutoff,
            "embargo_days": self.embargo_days,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SplitSpec:
        """Build from `to_dict` output or a TOML table.

        `splits` may be a table {name: ratio} (in order) or a list of [name, ratio] pairs.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise SpecError(f"unknown split spec key(s) {unknown}; known keys are {sorted(known)}")
        return cls(**d)

    @classmethod
    def from_toml(cls, path: str | PathLike, *, table: str | None = None) -> SplitSpec:
        """Load from a TOML file: the whole file, or the table named `table` (e.g. "split") within it."""
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise SpecError(f"split spec {str(path)!r} is not valid TOML: {e}") from None
        except OSError as e:
            raise SpecError(f"cannot read the split spec {str(path)!r} ({e.strerror}): check the path") from None
        if table is not None:
            if not isinstance(data.get(table), dict):
                raise SpecError(f"split spec {str(path)!r} has no [{table}] table")
            data = data[table]
        return cls.from_dict(data)

    @classmethod
    def from_sizes(cls, test_size: float = 0.1, validation_size: float = 0.0, **kw) -> SplitSpec:
        """train / validation / test from CLI-style sizes; validation is left out when its size is 0."""
        if not _is_number(test_size) or not 0 < test_size < 1:
            raise SpecError(f"test_size must be a number in (0, 1), got {test_size!r}")
        if not _is_number(validation_size) or not 0 <= validation_size < 1:
            raise SpecError(f"validation_size must be a number in [0, 1), got {validation_size!r}")
        # Rounded so that 1 - 0.1 - 0.1 is stored as 0.8, not 0.7999999999999999.
        train = round(1.0 - test_size - validation_size, 12)
        if train <= 0:
            raise SpecError(
                f"test_size + validation_size must be below 1 to leave rows for train, got {test_size} + {validation_size}"
            )
        splits = [("train", train)]
        if validation_size:
            splits.append(("validation", float(validation_size)))
        splits.append(("test", float(test_size)))
        return cls(splits=tuple(splits), **kw)


def _check_splits(splits) -> tuple[tuple[str, float], ...]:
    if isinstance(splits, Mapping):
        splits = splits.items()
    try:
        pairs = [(name, ratio) for name, ratio in splits]
    except (TypeError, ValueError):
        raise SpecError(f"splits must be (name, ratio) pairs, got {splits!r}") from None
    if not pairs:
        raise SpecError("splits is empty; give at least one (name, ratio) pair, e.g. ('train', 1.0)")
    for name, ratio in pairs:
        if not isinstance(name, str) or not SPLIT_NAME.fullmatch(name):
            raise SpecError(
                f"split name must be word characters (dots between words), as `datasets` requires, got {name!r}"
            )
        if not _is_number(ratio) or not math.isfinite(ratio) or ratio <= 0:
            raise SpecError(f"ratio of split {name!r} must be a positive number, got {ratio!r}")
    names = [name for name, _ in pairs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise SpecError(f"split names must be unique, {duplicated} appear more than once in {names}")
    total = math.fsum(ratio for _, ratio in pairs)
    if abs(total - 1.0) > 1e-9:
        raise SpecError(f"split ratios must sum to 1, got {total!r} for {pairs}")
    edges = bucket_edges([ratio for _, ratio in pairs])
    for (name, ratio), start, end in zip(pairs, [0, *edges], edges):
        if end <= start:
            raise SpecError(
                f"ratio of split {name!r} is {ratio!r}, less than one of {NUM_BUCKETS} buckets; "
                f"use at least {1 / NUM_BUCKETS}"
            )
    return tuple((name, float(ratio)) for name, ratio in pairs)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_time(value: str) -> datetime:
    """An ISO date or datetime as an aware UTC datetime (a date is 00:00 UTC; a naive time is UTC)."""
    if not isinstance(value, str):
        raise SpecError(f"cutoff must be an ISO date or datetime string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)  # a date alone parses as its midnight
    except ValueError:
        raise SpecError(
            f"cutoff {value!r} is not an ISO date or datetime; write e.g. '2024-06-01' or '2024-06-01T08:00:00+08:00'"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
