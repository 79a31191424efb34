"""builder.release, the pure parts of a release: semver and the bump rule, the diff between two
releases' Parquet, the changelog entry, and the card edits (apply_release, release_identity)."""
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from builder.errors import VersionError
from builder.release import (LISTED_IDS, ReleaseDiff, SchemaChange, Version, apply_release, card_version,
                             changelog_entry, check_version, diff_releases, release_identity, split_of)

# ---------------------------------------------------------------------------- versions


def test_versions_parse_order_and_tag():
    assert Version.parse("1.2.0") == Version(1, 2, 0) == Version.parse("v1.2.0")
    assert str(Version.parse(" 10.0.3 ")) == "10.0.3" and Version.parse("10.0.3").tag == "v10.0.3"
    assert Version.parse("1.10.0") > Version.parse("1.9.9") > Version.parse("1.9.0") > Version.parse("0.99.99")
    for bad in ("1.2", "1.2.3.4", "01.2.3", "1.2.x", "latest", "", "1.2.3-rc.1"):
        with pytest.raises(VersionError, match="MAJOR.MINOR.PATCH"):
            Version.parse(bad)
    assert Version.from_tag("v2.0.1") == Version(2, 0, 1)
    assert Version.from_tag("2.0.1") is None and Version.from_tag("v2") is None and Version.from_tag("main") is None


def test_bump_kinds():
    v = Version(1, 2, 3)
    assert Version(2, 0, 0).bump_from(v) == "major"
    assert Version(1, 3, 0).bump_from(v) == "minor"
    assert Version(1, 2, 4).bump_from(v) == "patch"
    assert [str(v.next(k)) for k in ("patch", "minor", "major")] == ["1.2.4", "1.3.0", "2.0.0"]
    with pytest.raises(VersionError):
        Version(1, 2, 3).bump_from(v)


def breaking_diff(**kw) -> ReleaseDiff:
    return ReleaseDiff(rows_before={"train": 2}, rows_after={"train": 2}, **kw)


def test_check_version_goes_up_and_breaking_changes_need_a_major():
    check_version(Version(0, 1, 0), latest=None, diff=None)  # a first release may be anything
    with pytest.raises(VersionError, match=r"not greater than the latest release v1\.1\.0.*1\.1\.1, 1\.2\.0 or 2\.0"):
        check_version(Version(1, 0, 5), latest=Version(1, 1, 0), diff=None)
    with pytest.raises(VersionError, match="not greater"):
        check_version(Version(1, 1, 0), latest=Version(1, 1, 0), diff=None)

    moved = breaking_diff(moved=[("a1", "train", "test"), ("a2", "test", "train")])
    with pytest.raises(VersionError) as err:
        check_version(Version(1, 2, 0), latest=Version(1, 1, 0), diff=moved)
    message = str(err.value)
    assert "1.2.0 is a minor release" in message and "moves 2 existing rows to another split" in message
    assert "id a1 from train to test" in message and "publish 2.0.0" in message
    check_version(Version(2, 0, 0), latest=Version(1, 1, 0), diff=moved)

    removed = breaking_diff(schema=SchemaChange(removed=[("feed", "string")], retyped=[("n", "int32", "int64")]))
    with pytest.raises(VersionError, match=r"a patch release.*removes the column feed; changes the type of n "):
        check_version(Version(1, 1, 1), latest=Version(1, 1, 0), diff=removed)

    # Rows added, removed or changed and new columns are not breaking: any bump will do.
    growth = breaking_diff(added=["x"], removed=["y"], changed=["z"], schema=SchemaChange(added=[("new", "string")]))
    assert not growth.breaking
    check_version(Version(1, 1, 1), latest=Version(1, 1, 0), diff=growth)


# ---------------------------------------------------------------------------- the diff

SCHEMA = pa.schema([("id", pa.string()), ("title", pa.string()), ("text", pa.string()),
                    ("content_sha256", pa.string()), ("categories", pa.list_(pa.string())),
                    ("date", pa.timestamp("us", tz="UTC")), ("split_bucket", pa.int32())])


def row(i, *, title=None, text=None, cats=("a",), date=0, bucket=0):
    text = text or f"text {i}"
    return {"id": f"id{i:02d}", "title": title or f"title {i}", "text": text, "content_sha256": f"h({text})",
            "categories": list(cats), "date": date, "split_bucket": bucket}


def shards(tmp_path, name, splits: dict, schema=SCHEMA) -> dict:
    out = {}
    for split, rows in splits.items():
        path = tmp_path / name / "data" / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
        out[f"data/{split}-00000-of-00001.parquet"] = path
    return out


def test_split_of_reads_the_hub_shard_names():
    assert split_of("data/train-00000-of-00003.parquet") == "train"
    assert split_of("data/my-split-00002-of-00003.parquet") == "my-split"
    assert split_of("README.md") is None and split_of("data/train.parquet") is None


