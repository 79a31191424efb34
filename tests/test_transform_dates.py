from datetime import datetime, timezone

import pytest

from builder.transform.dates import parse_date, resolve_zone


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize("value,expected,assumed", [
    ("Fri, 25 Mar 2022 02:14:53 GMT", utc(2022, 3, 25, 2, 14, 53), False),
    ("Thu, 20 Jan 2022 01:23:07 +0900", utc(2022, 1, 19, 16, 23, 7), False),
    ("2023-06-01T10:00:00Z", utc(2023, 6, 1, 10), False),
    ("2023-06-01T10:00:00.000Z", utc(2023, 6, 1, 10), False),
    ("2023-06-01T10:00:00+0900", utc(2023, 6, 1, 1), False),
    ("2023-06-01T10:00:00+09:00", utc(2023, 6, 1, 1), False),
    ("2023-06-01T10:00:00-04:00", utc(2023, 6, 1, 14), False),
    ("'2023-06-01T10:00:00Z'", utc(2023, 6, 1, 10), False),
    ("2023-05-10", utc(2023, 5, 10), True),
    ("2018-04-09 12:30 +0800", utc(2018, 4, 9, 4, 30), False),
    ("Fri Mar  9 12:00:00 CST 2024", utc(2024, 3, 9, 4), False),
    ("2021-11-26 07:21:47", utc(2021, 11, 26, 7, 21, 47), True),
    ("2023-06-01T10:00:00.123456", utc(2023, 6, 1, 10, 0, 0, 123456), True),
])
def test_formats(value, expected, assumed):
    assert parse_date(value) == (expected, assumed)


def test_naive_dates_read_in_configured_zone():
    assert parse_date("2021-11-26 07:21:47", "Asia/Shanghai") == (utc(2021, 11, 25, 23, 21, 47), True)
    assert parse_date("2021-11-26 07:21:47", "+09:00")[0] == utc(2021, 11, 25, 22, 21, 47)


@pytest.mark.parametrize("value", ["", "0000-00-00", "yesterday", "Invalid Date", "{DATE}", "2024-13-01",
                                   "Fri, 99 Foo 2022 99:99:99 GMT"])
def test_unparseable_is_none(value):
    assert parse_date(value) == (None, False)


def test_unknown_zone_names_the_value():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        resolve_zone("Mars/Olympus")
