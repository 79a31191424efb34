"""A shard's figures for the card (builder/card/tally.py): the figures the shard tasks hand back
equal those read back from the shards they wrote (or copied), shard by shard and merged into
the card's statistics, and what the writer counts as a row group's bytes in memory is what
pyarrow holds once it reads the row group back."""
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import builder.pipeline as pipeline
import builder.shards as shards
from builder.card.stats import card_stats, split_names_of, subset_list
from builder.card.tally import read_figures
from builder.pipeline import build
from builder.schema import ROW_SCHEMA
from builder.write import ShardWriter, loaded_bytes
from test_card import build_corpus, parquet_rows


def same_figures(a, b) -> bool:
    """Two ShardFigures equal, their lengths' arrays compared by value."""
    arrays = ("lengths",)
    return all(np.array_equal(x, y) for x, y in zip(a.lengths, b.lengths)) and \
        {k: v for k, v in vars(a).items() if k not in arrays} == {k: v for k, v in vars(b).items() if k not in arrays}


@pytest.fixture
def checked(monkeypatch):
    """Builds whose card stage checks the shard tasks' figures against the shards on disk
    (before the folder is swapped in); returns the shards' figures of each build."""
    seen = []
    inner = pipeline.write_metadata

    def write_metadata(tmp, manifest, summary, *, shards, **kw):
        on_disk = sorted(tmp.glob("data/**/*.parquet"))
        assert sorted(f.path for f in shards) == [str(p) for p in on_disk]
        for f in shards:
            assert same_figures(f, read_figures(Path(f.path), f.split)), f.path
            # independently of tally.read_figures: the bytes and rows pyarrow reads back
            pf = pq.ParquetFile(f.path)
            assert f.arrow_bytes == sum(pf.read_row_group(g).nbytes for g in range(pf.num_row_groups))
            assert f.rows == pf.metadata.num_rows
            values, counts = f.lengths
            assert np.array_equal(np.repeat(values, counts), np.sort(pq.read_table(f.path).column("n_chars").to_numpy()))
        names = split_names_of(manifest)
        unders = ["data/*" if subset_list(summary) else "data"]
        unders += [f"data/{e['name']}" for e in (subset_list(summary) or (None, []))[1]]
        for under in unders:
            assert card_stats(tmp, names, under, shards) == card_stats(tmp, names, under), under
        seen.append(shards)
        return inner(tmp, manifest, summary, shards=shards, **kw)

    monkeypatch.setattr(pipeline, "write_metadata", write_metadata)
    return seen


def test_the_shard_tasks_figures_are_the_shards_figures(tmp_path, checked, monkeypatch):
    # Row groups of a few rows: shards of several row groups, as a large build writes them.
    monkeypatch.setattr(shards, "ROW_GROUP_BYTES", 4096)
    out = build_corpus(tmp_path, cache_dir=None)
    (figures,) = checked
    assert max(pq.ParquetFile(out / Path(f.path).relative_to(Path(f.path).parents[1])).num_row_groups
               for f in figures) > 1
    assert sum(f.rows for f in figures) == sum(len(r) for r in parquet_rows(out).values())


def test_the_bundled_sample_and_subsets(tmp_path, checked):
    build(None, tmp_path / "sample", progress=False, cache_dir=None)
    build(None, tmp_path / "subsets", progress=False, cache_dir=None, subset_by="language")
    assert len(checked) == 2 and len(checked[1]) > len(checked[0])


def test_copied_shards_give_the_same_figures_and_card(tmp_path, checked, caplog):
    # A rebuild copies every shard whose rows did not change; its figures are read from the copy.
    out = build_corpus(tmp_path, cache_dir=None)
    card = (out / "README.md").read_text(encoding="utf-8")
    caplog.clear()
    with caplog.at_level("INFO", logger="builder.shards"):
        build_corpus(tmp_path, cache_dir=None)
    assert f"{len(checked[1])} copied from the previous output" in caplog.text
    assert (out / "README.md").read_text(encoding="utf-8") == card
    assert all(same_figures(replace(a, path=b.path), b) for a, b in zip(checked[0], checked[1]))


def test_loaded_bytes_is_what_pyarrow_reads_back(tmp_path):
    # Nulls or none in every nullable column, empty lists, groups of 1 to 9 rows: the bytes the
    # writer counts for each row group equal the nbytes of the row group read back.
    rng = random.Random(7)
    template = parquet_rows(build_corpus(tmp_path / "b"))["train"]
    nullable = [f.name for f in ROW_SCHEMA if f.nullable]
    rows = []
    for k in range(200):
        row = dict(template[k % len(template)], id=f"{k:016x}")
        for name in nullable:
            if k % 3 and rng.random() < 0.3:
                row[name] = None
        if rng.random() < 0.3:
            row["categories"], row["warnings"], row["stock_codes"] = [], [], []
        rows.append(row)
    writer = ShardWriter(tmp_path / "data", "train", row_group_bytes=2**20)
    start = 0
    while start < len(rows):
        n = rng.randint(1, 9)
        group = pa.Table.from_pylist(rows[start:start + n], schema=ROW_SCHEMA)
        writer._write_group(group.cast(writer.schema))  # one row group each
        start += n
    (path,) = writer.close()
    pf = pq.ParquetFile(path)
    assert pf.num_row_groups > 20
    assert writer.loaded == [sum(pf.read_row_group(g).nbytes for g in range(pf.num_row_groups))]
    for g in range(pf.num_row_groups):
        group = pf.read_row_group(g)
        assert loaded_bytes(group) == group.nbytes


def test_card_stats_of_no_shards(tmp_path):
    stats = card_stats(tmp_path, ["train", "test"], shards=[])
    assert stats.rows == 0 and stats.splits == () and stats.n_chars == {}
    assert stats == card_stats(tmp_path, ["train", "test"])