def test_diff_by_id_added_removed_changed_moved(tmp_path):
    old = shards(tmp_path, "old", {"train": [row(i) for i in range(6)], "test": [row(6), row(7)]})
    new = shards(tmp_path, "new", {
        "train": [row(0), row(1, title="new title"), row(2, text="new text"), row(3, cats=("a", "b")),
                  row(7), row(8), row(9, bucket=5)],
        "test": [row(4, bucket=123), row(6, date=None)],  # 4 moved; 6's date became null; 5 removed
    })
    diff = diff_releases(old, new)
    assert diff.rows_before == {"train": 6, "test": 2} and diff.rows_after == {"train": 7, "test": 2}
    assert diff.added == ["id08", "id09"] and diff.removed == ["id05"]
    assert diff.moved == [("id04", "train", "test"), ("id07", "test", "train")]
    # split_bucket is split bookkeeping, reported through moves: a row whose bucket alone changed is not "changed".
    assert diff.changed == ["id01", "id02", "id03", "id06"]
    assert diff.changed_columns == {"title": 1, "text": 1, "categories": 1, "date": 1}
    assert diff.schema.empty and diff.breaking and not diff.empty


def test_the_text_is_compared_through_its_hash_and_not_read(tmp_path):
    old = shards(tmp_path, "old", {"train": [row(0)]})
    same_hash = row(0)
    same_hash["text"] = "a different text with the same recorded hash"
    new = shards(tmp_path, "new", {"train": [same_hash]})
    assert diff_releases(old, new).empty


def test_nulls_and_lists_compare_by_value(tmp_path):
    rows = [row(0, date=None), row(1, cats=()), row(2, cats=("",)), row(3, cats=("a", "b"))]
    old = shards(tmp_path, "old", {"train": rows})
    new = shards(tmp_path, "new", {"train": [row(0, date=None), row(1, cats=("",)), row(2, cats=()),
                                             row(3, cats=("a\x1fb",))]})
    diff = diff_releases(old, new)
    assert diff.changed == ["id01", "id02", "id03"] and diff.changed_columns == {"categories": 3}
    assert diff_releases(old, old).empty
    # A list holding a null (it joins to null) is compared by value all the same.
    holes = shards(tmp_path, "holes", {"train": [row(0, cats=(None, "a")), row(1, cats=(None,)), row(2), row(3)]})
    holes2 = shards(tmp_path, "holes2", {"train": [row(0, cats=(None, "a")), row(1, cats=("x",)), row(2),
                                                   row(3)]})
    assert diff_releases(holes, holes2).changed == ["id01"] and diff_releases(holes, holes).empty


def test_schema_changes(tmp_path):
    old = shards(tmp_path, "old", {"train": [row(0)]})
    schema = pa.schema([("id", pa.string()), ("title", pa.large_string()), ("text", pa.string()),
                        ("content_sha256", pa.string()), ("extra", pa.string())])
    new = shards(tmp_path, "new", {"train": [{"id": "id00", "title": "title 0", "text": "text 0",
                                              "content_sha256": "h(text 0)", "extra": "{}"}]}, schema=schema)
    diff = diff_releases(old, new)
    assert diff.schema.added == [("extra", "string")]
    assert diff.schema.removed == [("categories", "list<item: string>"), ("date", "timestamp[us, tz=UTC]"),
                                   ("split_bucket", "int32")]
    assert diff.schema.retyped == [("title", "string", "large_string")]
    assert diff.breaking and diff.changed == []  # a retyped column is reported as such, not per row
    assert "removes the columns categories, date, split_bucket" in " ".join(diff.breaking_reasons())


def test_sources_may_be_openers_and_a_first_release_adds_everything(tmp_path):
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([row(1), row(0)], schema=SCHEMA), buf)
    new = {"data/train-00000-of-00001.parquet": lambda: io.BytesIO(buf.getvalue()), "README.md": "ignored"}
    diff = diff_releases({}, new)
    assert diff.added == ["id00", "id01"] and diff.rows_before == {} and not diff.breaking


def test_duplicate_ids_are_refused(tmp_path):
    files = shards(tmp_path, "dup", {"train": [row(0)], "test": [row(0)]})
    with pytest.raises(VersionError, match="same id twice"):
        diff_releases({}, files)


# ---------------------------------------------------------------------------- changelog


