"""The spill: rows appended in any order come back whole, one id range per partition, in id order."""
import random

import pyarrow as pa

from builder.runs import PartitionedSpill, partition_count

SCHEMA = pa.schema([pa.field("id", pa.string(), False), pa.field("n", pa.int64(), False)])


def test_rows_come_back_by_id_range_in_order(tmp_path):
    rng = random.Random(5)
    ids = [f"{rng.getrandbits(64):016x}" for _ in range(2500)]
    spill = PartitionedSpill(tmp_path, SCHEMA, expected_rows=len(ids), buffer_rows=300)
    assert spill.n == partition_count(2500) == 1
    spill = PartitionedSpill(tmp_path / "many", SCHEMA, expected_rows=400_000, buffer_rows=300)
    assert spill.n == 100
    for start in range(0, len(ids), 37):  # batches of any size, rows in no order
        batch = ids[start:start + 37]
        spill.add(pa.table({"id": batch, "n": [int(i, 16) % 1000 for i in batch]}, schema=SCHEMA))
    parts = list(spill.partitions(keep=True))
    got = [i for part in parts for i in sorted(part.column("id").to_pylist())]
    assert got == sorted(ids)  # every row once; partitions cover increasing id ranges
    for part in parts:
        assert len({spill.partition_of(i) for i in part.column("id").to_pylist()}) == 1
    assert sum(p.num_rows for p in spill.partitions(columns=["n"])) == len(ids)  # a column, then deleted
    assert not list((tmp_path / "many").glob("part-*.arrow"))


def test_partitions_never_outnumber_the_open_file_budget(tmp_path):
    # Each partition is an open file while rows are read: a limit of 1,024 descriptors must
    # not fail a build of four million files; partitions grow instead.
    from builder.runs import open_file_budget

    assert partition_count(4_000_000) == 1000
    assert partition_count(4_000_000, max_open=100) == 100
    spill = PartitionedSpill(tmp_path, SCHEMA, expected_rows=4_000_000, max_open=7)
    assert spill.n == 7
    ids = [f"{k:04x}{'0' * 12}" for k in range(0, 65536, 97)]
    spill.add(pa.table({"id": ids, "n": list(range(len(ids)))}, schema=SCHEMA))
    assert [i for part in spill.partitions() for i in sorted(part.column("id").to_pylist())] == sorted(ids)
    assert open_file_budget(10) >= 1


def _fill(spill, ids, first_seq=0):
    spill.add(pa.table({"id": ids, "n": list(range(first_seq, first_seq + len(ids)))}, schema=SCHEMA))


