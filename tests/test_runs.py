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
