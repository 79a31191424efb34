"""Date strings as archives write them -> an aware UTC datetime.

Handles RFC-822 (`Fri, 25 Mar 2022 02:14:53 GMT`), ISO-8601 with `Z`, `+09:00`, `+0900`
or no zone, date only, `2021-11-26 07:21:47`, Jekyll's `2018-04-09 12:30 +0800`, and
ctime-like `Fri Mar  9 12:00:00 CST 2024`. A date without a zone is read in a configurable
zone (default UTC) and the zone used is reported, so the reading can be undone.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Zone abbreviations seen in archives. CST is China Standard Time here: these are Chinese
# archives, where `date` prints CST for UTC+8 (not US Central).
ZONE_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "CST": 8, "HKT": 8, "SGT": 8, "JST": 9, "KST": 9,
    "EST": -5, "EDT": -4, "PST": -8, "PDT": -7, "CET": 1, "CEST": 2, "BST": 1,
}
_MIN_YEAR, _MAX_YEAR = 1900, 2200  # outside this, a date is a placeholder or a typo
_ABBR = "|".join(sorted(ZONE_ABBREVIATIONS, key=len, reverse=True))
_CTIME = re.compile(
    r"^(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+"
    r"(?:(" + _ABBR + r")\s+)?(\d{4})$")
_ISOISH = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2}|" + _ABBR + r")?$")
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}


def resolve_zone(name: str) -> timezone | ZoneInfo:
    """'UTC', 'Asia/Shanghai', '+08:00' -> a tzinfo; ValueError naming the value otherwise."""
    if name.upper() in ZONE_ABBREVIATIONS:
        return timezone(timedelta(hours=ZONE_ABBREVIATIONS[name.upper()]))
    if m := re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name):
        return _offset(m.group(0))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Asia/Shanghai' or an offset '+08:00'")


def parse_date(value: str, naive_zone: str = "UTC") -> tuple[datetime | None, bool]:
    """Return (UTC datetime or None, zone_assumed). zone_assumed is True when the string
    carried no zone and `naive_zone` was applied."""
    s = " ".join(str(value).split()).strip("'\"")
    if not s:
        return None, False
    parsed = _parse(s)
    if parsed is None:
        return None, False
    dt, has_zone = parsed
    if not _MIN_YEAR <= dt.year <= _MAX_YEAR:
        return None, False
    if not has_zone:
        dt = dt.replace(tzinfo=resolve_zone(naive_zone))
    return dt.astimezone(timezone.utc), not has_zone


def _parse(s: str) -> tuple[datetime, bool] | None:
    if m := _ISOISH.match(s):
        y, mo, d, h, mi, sec, frac, zone = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0),
                          int((frac or "0").ljust(6, "0")))
            if zone is None:  # a bare date too: midnight in the zone the caller assumes, and say so
                return dt, False
            return dt.replace(tzinfo=_zone(zone)), True
        except ValueError:  # 0000-00-00, month 13, an offset of +99:00 ...
            return None
    if m := _CTIME.match(s):
        mon, day, h, mi, sec, zone, year = m.groups()
        if mon.lower() not in _MONTHS:
            return None
        try:
            dt = datetime(int(year), _MONTHS[mon.lower()], int(day), int(h), int(mi), int(sec or 0))
        except ValueError:
            return None
        return (dt.replace(tzinfo=_zone(zone)), True) if zone else (dt, False)
    if "," in s or re.search(r"[A-Za-z]{3}\s+\d{4}", s):
        try:
            dt = parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: a day of 80 digits
            return None
        # RFC 2822 says -0000 means "zone unknown"; email.utils returns it naive.
        return (dt, True) if dt.tzinfo is not None else (dt, False)
    return None


def _zone(token: str) -> timezone:
    if token.upper() in ZONE_ABBREVIATIONS:
        return timezone(timedelta(hours=ZONE_ABBREVIATIONS[token.upper()]))
    return _offset(token)


def _offset(token: str) -> timezone:
    sign = -1 if token[0] == "-" else 1
    digits = token[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))