def test_base_layers_are_read_in_place_renumbered_and_saved(tmp_path):
    import numpy as np

    from builder.runs import read_renumbered

    rng = random.Random(9)

    def spill_of(name, ids, n_partitions=None, first_seq=0):
        spill = PartitionedSpill(tmp_path / name, SCHEMA, expected_rows=40_000, n_partitions=n_partitions)
        _fill(spill, ids, first_seq)
        return spill

    def saved(spill, name, **kw):
        folder = tmp_path / name
        folder.mkdir()
        rows = {i: n for part in spill.partitions(save_to=folder, **kw)
                for i, n in zip(part.column("id").to_pylist(), part.column("n").to_pylist())}
        return folder, rows

    # Two earlier layers (10 partitions each), their files moved when saved.
    ids0 = [f"{rng.getrandbits(64):016x}" for _ in range(300)]
    ids1 = [f"{rng.getrandbits(64):016x}" for _ in range(40)]
    old0, old1 = spill_of("old0", ids0), spill_of("old1", ids1)
    assert old0.n == 10
    layer0, _ = saved(old0, "layer0")
    layer1, _ = saved(old1, "layer1")
    assert not list((tmp_path / "old0").glob("part-*")) and len(list(layer0.glob("part-*"))) == 10

    # The next build keeps every other row of layer 0 and rows 0-9 of layer 1, renumbered
    # after its own two new rows.
    remap0 = np.full(300, -1, dtype=np.int64)
    remap0[::2] = np.arange(2, 152)
    remap1 = np.full(40, -1, dtype=np.int64)
    remap1[:10] = np.arange(152, 162)
    new_ids = [f"{rng.getrandbits(64):016x}" for _ in range(2)]
    new = spill_of("new", new_ids, n_partitions=10)
    assert new.n == 10
    new.use_base([(lambda k: layer0 / f"part-{k:05d}.arrow", remap0),
                  (lambda k: layer1 / f"part-{k:05d}.arrow", remap1)], "n")
    assert new.base_expected == 160
    ids_only = list(new.partitions(columns=["id"], keep=True))
    assert ids_only[0].column_names == ["id"] and new.base_rows == 160
    want = {**{ids0[k]: 2 + k // 2 for k in range(0, 300, 2)}, **{ids1[k]: 152 + k for k in range(10)},
            new_ids[0]: 0, new_ids[1]: 1}
    # Saved without the base: only this spill's own rows, moved.
    own_only, rows = saved(new, "own-only", keep=True, save_base=False)
    assert rows == want
    assert sorted(i for p in own_only.glob("part-*") for i in read_renumbered(p, np.arange(2), "n")
                  .column("id").to_pylist()) == sorted(new_ids)
    # Saved with the base: whole partitions in the spill's schema, the renumbered rows included.
    new = spill_of("new2", new_ids, n_partitions=10)
    new.use_base([(lambda k: layer0 / f"part-{k:05d}.arrow", remap0),
                  (lambda k: layer1 / f"part-{k:05d}.arrow", remap1)], "n")
    whole, rows = saved(new, "whole")
    assert rows == want
    again = {}
    for path in whole.glob("part-*.arrow"):
        table = read_renumbered(path, np.arange(162), "n")
        assert table.schema.equals(SCHEMA)
        again.update(zip(table.column("id").to_pylist(), table.column("n").to_pylist()))
    assert again == want
    assert read_renumbered(tmp_path / "none.arrow", remap0, "n") is None


def test_rows_where_equals_a_filter_and_slices_when_runs_are_few():
    import numpy as np

    from builder.runs import rows_where

    table = pa.table({"id": [f"{k:016x}" for k in range(640)], "n": list(range(640))}, schema=SCHEMA)
    rng = np.random.default_rng(3)
    few = np.ones(640, dtype=bool)
    few[[100, 200, 201, 300]] = False                # a rebuild: nearly every row kept
    many = rng.random(640) < 0.5                    # runs of a row or two: copied instead
    for mask in (few, many, np.zeros(640, dtype=bool), np.ones(640, dtype=bool)):
        got = rows_where(table, mask)
        assert got.equals(table.filter(pa.array(mask)))
    # The few runs are slices of the table's own buffers: no row copied.
    kept = rows_where(table, few).column("id")
    assert kept.num_chunks == 4
    base = table.column("id").chunk(0).buffers()[2].address
    assert {c.buffers()[2].address for c in kept.chunks} == {base}
    assert rows_where(table, many).column("id").num_chunks == 1


def test_partitions_of_a_column_equal_partition_of_each_id(tmp_path):
    import numpy as np
    import pytest

    spill = PartitionedSpill(tmp_path, SCHEMA, expected_rows=400_000)
    rng = random.Random(11)
    ids = [f"{rng.getrandbits(64):016x}" for _ in range(500)] + ["ffff", "0000", "ABCD0000", "abcd"]
    column = pa.chunked_array([ids[:200], ids[200:]])
    assert spill.partitions_of(column).tolist() == [spill.partition_of(i) for i in ids]
    assert spill.partitions_of(pa.array(ids).slice(3, 40)).tolist() == [spill.partition_of(i) for i in ids[3:43]]
    assert spill.partitions_of(pa.array([], pa.string())).tolist() == []
    assert spill.partitions_of(pa.array(["abc", "abcd1"])).tolist() == [spill.partition_of("abc"),
                                                                         spill.partition_of("abcd1")]
    with pytest.raises(ValueError):
        spill.partitions_of(pa.array(["abcd", "zz00"]))
    assert np.all(np.diff(spill.partitions_of(pa.array(sorted(ids[:500])))) >= 0)  # id order, partition order


def test_a_file_of_many_small_batches_is_read_joined_and_saved_as_one(tmp_path, monkeypatch):
    import pyarrow.ipc as ipc

    from builder import runs

    monkeypatch.setattr(runs, "_MAX_CHUNKS", 8)  # a small threshold: the limit, not the rows, is tested
    ids = [f"{k:04x}{'0' * 12}" for k in range(0, 65536, 257)]
    many = PartitionedSpill(tmp_path / "many", SCHEMA, expected_rows=len(ids), buffer_rows=5)  # a batch per 5 rows
    few = PartitionedSpill(tmp_path / "few", SCHEMA, expected_rows=len(ids), buffer_rows=10_000)
    for spill in (many, few):
        for start in range(0, len(ids), 5):
            _fill(spill, ids[start:start + 5], start)
    for spill, name in ((many, "saved-many"), (few, "saved-few")):
        (tmp_path / name).mkdir()
        parts = list(spill.partitions(save_to=tmp_path / name))
        assert sorted(i for part in parts for i in part.column("id").to_pylist()) == ids
        assert all(part.column("id").num_chunks == 1 for part in parts)
        (saved,) = (tmp_path / name).iterdir()
        assert ipc.open_file(str(saved)).read_all().sort_by("id").column("id").to_pylist() == ids
        # Joined as read, then written whole; a file of few batches is moved as it was.
        assert ipc.open_file(str(saved)).num_record_batches == 1
