import pyarrow.parquet as pq
import pytest

from builder.schema import ROW_SCHEMA
from builder.write import ShardWriter, WriteLane, rows_to_table, write_split


def row(i, text="x"):
    return {"id": f"{i:016x}", "title": f"t{i}", "text": text * 50, "date": None, "date_assumed_tz": None,
            "author": None, "categories": [], "feed": None, "source": None, "editor": None, "original_title": None,
            "stock_codes": [], "url": None, "image_url": None, "language": "en", "n_chars": 50, "n_paragraphs": 1,
            "source_path": f"{i}.md", "encoding": "utf-8", "content_sha256": "0" * 64, "dup_cluster": f"{i:016x}",
            "split_group": f"{i:016x}", "split_bucket": 0, "warnings": [], "extra": "{}"}


def test_shards_and_row_groups_respect_limits_and_order(tmp_path):
    table = rows_to_table([row(i) for i in reversed(range(500))])
    paths = write_split(table, tmp_path, "train", shard_bytes=20_000, row_group_bytes=5_000)
    n = len(paths)
    assert n > 1 and [p.name for p in paths] == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    ids = []
    for p in paths:
        pf = pq.ParquetFile(p)
        assert pf.schema_arrow.remove_metadata() == ROW_SCHEMA and pf.metadata.num_row_groups >= 1
        for g in range(pf.metadata.num_row_groups):
            assert pf.metadata.row_group(g).num_rows > 0
        ids += pf.read().column("id").to_pylist()
    assert ids == sorted(ids) and len(ids) == 500
    assert not list(tmp_path.glob(".*.partial"))


def test_empty_split_writes_nothing(tmp_path):
    assert write_split(rows_to_table([]), tmp_path, "test") == []
    assert not any(tmp_path.iterdir())


def test_rows_out_of_order_are_a_bug(tmp_path):
    writer = ShardWriter(tmp_path, "train")
    writer.write(rows_to_table([row(5)]))
    with pytest.raises(ValueError, match="id order"):
        writer.write(rows_to_table([row(3)]))


def _write_rows(data_dir, rows, lane=None):
    writer = ShardWriter(data_dir, "train", shard_bytes=20_000, row_group_bytes=5_000, lane=lane)
    for k in range(0, len(rows), 37):
        writer.write(rows_to_table(rows[k:k + 37]))
    return writer.close()


def test_a_write_lane_gives_the_same_bytes(tmp_path):
    # The lane moves the Parquet writes to a thread: same calls in the same order, same files.
    rows = [row(i, text=f"text {i} ") for i in range(600)]
    plain = _write_rows(tmp_path / "plain", rows)
    with WriteLane() as lane:
        laned = _write_rows(tmp_path / "lane", rows, lane)
    assert len(plain) > 1 and [p.name for p in laned] == [p.name for p in plain]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(plain, laned))


def test_a_failed_write_on_the_lane_is_raised_here(tmp_path):
    (tmp_path / "data").write_text("a file where the shards' folder should be")
    with WriteLane() as lane:
        writer = ShardWriter(tmp_path / "data", "train", row_group_bytes=1, lane=lane)
        writer.write(rows_to_table([row(1)]))  # handed to the lane, which fails to make the folder
        with pytest.raises(OSError):
            writer.close()


def test_each_shard_names_its_text_bytes_in_its_footer(tmp_path):
    from builder.write import TEXT_BYTES_KEY

    rows = [row(i, text=f"第{i}段文字 ") for i in range(600)]
    paths = _write_rows(tmp_path, rows)
    assert len(paths) > 1
    for p in paths:
        pf = pq.ParquetFile(p)
        texts = pf.read(columns=["text"]).column("text").to_pylist()
        assert int(pf.metadata.metadata[TEXT_BYTES_KEY.encode()]) == sum(len(t.encode()) for t in texts)
