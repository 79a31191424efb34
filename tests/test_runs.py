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


def test_a_base_spill_is_read_in_place_renumbered_and_saved(tmp_path):
    import numpy as np

    from builder.runs import read_renumbered

    rng = random.Random(9)
    old_ids = [f"{rng.getrandbits(64):016x}" for _ in range(300)]
    old = PartitionedSpill(tmp_path / "old", SCHEMA, expected_rows=40_000)  # 10 partitions
    _fill(old, old_ids)
    saved_old = tmp_path / "saved-old"
    saved_old.mkdir()
    assert sum(p.num_rows for p in old.partitions(save_to=saved_old)) == 300
    assert not list((tmp_path / "old").glob("part-*")) and len(list(saved_old.glob("part-*"))) == old.n

    # The next build keeps every other old row (renumbered after its own two new rows) and adds two.
    remap = np.full(300, -1, dtype=np.int64)
    remap[::2] = np.arange(2, 152)
    new = PartitionedSpill(tmp_path / "new", SCHEMA, expected_rows=0, n_partitions=old.n)
    assert new.n == old.n
    new_ids = [f"{rng.getrandbits(64):016x}" for _ in range(2)]
    _fill(new, new_ids)
    new.use_base(lambda k: saved_old / f"part-{k:05d}.arrow", remap, "n")
    assert new.base_expected == 150
    ids_only = list(new.partitions(columns=["id"], keep=True))
    assert ids_only[0].column_names == ["id"] and new.base_rows == 150
    saved_new = tmp_path / "saved-new"
    saved_new.mkdir()
    rows = {i: n for part in new.partitions(save_to=saved_new)
            for i, n in zip(part.column("id").to_pylist(), part.column("n").to_pylist())}
    assert rows == {**{old_ids[k]: 2 + k // 2 for k in range(0, 300, 2)}, new_ids[0]: 0, new_ids[1]: 1}
    # What was saved is the whole partition, base rows included, in the spill's schema.
    again = {}
    for path in saved_new.glob("part-*.arrow"):
        table = read_renumbered(path, np.arange(152), "n")
        assert table.schema.equals(SCHEMA)
        again.update(zip(table.column("id").to_pylist(), table.column("n").to_pylist()))
    assert again == rows
    assert read_renumbered(tmp_path / "none.arrow", remap, "n") is None