def test_changelog_entries():
    first = changelog_entry(Version(1, 0, 0), ReleaseDiff({}, {"train": 9, "test": 1}, added=["a"] * 10),
                            date="2024-05-01")
    assert first == "### v1.0.0 (2024-05-01)\n\nFirst release: 10 rows (train 9, test 1)."

    ids = [f"id{i:02d}" for i in range(LISTED_IDS + 3)]
    diff = ReleaseDiff({"train": 20}, {"train": 30}, added=ids, removed=["gone"], changed=["c1", "c2"],
                       changed_columns={"title": 1, "text": 2}, moved=[("m1", "train", "test")],
                       schema=SchemaChange(added=[("extra", "string")]))
    entry = changelog_entry(Version(2, 0, 0), diff, date="2024-06-01", previous=Version(1, 0, 0))
    lines = entry.splitlines()
    assert lines[0] == "### v2.0.0 (2024-06-01)" and "Compared with v1.0.0:" in lines
    assert "- Rows: 20 -> 30 (train 30)." in lines
    assert f"- Added: {LISTED_IDS + 3} rows: `id00`, " in entry and "`id09` and 3 more." in entry
    assert "- Removed: 1 row: `gone`." in lines
    assert "- Changed: 2 rows (by column: text 2, title 1): `c1`, `c2`." in lines
    assert "- Moved split: 1 row (train -> test 1): `m1`." in lines
    assert "- Schema: added `extra` (string)." in lines
    quiet = changelog_entry(Version(1, 0, 1), ReleaseDiff({"train": 1}, {"train": 1}), date="d",
                            previous=Version(1, 0, 0))
    assert "- Added: none." in quiet and "- Moved split: none." in quiet and "- Schema: unchanged." in quiet


# ---------------------------------------------------------------------------- the card

CARD = """---
pretty_name: News
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
---

# News

Unreleased build (no version yet).

## How to load

```python
# ## Changelog inside code is not a heading
load_dataset("x")
```

## Changelog

No releases yet.

## Citation

None.
"""


def entry(v, text="Something."):
    return f"### v{v} (2024-01-01)\n\n{text}"


def test_apply_release_sets_the_version_and_puts_the_entry_first():
    card = apply_release(CARD, version="1.0.0", entry=entry("1.0.0", "First."))
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["version"] == "1.0.0" and meta["pretty_name"] == "News" and meta["configs"][0]["data_files"]
    assert card_version(card) == "1.0.0" and card_version(CARD) is None
    assert "Version 1.0.0 (tag `v1.0.0`)." in card and "Unreleased build" not in card
    assert "No releases yet." not in card  # the placeholder gives way to the first entry
    # Between markers, where card.template_from_card finds the entries again.
    assert ("## Changelog\n\n<!-- corpus:changelog -->\n\n### v1.0.0 (2024-01-01)\n\nFirst.\n\n"
            "<!-- /corpus:changelog -->\n\n## Citation\n\nNone.\n") in card
    assert "# ## Changelog inside code is not a heading" in card

    # The next release starts from the next build's card (no entries) and the previous card.
    nxt = apply_release(CARD, version="1.1.0", entry=entry("1.1.0", "Second."), previous_card=card)
    assert card_version(nxt) == "1.1.0" and nxt.count("version: ") == 1
    assert ("## Changelog\n\n<!-- corpus:changelog -->\n\n### v1.1.0 (2024-01-01)\n\nSecond.\n\n"
            "### v1.0.0 (2024-01-01)\n\nFirst.\n\n<!-- /corpus:changelog -->\n\n## Citation") in nxt
    # Applying the same release again (e.g. a re-run) replaces its entry: nothing doubles.
    again = apply_release(nxt, version="1.1.0", entry=entry("1.1.0", "Second."), previous_card=card)
    assert again == nxt


def test_a_card_without_a_changelog_or_front_matter_gets_them():
    card = apply_release("---\npretty_name: x\n---\n\n# X\n\nBody.\n", version="0.1.0", entry=entry("0.1.0"))
    assert card.endswith("Body.\n\n## Changelog\n\n<!-- corpus:changelog -->\n\n### v0.1.0 (2024-01-01)\n\n"
                         "Something.\n\n<!-- /corpus:changelog -->\n")
    bare = apply_release("# X\n", version="0.1.0", entry=entry("0.1.0"))
    assert bare.startswith("---\nversion: 0.1.0\n---\n\n# X\n") and card_version(bare) == "0.1.0"
    replaced = apply_release("---\nversion: 0.0.1\nlicense: mit\n---\n# X\n", version="0.2.0", entry=entry("0.2.0"))
    assert "version: 0.2.0\nlicense: mit\n" in replaced
    intro = apply_release("# X\n\n## Changelog\n\nOwner's words.\n", version="1.0.0", entry=entry("1.0.0"))
    assert "## Changelog\n\n<!-- corpus:changelog -->\n\nOwner's words.\n\n### v1.0.0" in intro


def test_release_identity_ignores_only_what_a_release_writes():
    released = apply_release(CARD, version="3.1.4", entry=entry("3.1.4"),
                             previous_card=apply_release(CARD, version="3.0.0", entry=entry("3.0.0")))
    assert release_identity(released) == release_identity(CARD)
    assert release_identity(apply_release(CARD, version="3.1.4", entry=entry("3.1.4", "Other day."))) == \
        release_identity(released)
    assert release_identity(CARD.replace("None.", "Cite us.")) != release_identity(CARD)
    assert release_identity(CARD.replace("pretty_name: News", "pretty_name: Other")) != release_identity(CARD)
