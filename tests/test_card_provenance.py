"""The input manifest: one sha256 over a build's (path, file sha256) pairs, whatever their order
and however they are fed."""
import re

import pytest

from builder.card.provenance import InputManifest, input_manifest_hash


def test_input_manifest_hash_is_order_free_and_content_bound():
    pairs = [("b/二.md", "11" * 32), ("a.md", "00" * 32)]
    digest = input_manifest_hash(pairs)
    assert digest == input_manifest_hash(reversed(pairs)) and re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest != input_manifest_hash([("b/二.md", "12" * 32), ("a.md", "00" * 32)])  # an edit
    assert digest != input_manifest_hash([("b/三.md", "11" * 32), ("a.md", "00" * 32)])  # a rename
    assert digest != input_manifest_hash(pairs[:1])                                     # a removal


def test_input_manifest_fed_in_runs_equals_fed_a_pair_at_a_time():
    pairs = sorted((f"{k:03d}/\"新\".md", f"{k:064x}") for k in range(50))
    one, runs = InputManifest(), InputManifest()
    for pair in pairs:
        one.add(*pair)
    cuts = [0, 1, 17, 17, 40, 50]  # runs of any length, an empty one too
    for a, b in zip(cuts, cuts[1:]):
        runs.add_many(pairs[a:b])
    assert runs.hexdigest() == one.hexdigest() == input_manifest_hash(reversed(pairs))
    with pytest.raises(ValueError, match="sorted"):
        runs.add_many([("000/a.md", "00")])


def test_input_manifest_fed_columns_equals_fed_pairs():
    """A build feeds the manifest two Arrow columns a task at a time: the same hash as the pairs,
    quotes, backslashes and control characters in names written as json writes them."""
    import pyarrow as pa

    names = ["a.md", 'q"uote.md', "back\\slash.md", "tab\there.md", "新闻/二.md", "z\u2028.md", "\x01.md"]
    pairs = sorted((f"{k:02d}/{name}", f"{k:064x}") for k, name in enumerate(names * 3))
    columns, one = InputManifest(), InputManifest()
    one.add_many(pairs)
    cuts = [0, 5, 5, 11, len(pairs)]
    for a, b in zip(cuts, cuts[1:]):
        paths, digests = zip(*pairs[a:b]) if b > a else ((), ())
        columns.add_columns(pa.chunked_array([pa.array(paths, pa.string())]), pa.array(digests, pa.string()))
    assert columns.hexdigest() == one.hexdigest() == input_manifest_hash(pairs)
    with pytest.raises(ValueError, match="sorted"):
        columns.add_columns(pa.array(["00/a.md"]), pa.array(["00"]))
    with pytest.raises(ValueError, match="sorted"):
        InputManifest().add_columns(pa.array(["b.md", "a.md"]), pa.array(["00", "11"]))
