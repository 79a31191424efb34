"""croissant.json: valid Croissant 1.0 for mlcroissant, the real sha256 of every shard, a field
per column, and records that are the Parquet rows, split by split."""
import hashlib
import json
import re
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builder.card.croissant import DataFile, croissant_metadata, field_type
from builder.schema import ROW_SCHEMA
from test_card import build_corpus


def assert_croissant_matches(out, mlc) -> None:
    """mlcroissant validates out/croissant.json, its sha256 values are the files', and the
    records it reads are the Parquet rows with their splits."""
    doc = json.loads((out / "croissant.json").read_text(encoding="utf-8"))
    shards = sorted((out / "data").glob("*.parquet"))
    objects = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    assert [o["contentUrl"] for o in objects] == [p.relative_to(out).as_posix() for p in shards]
    for obj, path in zip(objects, shards):
        assert obj["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert obj["contentSize"] == f"{path.stat().st_size} B"

    dataset = mlc.Dataset(jsonld=out / "croissant.json")  # raises ValidationError on any error
    assert not dataset.metadata.ctx.issues.errors
    records = list(dataset.records("default"))
    tables = {p: pq.read_table(p, columns=["id", "n_chars", "categories"]) for p in shards}
    expected = Counter(p.name.split("-")[0] for p, t in tables.items() for _ in range(t.num_rows))
    assert Counter(r["default/split"].decode() for r in records) == expected
    by_id = {r["default/id"].decode(): r for r in records}
    for table in tables.values():
        for row in table.to_pylist():
            got = by_id[row["id"]]
            assert got["default/n_chars"] == row["n_chars"]
            assert [c.decode() for c in got["default/categories"]] == row["categories"]


@pytest.fixture(scope="module")
def mlc():
    return pytest.importorskip("mlcroissant")


def test_built_croissant_validates_and_reads_the_rows(tmp_path, mlc):
    out = build_corpus(tmp_path)
    assert_croissant_matches(out, mlc)
    doc = json.loads((out / "croissant.json").read_text(encoding="utf-8"))
    fields = {f["name"]: f for rs in doc["recordSet"] if rs["@id"] == "default" for f in rs["field"]}
    assert list(fields) == ["split", *ROW_SCHEMA.names]
    assert fields["date"]["dataType"] == "sc:DateTime" and fields["n_chars"]["dataType"] == "sc:Integer"
    assert fields["categories"] == {**fields["categories"], "dataType": "sc:Text", "repeated": True}
    assert "repeated" not in fields["title"]
    (splits,) = [rs for rs in doc["recordSet"] if rs.get("dataType") == "cr:Split"]
    assert [d["splits/split_name"] for d in splits["data"]] == ["train", "test"]
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0" and doc["license"] == "unknown"


def test_a_split_can_be_read_alone(tmp_path, mlc):
    out = build_corpus(tmp_path)
    test_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "data").glob("test-*.parquet"))
    records = list(mlc.Dataset(jsonld=out / "croissant.json").records("default", filters={"default/split": "test"}))
    assert len(records) == test_rows > 0 and {r["default/split"] for r in records} == {b"test"}


def test_field_types_follow_the_arrow_types():
    assert field_type(pa.string()) == ("sc:Text", False)
    assert field_type(pa.int32()) == ("sc:Integer", False)
    assert field_type(pa.float64()) == ("sc:Float", False)
    assert field_type(pa.bool_()) == ("sc:Boolean", False)
    assert field_type(pa.timestamp("us", tz="UTC")) == ("sc:DateTime", False)
    assert field_type(pa.date32()) == ("sc:Date", False)
    assert field_type(pa.list_(pa.string())) == ("sc:Text", True)
    for bad in (pa.list_(pa.list_(pa.string())), pa.struct([("a", pa.int8())])):
        with pytest.raises(ValueError):
            field_type(bad)


def test_metadata_is_a_pure_function_of_its_inputs():
    files = [DataFile("data/train-00000-of-00001.parquet", "ab" * 32, 10),
             DataFile("data/validation.x-00000-of-00001.parquet", "cd" * 32, 20)]
    kw = dict(splits=["train", "validation.x"], name="me/news", version="1.0.0", keywords=["news"], languages=["zh"])
    doc = croissant_metadata(files, **kw)
    assert doc == croissant_metadata(files, **kw) and json.loads(json.dumps(doc)) == doc
    assert doc["version"] == "1.0.0" and doc["keywords"] == ["news"] and "citeAs" not in doc
    (split_field,) = [f for rs in doc["recordSet"] for f in rs["field"] if f["@id"] == "default/split"]
    regex = re.compile(split_field["source"]["transform"]["regex"])
    assert regex.match(files[1].path).group(1) == "validation.x"  # the dot is escaped, not "any character"
    assert regex.match("data/validationXx-00000-of-00001.parquet") is None


def test_no_rows_gives_no_splits(mlc, tmp_path):
    doc = croissant_metadata([], splits=[], name="empty")
    assert [rs["@id"] for rs in doc["recordSet"]] == ["default"]
    (tmp_path / "croissant.json").write_text(json.dumps(doc))
    mlc.Dataset(jsonld=tmp_path / "croissant.json")


def test_a_release_names_its_version_and_home(tmp_path, mlc):
    from builder.card import write_card

    out = build_corpus(tmp_path)
    summary = json.loads((out / "build_summary.json").read_text())
    manifest = json.loads((out / "splits.json").read_text())
    write_card(out, summary=summary, manifest=manifest, repo_id="me/news", version="1.2.0")
    doc = json.loads((out / "croissant.json").read_text(encoding="utf-8"))
    assert doc["version"] == "1.2.0" and doc["url"] == "https://huggingface.co/datasets/me/news"
    assert doc["name"] == "me/news" and doc["inLanguage"] == ["zh", "en"] and "keywords" not in doc
    dataset = mlc.Dataset(jsonld=out / "croissant.json")
    assert not any("version" in w for w in dataset.metadata.ctx.issues.warnings)
