import hashlib
import unicodedata

import pytest

from splits import NUM_BUCKETS, bucket_edges, bucket_of
from splits.hashing import buckets_of

# Golden values: if one of these changes, every published split moves (a major version).
GOLDEN = [
    ("", "corpus-builder/v1", 1439),
    ("abc", "corpus-builder/v1", 6957),
    ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "corpus-builder/v1", 8983),
    ("新闻", "corpus-builder/v1", 7178),
    ("abc", "other-salt", 8299),
]


@pytest.mark.parametrize("key, salt, bucket", GOLDEN)
def test_golden_buckets_do_not_change(key, salt, bucket):
    assert bucket_of(key, salt) == bucket


@pytest.mark.parametrize("key, salt, bucket", GOLDEN)
def test_bucket_is_sha256_of_salt_nul_key(key, salt, bucket):
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).hexdigest()
    assert int(digest[:16], 16) % 10_000 == bucket


def test_buckets_are_in_range_and_roughly_uniform():
    buckets = buckets_of([f"key-{i}" for i in range(20_000)], "s")
    assert min(buckets) >= 0 and max(buckets) < NUM_BUCKETS
    low = sum(b < NUM_BUCKETS // 2 for b in buckets)
    assert abs(low / len(buckets) - 0.5) < 0.02


def test_nfc_and_nfd_spellings_share_a_bucket():
    key = "Café 新闻"
    assert unicodedata.normalize("NFD", key) != key
    assert bucket_of(unicodedata.normalize("NFD", key), "s") == bucket_of(key, "s")


def test_salt_and_key_both_matter_and_do_not_run_together():
    keys = [f"k{i}" for i in range(200)]
    assert buckets_of(keys, "a") != buckets_of(keys, "b")
    assert bucket_of("bc", "a") != bucket_of("c", "ab")  # the separator keeps "a"+"bc" apart from "ab"+"c"


def test_bucket_of_matches_buckets_of():
    keys = ["x", "é", "", "123"]
    assert buckets_of(keys, "s") == [bucket_of(k, "s") for k in keys]


def test_bad_input():
    with pytest.raises(TypeError, match="42"):
        buckets_of(["a", 42], "s")
    with pytest.raises(ValueError, match="NUL"):
        bucket_of("a", "s\x00")


@pytest.mark.parametrize(
    "ratios, edges",
    [
        ((1.0,), [10_000]),
        ((0.9, 0.1), [9_000, 10_000]),
        ((0.8, 0.1, 0.1), [8_000, 9_000, 10_000]),
        ((1 / 3, 1 / 3, 1 / 3), [3_333, 6_667, 10_000]),
    ],
)
def test_bucket_edges(ratios, edges):
    assert bucket_edges(ratios) == edges
