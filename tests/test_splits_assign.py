import bisect
import hashlib
import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splits import SpecError, SplitSpec, assign, bucket_edges, bucket_of

UTC = timezone.utc
DAY0 = datetime(2024, 1, 1, tzinfo=UTC)


def rows(n, *, dup_every=0, seed=0, undated_every=0, days=365):
    """n rows like the corpus: hex ids, content hashes (every dup_every-th repeats an earlier one), dates."""
    rng = random.Random(seed)
    ids, hashes, dates, feeds = [], [], [], []
    for i in range(n):
        ids.append(hashlib.sha256(f"id{seed}-{i}".encode()).hexdigest()[:16])
        source = rng.randrange(i) if dup_every and i and i % dup_every == 0 else i
        hashes.append(hashlib.sha256(f"text{seed}-{source}".encode()).hexdigest())
        dates.append(None if undated_every and i % undated_every == 1 else DAY0 + timedelta(seconds=rng.randrange(days * 86400)))
        feeds.append(f"feed{rng.randrange(7)}")
    return {"id": ids, "content_sha256": hashes, "date": dates, "feed": feeds}


def subset(columns, keep):
    return {name: [v for v, k in zip(values, keep) if k] for name, values in columns.items()}


def permuted(columns, seed):
    order = list(range(len(columns["id"])))
    random.Random(seed).shuffle(order)
    return {name: [values[i] for i in order] for name, values in columns.items()}


def split_of(columns, result):
    return dict(zip(columns["id"], result.split))


def ids_by_split(columns, result):
    return result.ids_by_split(columns["id"])


HASH_SPECS = [
    SplitSpec(),
    SplitSpec.from_sizes(test_size=0.1, validation_size=0.1, salt="other"),
    SplitSpec(group=None, stratify="feed"),
]
TIME_SPECS = [
    SplitSpec.from_sizes(test_size=0.1, strategy="time"),
    SplitSpec.from_sizes(test_size=0.2, validation_size=0.1, strategy="time", embargo_days=3),
    SplitSpec(strategy="time", cutoff="2024-10-01", embargo_days=7.5),
]


# --- hash ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", HASH_SPECS + TIME_SPECS)
def test_row_order_does_not_matter(spec):
    columns = rows(3000, dup_every=5, undated_every=50)
    first = assign(columns, spec)
    for seed in (1, 2):
        shuffled = permuted(columns, seed)
        again = assign(shuffled, spec)
        assert ids_by_split(shuffled, again) == ids_by_split(columns, first)
        assert split_of(shuffled, again) == split_of(columns, first)


