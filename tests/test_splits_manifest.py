import hashlib
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from splits import FORMAT, SplitSpec, assign, build_manifest, id_list_sha256, manifest_spec, verify

UTC = timezone.utc


def corpus(n=400):
    return {
        "id": [f"{i:04x}" for i in range(n)],
        "content_sha256": [f"text{i % (n // 2)}" for i in range(n)],
        "date": [None if i % 37 == 0 else datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i) for i in range(n)],
    }


def published(columns, result):
    """What a reader of the published data sees: kept rows, with the split each was published in."""
    keep = [name is not None for name in result.split]
    out = {name: [v for v, k in zip(values, keep) if k] for name, values in columns.items()}
    out["split"] = [name for name in result.split if name is not None]
    out["split_group"] = [g for g, k in zip(result.group, keep) if k]
    out["split_bucket"] = [b for b, k in zip(result.bucket, keep) if k]
    return out


def test_id_list_sha256_is_of_the_sorted_newline_joined_ids():
    assert id_list_sha256(["b", "a"]) == hashlib.sha256(b"a\nb").hexdigest()
    assert id_list_sha256([]) == hashlib.sha256(b"").hexdigest()


def test_manifest_holds_spec_counts_hashes_audit_and_is_json_safe():
    columns = corpus()
    spec = SplitSpec.from_sizes(test_size=0.2, validation_size=0.1)
    result = assign(columns, spec)
    manifest = build_manifest(columns, result, spec)
    assert manifest["format"] == FORMAT == 1
    assert manifest["spec"] == manifest["pinned_spec"] == spec.to_dict()
    assert manifest["counts"] == result.counts()
    ids = result.ids_by_split(columns["id"])
    assert manifest["id_sha256"] == {name: id_list_sha256(ids[name]) for name in spec.names}
    assert manifest["audit"]["ok"] is True
    assert manifest["dropped"] == {"embargo": 0, "crossing": 0}
    assert json.loads(json.dumps(manifest)) == manifest


def test_manifest_refuses_a_spec_the_assignment_was_not_made_with():
    columns = corpus()
    with pytest.raises(ValueError, match="not with"):
        build_manifest(columns, assign(columns, SplitSpec()), SplitSpec(salt="x"))


@pytest.mark.parametrize(
    "spec",
    [
        SplitSpec(),
        SplitSpec.from_sizes(test_size=0.1, validation_size=0.1, strategy="time", embargo_days=2),
        SplitSpec(strategy="time", cutoff="2024-03-01", embargo_days=1),
    ],
)
def test_nothing_moved_verifies_clean_on_the_published_rows_alone(spec):
    columns = corpus()
    result = assign(columns, spec)
    manifest = json.loads(json.dumps(build_manifest(columns, result, spec)))
    assert verify(manifest, published(columns, result)) == []
    assert manifest_spec(manifest) == result.pinned_spec()


def test_a_moved_row_is_named():
    columns = corpus()
    result = assign(columns, SplitSpec())
    manifest = build_manifest(columns, result, SplitSpec())
    rows = published(columns, result)
    i = rows["split"].index("test")
    rows["split"][i] = "train"
    problems = verify(manifest, rows)
    assert problems[0].startswith("1 row(s) have a different split than published; first ids: ")
    assert f"{rows['id'][i]} (published 'train', recomputed 'test')" in problems[0]


def test_a_changed_salt_names_the_first_differing_ids_in_order():
    columns = corpus()
    result = assign(columns, SplitSpec())
    manifest = build_manifest(columns, result, SplitSpec())
    manifest["spec"]["salt"] = manifest["pinned_spec"]["salt"] = "another"
    problems = verify(manifest, published(columns, result))
    assert any(p.startswith("split 'test': the sha256") for p in problems)
    bucket_problem = next(p for p in problems if "different bucket" in p)
    named = re.findall(r"(\w+) \(published", bucket_problem)
    assert named == sorted(named) and len(named) == 10


def test_missing_or_extra_rows_show_in_counts_and_hashes():
    columns = corpus()
    result = assign(columns, SplitSpec())
    manifest = build_manifest(columns, result, SplitSpec())
    rows = published(columns, result)
    fewer = {name: values[1:] for name, values in rows.items()}
    problems = verify(manifest, fewer)
    name = rows["split"][0]
    assert f"split {name!r}: {manifest['counts'][name] - 1:,} rows recomputed, {manifest['counts'][name]} in the manifest" in problems


def test_an_unknown_format_is_reported():
    assert "format 2" in verify({"format": 2}, corpus())[0]
