"""builder.shards: shards planned by the driver, written by tasks; a rebuild copies the shards
whose rows did not change from the previous output, and still equals a clean build."""
import hashlib
import logging

import pyarrow.parquet as pq
import pytest

from builder.pipeline import build
from builder.shards import KEY
from conftest import article, assert_same_files, distinct_text, write_corpus


def _corpus(root, days):
    files = {f"source/_posts/c/f/s/{day:04d}-{k}.md": article(
        f"标题{day}-{k}", f"<p>{distinct_text(1000 * day + k)}</p>",
        date=f"2024-{1 + day // 28:02d}-{1 + day % 28:02d} 08:00:00") for day in days for k in range(2)}
    return write_corpus(root, files)


def _digests(out):
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "data").glob("*.parquet")}


@pytest.fixture
def small_shards(monkeypatch):
    import builder.layout

    monkeypatch.setattr(builder.layout, "SHARD_TARGET", 3000)  # a shard every few days of this corpus


def test_a_rebuild_with_the_newest_articles_copies_the_other_shards(tmp_path, small_shards, caplog):
    src = _corpus(tmp_path / "src", range(80))
    out = tmp_path / "out"
    build(src, out, progress=False, cache_dir=None, workers=1)
    before = _digests(out)
    assert len(before) > 5
    _corpus(src, [80, 81])  # two more days of news
    with caplog.at_level(logging.INFO, logger="builder.shards"):
        build(src, out, progress=False, cache_dir=None, workers=1)
    after = _digests(out)
    assert len(after - before) <= 2  # the last shard of each split at most
    assert "copied from the previous output" in caplog.text
    build(src, tmp_path / "clean", progress=False, cache_dir=None, workers=1)
    assert_same_files(out, tmp_path / "clean")


def test_a_late_older_article_rewrites_only_its_window(tmp_path, small_shards):
    src = _corpus(tmp_path / "src", range(80))
    out = tmp_path / "out"
    build(src, out, progress=False, cache_dir=None, workers=1)
    before = _digests(out)
    write_corpus(src, {"late.md": article("迟到的", f"<p>{distinct_text(999_999)}</p>", date="2024-01-20 09:00:00")})
    report = build(src, out, progress=False, cache_dir=None, workers=1)
    after = _digests(out)
    assert len(after - before) == 1 and len(before - after) == 1
    assert report.rows == 161


def test_every_shard_names_its_key_and_a_changed_setting_writes_all_again(tmp_path, small_shards):
    from builder.transform.quality import QualitySettings
    from builder.settings import BuildSettings

    src = _corpus(tmp_path / "src", range(30))
    out = tmp_path / "out"
    build(src, out, progress=False, cache_dir=None, workers=1)
    keys = {pq.read_metadata(p).metadata[KEY.encode()] for p in (out / "data").glob("*.parquet")}
    assert len(keys) == len(list((out / "data").glob("*.parquet")))
    other = BuildSettings(quality=QualitySettings(min_chars=5))  # rows may be made otherwise: no shard taken
    build(src, out, progress=False, cache_dir=None, workers=1, settings=other)
    after_keys = {pq.read_metadata(p).metadata[KEY.encode()] for p in (out / "data").glob("*.parquet")}
    assert not keys & after_keys


def test_a_shard_task_reading_its_rows_a_few_at_a_time_writes_the_same_shards(tmp_path, monkeypatch):
    # A task holds a slice of its shard's rows at a time (builder.shards._SLICE), never the shard:
    # slices of 3 rows give the shards' rows, in order, that one slice for the shard gives (the
    # row groups may be cut elsewhere: the writer cuts what it was handed by bytes).
    import builder.shards

    src = _corpus(tmp_path / "src", range(30))
    monkeypatch.setattr(builder.shards, "ROW_GROUP_BYTES", 4096)
    build(src, tmp_path / "whole", progress=False, cache_dir=None, workers=1)
    monkeypatch.setattr(builder.shards, "_SLICE", 3)
    build(src, tmp_path / "sliced", progress=False, cache_dir=None, workers=1)
    whole, sliced = (sorted((tmp_path / name / "data").glob("*.parquet")) for name in ("whole", "sliced"))
    assert [p.name for p in whole] == [p.name for p in sliced] and len(whole) > 1
    assert max(pq.ParquetFile(p).num_row_groups for p in sliced) > 1
    for a, b in zip(whole, sliced):
        assert pq.read_table(a).equals(pq.read_table(b)), a.name