@pytest.mark.parametrize("spec", HASH_SPECS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_growing_the_corpus_never_moves_a_row(spec, seed):
    full = rows(5000, dup_every=4, seed=seed)
    rng = random.Random(seed)
    part = subset(full, [rng.random() < 0.9 for _ in full["id"]])
    before = split_of(part, assign(part, spec))
    after = split_of(full, assign(full, spec))
    assert {i: after[i] for i in before} == before


@pytest.mark.parametrize("spec", HASH_SPECS + TIME_SPECS)
def test_no_group_in_two_splits(spec):
    columns = rows(4000, dup_every=3, undated_every=40)
    result = assign(columns, spec)
    where: dict = {}
    for key, name in zip(result.group, result.split):
        if name is not None:
            assert where.setdefault(key, name) == name
    assert result.group == [h if spec.group else i for h, i in zip(columns["content_sha256"], columns["id"])]


@pytest.mark.parametrize("salt", ["corpus-builder/v1", "a", "b", "c"])
@pytest.mark.parametrize("splits", [(("train", 0.9), ("test", 0.1)), (("train", 0.8), ("validation", 0.1), ("test", 0.1))])
def test_shares_within_one_point_on_ten_thousand_rows(salt, splits):
    columns = rows(12_000, seed=len(salt))
    counts = assign(columns, SplitSpec(splits=splits, salt=salt)).counts()
    for name, ratio in splits:
        assert abs(counts[name] / 12_000 - ratio) < 0.01, counts


def test_hash_split_follows_the_bucket_ranges():
    spec = SplitSpec.from_sizes(test_size=0.25, validation_size=0.25, group=None)
    columns = rows(500)
    result = assign(columns, spec)
    edges = bucket_edges(spec.ratios)
    for row_id, bucket, name in zip(columns["id"], result.bucket, result.split):
        assert bucket == bucket_of(row_id, spec.salt)
        assert name == spec.names[bisect.bisect_right(edges, bucket)]


def test_carving_validation_out_of_train_leaves_test_alone():
    columns = rows(3000)
    before = assign(columns, SplitSpec.from_sizes(test_size=0.1))
    after = assign(columns, SplitSpec.from_sizes(test_size=0.1, validation_size=0.1))
    assert ids_by_split(columns, after)["test"] == ids_by_split(columns, before)["test"]


def test_null_or_empty_group_key_means_the_row_is_its_own_group():
    columns = {"id": ["a", "b", "c"], "content_sha256": [None, "", "h"]}
    result = assign(columns, SplitSpec())
    assert result.group == ["a", "b", "h"]


def test_group_by_any_column():
    columns = {"id": [f"r{i}" for i in range(400)], "story": [f"s{i % 10}" for i in range(400)]}
    result = assign(columns, SplitSpec(group="story"))
    assert len({(key, name) for key, name in zip(result.group, result.split)}) == 10


def test_stratify_does_not_change_the_split():
    columns = rows(2000)
    plain = assign(columns, SplitSpec())
    stratified = assign(columns, SplitSpec(stratify="feed"))
    assert plain.split == stratified.split


def test_empty_input():
    result = assign({"id": [], "content_sha256": [], "date": []}, TIME_SPECS[1])
    assert result.split == [] and result.counts() == {"train": 0, "validation": 0, "test": 0}


@pytest.mark.parametrize(
    "columns, spec, quoted",
    [
        ({"id": ["a"]}, SplitSpec(), "'content_sha256'"),
        ({"id": ["a"], "content_sha256": ["x"]}, SplitSpec(stratify="feed"), "'feed'"),
        ({"id": ["a", "b"], "content_sha256": ["x"]}, SplitSpec(), "lengths"),
        ({"id": ["a", "a"], "content_sha256": ["x", "y"]}, SplitSpec(), "'a'"),
        ({"id": ["a", 7], "content_sha256": ["x", "y"]}, SplitSpec(), "7"),
        ({"id": ["a", "b"], "content_sha256": ["x", 12345]}, SplitSpec(), "12345"),
        ({"id": ["a"], "content_sha256": ["x"]}, SplitSpec(strategy="time"), "'date'"),
        ({"id": ["a"], "content_sha256": ["x"], "date": ["2024-01-01"]}, SplitSpec(strategy="time"), "'2024-01-01'"),
    ],
)
def test_bad_columns_are_named(columns, spec, quoted):
    with pytest.raises(SpecError) as err:
        assign(columns, spec)
    assert quoted in str(err.value)


# --- time ---------------------------------------------------------------------------------


def dated_ranges(columns, result):
    """split -> (earliest, latest) over dated rows."""
    out: dict = {}
    for date, name in zip(columns["date"], result.split):
        if date is not None and name is not None:
            lo, hi = out.get(name, (date, date))
            out[name] = (min(lo, date), max(hi, date))
    return out


@pytest.mark.parametrize("spec", TIME_SPECS)
@pytest.mark.parametrize("seed", [0, 1])
def test_each_split_is_later_than_the_one_before_plus_the_embargo(spec, seed):
    columns = rows(5000, dup_every=4, seed=seed, undated_every=60)
    result = assign(columns, spec)
    ranges = dated_ranges(columns, result)
    embargo = timedelta(days=spec.embargo_days)
    for before, after in zip(spec.names, spec.names[1:]):
        assert ranges[before][1] + embargo < ranges[after][0]
    assert result.dropped_embargo > 0 or not spec.embargo_days


def test_quantile_cutoff_gives_the_last_split_its_share():
    columns = rows(10_000)
    result = assign(columns, SplitSpec.from_sizes(test_size=0.1, validation_size=0.1, strategy="time"))
    counts = result.counts()
    assert counts == {"train": 8000, "validation": 1000, "test": 1000}
    assert result.cutoffs[0] < result.cutoffs[1]


def test_explicit_cutoff_is_strict_before_and_inclusive_after():
    at = datetime(2024, 3, 1, tzinfo=UTC)
    columns = {
        "id": ["before", "at", "after"],
        "content_sha256": ["1", "2", "3"],
        "date": [at - timedelta(microseconds=1), at, at + timedelta(days=1)],
    }
    result = assign(columns, SplitSpec(strategy="time", cutoff="2024-03-01"))
    assert result.split == ["train", "test", "test"]
    assert result.cutoffs == ("2024-03-01T00:00:00+00:00",)


def test_embargo_drops_the_days_before_the_cutoff_and_counts_them():
    cutoff = datetime(2024, 3, 1, tzinfo=UTC)
    dates = [cutoff - timedelta(days=d) for d in (10, 3.01, 3, 1, 0.5)] + [cutoff]
    columns = {"id": [f"r{i}" for i in range(6)], "content_sha256": [f"h{i}" for i in range(6)], "date": dates}
    result = assign(columns, SplitSpec(strategy="time", cutoff="2024-03-01", embargo_days=3))
    assert result.split == ["train", "train", None, None, None, "test"]
    assert (result.dropped_embargo, result.dropped_crossing) == (3, 0)


def test_a_group_is_placed_by_its_latest_date():
    columns = {
        "id": ["a1", "a2", "b1"],
        "content_sha256": ["A", "A", "B"],
        "date": [datetime(2024, 2, 27, tzinfo=UTC), datetime(2024, 2, 28, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)],
    }
    result = assign(columns, SplitSpec(strategy="time", cutoff="2024-03-01"))
    assert result.split == ["train", "train", "test"]


def test_a_group_spanning_the_cutoff_is_dropped_and_counted():
    columns = {
        "id": ["old", "new", "x"],
        "content_sha256": ["A", "A", "B"],
        "date": [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)],
    }
    result = assign(columns, SplitSpec(strategy="time", cutoff="2024-03-01"))
    assert result.split == [None, None, "test"]
    assert (result.dropped_embargo, result.dropped_crossing) == (0, 2)


