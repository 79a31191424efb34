import json
from datetime import datetime, timedelta, timezone

from splits import Assignment, SplitSpec, assign, audit, format_audit

UTC = timezone.utc
D = datetime(2024, 3, 1, tzinfo=UTC)


def test_grouped_hash_split_audits_clean():
    columns = {
        "id": [f"r{i}" for i in range(300)],
        "content_sha256": [f"h{i % 100}" for i in range(300)],
    }
    report = audit(columns, assign(columns, SplitSpec()))
    assert report["duplicate_texts_across_splits"] == 0
    assert report["group_straddles"] == 0
    assert report["ok"] is True
    assert sum(report["counts"].values()) == 300
    json.dumps(report)


def test_duplicate_texts_across_splits_are_counted_when_not_grouped_by_text():
    columns = {
        "id": [f"r{i}" for i in range(300)],
        "content_sha256": [f"h{i % 100}" for i in range(300)],
    }
    result = assign(columns, SplitSpec(group=None))
    splits_of_text: dict = {}
    for text, name in zip(columns["content_sha256"], result.split):
        splits_of_text.setdefault(text, set()).add(name)
    spread = sorted(text for text, names in splits_of_text.items() if len(names) > 1)
    report = audit(columns, result)
    assert report["duplicate_texts_across_splits"] == len(spread) > 0
    assert report["duplicate_text_examples"] == spread[:5]
    assert report["ok"] is False


def test_group_straddles_are_counted_from_the_outcome():
    spec = SplitSpec()
    made_by_hand = Assignment(spec=spec, split=["train", "test", "train", None], bucket=[0] * 4, group=["g", "g", "h", "h"])
    columns = {"id": ["a", "b", "c", "d"]}
    report = audit(columns, made_by_hand, text_hash_column="content_sha256")
    assert report["group_straddles"] == 1 and report["group_straddle_examples"] == ["g"]
    assert report["duplicate_texts_across_splits"] is None  # no text hash column: not checked
    assert report["counts"] == {"train": 2, "test": 1}
    assert report["ok"] is False


def test_time_report_gives_latest_train_and_earliest_test():
    columns = {
        "id": ["a", "b", "c", "d", "e"],
        "content_sha256": ["1", "2", "3", "4", "5"],
        "date": [D - timedelta(days=10), D - timedelta(days=3), D - timedelta(days=1), D + timedelta(hours=6), None],
    }
    report = audit(columns, assign(columns, SplitSpec(strategy="time", cutoff="2024-03-01", embargo_days=2)))
    t = report["time"]
    assert t["latest_train_date"] == "2024-02-27T00:00:00+00:00"
    assert t["earliest_test_date"] == "2024-03-01T06:00:00+00:00"
    assert t["gap_days"] == 3.25
    assert t["cutoffs"] == ["2024-03-01T00:00:00+00:00"]
    assert t["undated"] == 1 and t["order_ok"] is True
    assert report["dropped"] == {"embargo": 1, "crossing": 0}
    assert report["ok"] is True
    json.dumps(report)


def test_time_order_violation_fails_the_audit():
    spec = SplitSpec(strategy="time", cutoff="2024-03-01")
    columns = {"id": ["a", "b"], "date": [D + timedelta(days=1), D]}
    wrong = Assignment(spec=spec, split=["train", "test"], bucket=[0, 0], group=["a", "b"])
    report = audit(columns, wrong)
    assert report["time"]["order_ok"] is False and report["ok"] is False
    assert report["time"]["gap_days"] == -1.0


def test_strata_are_broken_down_with_their_deviation():
    columns = {
        "id": [f"r{i}" for i in range(1000)],
        "content_sha256": [f"h{i}" for i in range(1000)],
        "feed": ["big"] * 990 + ["tiny"] * 9 + [None],
    }
    report = audit(columns, assign(columns, SplitSpec(stratify="feed")))
    strata = report["strata"]
    assert [s["stratum"] for s in strata] == [None, "big", "tiny"]
    assert [s["rows"] for s in strata] == [1, 990, 9]
    big = strata[1]
    assert sum(big["counts"].values()) == 990
    assert big["deviation_points"] == round(100 * abs(big["counts"]["test"] / 990 - 0.1), 2)
    json.dumps(report)


def test_format_audit_is_a_few_readable_lines():
    columns = {"id": ["a", "b"], "content_sha256": ["1", "2"], "date": [D - timedelta(days=5), D], "feed": ["x", "y"]}
    spec = SplitSpec(strategy="time", cutoff="2024-03-01", stratify="feed")
    text = format_audit(audit(columns, assign(columns, spec)))
    assert "splits: train 1, test 1" in text
    assert "latest train date 2024-02-25T00:00:00+00:00 vs earliest test date 2024-03-01T00:00:00+00:00" in text
    assert text.endswith("audit: OK")


def test_copy_leaks_counts_later_split_rows_with_a_copy_in_the_first():
    from splits import copy_leaks

    pairs = [("a", "train", "b", "test"),          # b leaks
             ("c", "validation", "d", "train"),    # c leaks
             ("e", "test", "f", "validation"),     # neither is train: not a leak into training
             ("g", "train", "h", "train"),         # same split
             ("i", "train", "j", None),            # j was dropped (a duplicate): nothing to leak
             ("b", "test", "k", "train")]          # b again: counted once
    assert copy_leaks(pairs, "train") == {"copies_across_splits": 2, "copy_examples": ["b", "c"]}
    assert copy_leaks([], "train") == {"copies_across_splits": 0, "copy_examples": []}
