"""The card's statistics, read back from the shards: the same figures whether or not a shard's
footer gives its texts' bytes (the end-to-end figures are checked in test_card.py)."""
import pyarrow as pa
import pyarrow.parquet as pq

from builder.card.stats import card_stats
from builder.schema import ROW_SCHEMA
from builder.write import ShardWriter, TEXT_BYTES_KEY
from test_card import build_corpus, parquet_rows


def test_shards_without_the_text_bytes_key_give_the_same_figures(tmp_path):
    # The card counts a shard's texts from its footer key without reading them; a shard
    # without the key (another writer, an older build) is read whole: the same figures.
    rows = [{**r, "id": f"{k:016x}"} for k, r in enumerate(parquet_rows(build_corpus(tmp_path / "b"))["train"])]
    size = pa.Table.from_pylist(rows, schema=ROW_SCHEMA).nbytes  # a few shards of several row groups
    writer = ShardWriter(tmp_path / "keyed" / "data", "train", shard_bytes=size // 2, row_group_bytes=size // 20)
    for k in range(0, len(rows), 7):
        writer.write(pa.Table.from_pylist(rows[k:k + 7], schema=ROW_SCHEMA))
    shards = writer.close()
    (tmp_path / "plain" / "data").mkdir(parents=True)
    groups = []
    for path in shards:
        pf = pq.ParquetFile(path)
        assert TEXT_BYTES_KEY.encode() in pf.metadata.metadata
        groups.append(pf.metadata.num_row_groups)
        with pq.ParquetWriter(tmp_path / "plain" / "data" / path.name, pf.schema_arrow) as plain:
            for g in range(pf.metadata.num_row_groups):
                plain.write_table(pf.read_row_group(g))
    assert len(shards) > 1 and max(groups) > 1
    keyed, plain = card_stats(tmp_path / "keyed", ["train"]), card_stats(tmp_path / "plain", ["train"])
    assert keyed.splits[0].arrow_bytes == plain.splits[0].arrow_bytes
    assert keyed.splits[0].arrow_bytes == sum(pq.read_table(p).nbytes for p in shards)
    assert keyed.n_chars == plain.n_chars and keyed.feeds == plain.feeds and keyed.rows == len(rows)