def test_undated_groups_go_by_hash_among_the_earlier_splits():
    columns = rows(4000, undated_every=2)
    spec = SplitSpec.from_sizes(test_size=0.1, validation_size=0.3, strategy="time", group=None)
    result = assign(columns, spec)
    undated = [(row_id, name) for row_id, date, name in zip(columns["id"], columns["date"], result.split) if date is None]
    assert result.undated == len(undated) == 2000
    edge = bucket_edges([0.6 / 0.9, 0.3 / 0.9])[0]
    for row_id, name in undated:
        assert name == ("train" if bucket_of(row_id, spec.salt) < edge else "validation")
    assert abs(sum(name == "validation" for _, name in undated) / 2000 - 1 / 3) < 0.03


def test_a_group_with_one_dated_row_is_dated():
    columns = {"id": ["a", "b"], "content_sha256": ["A", "A"], "date": [None, datetime(2024, 6, 1, tzinfo=UTC)]}
    result = assign(columns, SplitSpec(strategy="time", cutoff="2024-03-01"))
    assert result.split == ["test", "test"] and result.undated == 0


def test_naive_and_other_zone_datetimes_are_read_as_utc():
    aware = datetime(2024, 3, 1, 0, 30, tzinfo=UTC)
    naive = aware.replace(tzinfo=None)
    shanghai = aware.astimezone(timezone(timedelta(hours=8)))
    columns = {"id": ["a", "n", "s"], "content_sha256": ["1", "2", "3"], "date": [aware, naive, shanghai]}
    result = assign(columns, SplitSpec(strategy="time", cutoff="2024-03-01T00:30:00"))
    assert result.split == ["test", "test", "test"]
    result = assign(columns, SplitSpec(strategy="time", cutoff="2024-03-01T08:30:00.000001+08:00"))
    assert result.split == ["train", "train", "train"]


def test_too_few_groups_for_a_quantile_test_split_leave_it_empty():
    columns = {"id": ["a", "b"], "content_sha256": ["1", "2"], "date": [DAY0, DAY0 + timedelta(days=1)]}
    result = assign(columns, SplitSpec(strategy="time", embargo_days=30))
    assert result.split == ["train", "train"] and result.dropped_embargo == 0
    assert result.cutoffs == ("9999-12-31T23:59:59.999999+00:00",)


