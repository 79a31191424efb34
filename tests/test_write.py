import json
import random

import pyarrow.parquet as pq
import pytest

from builder.schema import ROW_SCHEMA
from builder.write import (CDC_KEY, CDC_OPTIONS, VIEWER_ROW_GROUP_BYTES, ShardWriter, WriteLane, rows_to_table,
                           write_split)


def row(i, text="x"):
    return {"id": f"{i:016x}", "title": f"t{i}", "text": text * 50, "date": None, "date_assumed_tz": None,
            "author": None, "categories": [], "feed": None, "source": None, "editor": None, "original_title": None,
            "stock_codes": [], "url": None, "image_url": None, "language": "en", "n_chars": 50, "n_paragraphs": 1,
            "source_path": f"{i}.md", "encoding": "utf-8", "content_sha256": "0" * 64, "dup_cluster": f"{i:016x}",
            "split_group": f"{i:016x}", "split_bucket": 0, "warnings": [], "extra": "{}"}


def test_shards_and_row_groups_respect_limits_and_keep_the_order_given(tmp_path):
    writer = ShardWriter(tmp_path, "train", shard_bytes=20_000, row_group_bytes=5_000)
    order = list(reversed(range(500)))
    for k in range(0, 500, 50):
        writer.write(rows_to_table([row(i) for i in order[k:k + 50]]))
    paths = writer.close()
    n = len(paths)
    assert n > 1 and [p.name for p in paths] == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    ids = []
    for p in paths:
        pf = pq.ParquetFile(p)
        assert pf.schema_arrow.remove_metadata() == ROW_SCHEMA and pf.metadata.num_row_groups >= 1
        for g in range(pf.metadata.num_row_groups):
            assert pf.metadata.row_group(g).num_rows > 0
        ids += pf.read().column("id").to_pylist()
    assert ids == [f"{i:016x}" for i in order]
    assert not list(tmp_path.glob(".*.partial"))


def test_a_split_is_written_in_date_order_then_id_undated_last(tmp_path):
    from datetime import datetime, timezone

    def dated(i, day):
        return row(i) | {"date": None if day is None else datetime(2024, 1, day, tzinfo=timezone.utc)}

    rows = [dated(1, 9), dated(2, None), dated(3, 2), dated(4, 9), dated(5, None), dated(6, 1)]
    (path,) = write_split(rows_to_table(rows), tmp_path, "train")
    assert pq.read_table(path).column("id").to_pylist() == [f"{i:016x}" for i in (6, 3, 1, 4, 2, 5)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_empty_split_writes_nothing(tmp_path):
    assert write_split(rows_to_table([]), tmp_path, "test") == []
    assert not any(tmp_path.iterdir())


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


def test_shards_carry_content_defined_pages_and_the_page_index(tmp_path):
    # What `datasets` >= 4 writes for the Hub's Xet storage: the options named in the footer,
    # and an offset and a column index for every column chunk (the viewer's random access).
    paths = _write_rows(tmp_path, [row(i, text=f"text {i} ") for i in range(600)])
    assert len(paths) > 1
    for p in paths:
        meta = pq.ParquetFile(p).metadata
        assert json.loads(meta.metadata[CDC_KEY.encode()]) == CDC_OPTIONS == {
            "min_chunk_size": 256 * 1024, "max_chunk_size": 1024 * 1024, "norm_level": 0}
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                chunk = meta.row_group(g).column(c)
                assert chunk.has_offset_index and chunk.has_column_index
                assert chunk.compression == "ZSTD"


def test_a_row_group_the_viewer_cannot_read_is_refused(tmp_path):
    with pytest.raises(ValueError, match="viewer"):
        ShardWriter(tmp_path, "train", row_group_bytes=VIEWER_ROW_GROUP_BYTES + 1)


def _prose(rng, words, n):
    return " ".join(rng.choice(words) for _ in range(n))


def test_a_row_added_leaves_the_other_pages_byte_for_byte(tmp_path):
    # Content-defined pages: a new row changes the page it lands in, not every page after it
    # (fixed-size pages would all shift, and zstd would make every byte after it new). Measured
    # as the share of the new file's 4 KiB blocks found in the old file.
    rng = random.Random(5)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(5000)]
    rows = [row(2 * i, text="") | {"text": _prose(rng, words, 400)} for i in range(2000)]
    old = write_split(rows_to_table(rows), tmp_path / "old", "train")
    added = rows[:300] + [row(601, text="") | {"text": _prose(rng, words, 400)}] + rows[300:]
    new = write_split(rows_to_table(added), tmp_path / "new", "train")
    assert len(old) == len(new) == 1
    before, after = old[0].read_bytes(), new[0].read_bytes()
    assert sum(len(r["text"]) for r in rows) > 4 * CDC_OPTIONS["max_chunk_size"]  # several pages
    blocks = [after[k:k + 4096] for k in range(0, len(after) - 4096, 4096)]
    assert sum(block in before for block in blocks) / len(blocks) > 0.7

