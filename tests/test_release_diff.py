"""builder.release.diff: the diff between two releases' Parquet, by id."""
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builder.errors import VersionError
from builder.release import diff_releases, split_of

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