def test_pinned_spec_reproduces_the_split_without_the_dropped_rows():
    columns = rows(3000, dup_every=3, undated_every=25)
    spec = SplitSpec.from_sizes(test_size=0.1, validation_size=0.1, strategy="time", embargo_days=5)
    result = assign(columns, spec)
    kept = subset(columns, [name is not None for name in result.split])
    assert assign(kept, spec).split != [s for s in result.split if s is not None]  # a quantile moves...
    pinned = result.pinned_spec()
    assert isinstance(pinned.cutoff, tuple) and len(pinned.cutoff) == 2
    again = assign(kept, pinned)  # ...the pinned boundaries do not
    assert again.split == [s for s in result.split if s is not None]
    assert again.dropped_embargo == again.dropped_crossing == 0


# --- time, against a plain per-group restatement of the rules on many small inputs ----------


def reference_time(columns, spec, bounds):
    names, last = spec.names, len(spec.names) - 1
    embargo = timedelta(days=spec.embargo_days)
    groups: dict = {}
    for row_id, key, date in zip(columns["id"], columns["content_sha256"], columns["date"]):
        groups.setdefault(key or row_id, []).append(date)
    earlier = spec.ratios[:last]
    placed = {}
    for key, dates in groups.items():
        dated = [d for d in dates if d is not None]
        if not dated:
            edges = bucket_edges([r / sum(earlier) for r in earlier])
            placed[key] = names[bisect.bisect_right(edges, bucket_of(key, spec.salt))]
            continue
        lo, hi = min(dated), max(dated)
        i = sum(b <= hi for b in bounds)
        if i < last and hi >= bounds[i] - embargo:
            placed[key] = None
        elif i > 0 and lo < bounds[i - 1]:
            placed[key] = None
        else:
            placed[key] = names[i]
    return [placed[key or row_id] for row_id, key in zip(columns["id"], columns["content_sha256"])]


small_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C", "D", "E", "", None]),  # few keys, so groups of several rows
        st.one_of(st.none(), st.integers(0, 40 * 24).map(lambda h: DAY0 + timedelta(hours=h))),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    small_rows,
    st.lists(st.integers(0, 40), min_size=1, max_size=3).map(sorted),
    st.sampled_from([0, 0.5, 1, 3]),
    st.sampled_from(["s1", "s2"]),
)
def test_time_matches_the_rules_stated_plainly(data, start_days, embargo, salt):
    columns = {
        "id": [f"r{i}" for i in range(len(data))],
        "content_sha256": [key for key, _ in data],
        "date": [date for _, date in data],
    }
    names = ["train", "validation", "extra"][: len(start_days)] + ["test"]
    ratios = [0.1] * (len(names) - 1) + [1 - 0.1 * (len(names) - 1)]
    bounds = [DAY0 + timedelta(days=d) for d in start_days]
    spec = SplitSpec(
        splits=tuple(zip(names, ratios)), strategy="time", salt=salt, embargo_days=embargo,
        cutoff=tuple(b.isoformat() for b in bounds),
    )
    result = assign(columns, spec)
    assert result.split == reference_time(columns, spec, bounds)
    assert result.dropped_embargo + result.dropped_crossing == result.split.count(None)


@settings(max_examples=200, deadline=None)
@given(small_rows, st.sampled_from([0, 1, 3]), st.randoms(use_true_random=False))
def test_quantile_split_is_order_free_and_pinnable(data, embargo, rng):
    columns = {
        "id": [f"r{i}" for i in range(len(data))],
        "content_sha256": [key for key, _ in data],
        "date": [date for _, date in data],
    }
    spec = SplitSpec.from_sizes(test_size=0.3, validation_size=0.2, strategy="time", embargo_days=embargo)
    result = assign(columns, spec)
    order = list(range(len(data)))
    rng.shuffle(order)
    shuffled = {name: [values[i] for i in order] for name, values in columns.items()}
    assert split_of(shuffled, assign(shuffled, spec)) == split_of(columns, result)
    assert assign(columns, result.pinned_spec()).split == result.split
