"""builder.layout: rows in date order cut at aligned date windows, so shards stay put as a corpus grows."""
import numpy as np

from builder.layout import _DAY_US, by_size, cut, order, span_days

DAY = _DAY_US


def _shards(days, sizes, target):
    """The shards (as lists of row numbers) of rows given in id order by their day and size."""
    dates = np.array([0 if d is None else d * DAY for d in days], dtype=np.int64)
    dated = np.array([d is not None for d in days])
    at = order(dates, dated)
    return [at[s].tolist() for s in cut(dates[at], dated[at], np.array(sizes)[at], target)]


def test_order_is_date_then_id_with_undated_rows_last():
    dates = np.array([5, 0, 1, 5, 0], dtype=np.int64)
    dated = np.array([True, False, True, True, False])
    assert order(dates, dated).tolist() == [2, 0, 3, 1, 4]  # rows given in id order: ties keep it


def test_the_window_is_the_largest_power_of_two_within_the_target():
    days = np.arange(100)
    assert span_days(days, np.full(100, 10), target=80) == 8  # 10 bytes a day: 8 days of 80
    assert span_days(days, np.full(100, 10), target=79) == 4
    assert span_days(days, np.full(100, 1000), target=10) == 1  # never less than a day
    assert span_days(np.array([], dtype=np.int64), np.array([]), target=10) == 1


def test_new_articles_change_only_the_last_shards():
    days = list(range(200))
    before = _shards(days, [10] * 200, target=200)
    after = _shards(days + [200, 200, 201], [10] * 203, target=200)  # the newest articles arrive
    assert len(before) > 5 and after[:-1] == before[:-1]
    assert set(after[-1]) >= set(before[-1]) | {200, 201, 202}


def test_a_late_older_article_changes_only_the_shard_of_its_window():
    days = list(range(200))
    before = _shards(days, [10] * 200, target=200)
    after = _shards(days + [37], [10] * 201, target=200)  # row 200 is dated day 37
    changed = [k for k, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(after) == len(before) and len(changed) == 1 and 200 in after[changed[0]]


def test_a_date_decades_off_does_not_move_the_window():
    days, sizes = np.arange(200), np.full(200, 10)
    assert span_days(np.append(days, 20_000), np.append(sizes, 10), target=200) == span_days(days, sizes, target=200)
    assert span_days(np.append(days, -20_000), np.append(sizes, 10), target=200) == span_days(days, sizes, target=200)


def test_a_burst_window_is_cut_by_size_and_undated_rows_go_last():
    days = [0] * 50 + [None] * 3
    shards = _shards(days, [10] * 53, target=100)
    assert [len(s) for s in shards] == [10, 10, 10, 10, 10, 3] and shards[-1] == [50, 51, 52]


def test_by_size_keeps_a_large_row_alone():
    assert by_size(np.array([5, 50, 5, 5]), 10) == [slice(0, 1), slice(1, 2), slice(2, 4)]
