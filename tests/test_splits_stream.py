"""StreamingSplit: batches of rows in id order give the manifest build_manifest gives over all
rows at once, and each batch the assignment `assign` gives it."""
import json
import random

import pytest

from splits import SpecError, SplitSpec, StreamingSplit, assign, build_manifest


def rows(n=500, seed=3):
    rng = random.Random(seed)
    ids = sorted({f"{rng.getrandbits(64):016x}" for _ in range(n)})
    clusters = [i if rng.random() < 0.8 else ids[max(0, k - 1)] for k, i in enumerate(ids)]
    return {
        "id": ids,
        "dup_cluster": clusters,
        "content_sha256": [f"{rng.getrandbits(256):064x}" for _ in ids],
        "feed": [rng.choice(["新浪财经", "36kr", None]) for _ in ids],
    }


def batches(columns, sizes):
    at = 0
    for size in sizes:
        yield {name: values[at:at + size] for name, values in columns.items()}
        at += size


@pytest.mark.parametrize("spec", [
    SplitSpec(group="dup_cluster"),
    SplitSpec.from_sizes(test_size=0.2, validation_size=0.1, group="dup_cluster", stratify="feed"),
    SplitSpec.from_sizes(test_size=0.3, salt="other"),
])
@pytest.mark.parametrize("sizes", [[500], [1] * 7 + [93, 0, 400], [250, 250]])
def test_streamed_manifest_equals_the_whole_one(spec, sizes):
    columns = rows()
    whole = assign(columns, spec)
    stream = StreamingSplit(spec)
    split, group, bucket = [], [], []
    for batch in batches(columns, sizes):
        part = stream.add(batch)
        split += part.split
        group += part.group
        bucket += part.bucket
    assert (split, group, bucket) == (whole.split, whole.group, whole.bucket)
    expected = build_manifest(columns, whole, spec)
    assert json.dumps(stream.manifest(), sort_keys=False) == json.dumps(expected, sort_keys=False)


def test_the_leak_checks_give_the_same_manifest_with_or_without_numpy(monkeypatch):
    # Texts shared across groups: leaks to find. The package needs only the stdlib; numpy,
    # where installed, finds them without a Python int a row.
    columns = rows(2000, seed=5)
    columns["content_sha256"] = [columns["content_sha256"][k % 300] for k in range(len(columns["id"]))]
    spec = SplitSpec.from_sizes(test_size=0.3, validation_size=0.2, group="id", salt="s")

    def streamed():
        stream = StreamingSplit(spec)
        for batch in batches(columns, [700, 1300]):
            stream.add(batch)
        return stream.manifest()["audit"]

    with_numpy = streamed()
    monkeypatch.setitem(__import__("sys").modules, "numpy", None)  # `import numpy` raises ImportError
    assert streamed() == with_numpy
    whole = build_manifest(columns, assign(columns, spec), spec)["audit"]
    assert with_numpy["duplicate_texts_across_splits"] == whole["duplicate_texts_across_splits"] > 100
    assert [e[:16] for e in with_numpy["duplicate_text_examples"]] == [e[:16] for e in whole["duplicate_text_examples"]]


def test_empty_stream_equals_an_empty_manifest():
    spec = SplitSpec()
    empty = {"id": [], "content_sha256": []}
    assert StreamingSplit(spec).manifest() == build_manifest(empty, assign(empty, spec), spec)


def test_leaks_are_found():
    # One text in forty groups: its rows land in both splits, a leak the audit must report.
    spec = SplitSpec.from_sizes(test_size=0.5, group="id")  # each row its own group
    columns = {"id": [f"{i:016x}" for i in range(40)], "content_sha256": ["same"] * 40}
    stream = StreamingSplit(spec)
    stream.add(columns)
    audit = stream.manifest()["audit"]
    whole = build_manifest(columns, assign(columns, spec), spec)["audit"]
    assert audit == whole and audit["duplicate_texts_across_splits"] == 1 and not audit["ok"]


def test_order_and_strategy_are_checked():
    stream = StreamingSplit(SplitSpec())
    stream.add({"id": ["b", "c"], "content_sha256": ["x", "y"]})
    with pytest.raises(SpecError, match="increasing id order"):
        stream.add({"id": ["a"], "content_sha256": ["z"]})
    with pytest.raises(SpecError, match="increasing id order"):
        StreamingSplit(SplitSpec()).add({"id": ["b", "a"], "content_sha256": ["x", "y"]})
    with pytest.raises(SpecError, match="hash strategy"):
        StreamingSplit(SplitSpec(strategy="time", time_column="date", cutoff="2024-01-01"))


def test_a_batch_of_keys_gets_the_digests_each_key_gets():
    stream = StreamingSplit(SplitSpec.from_sizes(test_size=0.2))
    hexes = [f"{k * 7919:016x}" for k in range(50)] + ["ab" * 32]
    odd = ["ABCDEF0123456789", "0x12345678901234", "1_23456789012345", " 123456789012345", "feed", "新浪财经" * 4]
    for batch in (hexes, hexes + odd, odd, []):
        assert stream._digests(batch) == [stream._digest(key) for key in batch]
