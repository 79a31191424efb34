"""builder.parts: partitions written by read tasks, rows found again by their handles."""
import numpy as np
import pyarrow as pa

from builder.parts import part_path, part_schema, read_part, signature_column, signatures_of, take_rows, write_part


def test_rows_come_back_by_handle_in_the_order_asked(tmp_path):
    for task, names in ((0, ["a", "b", "c"]), (3, ["d", "e"])):
        write_part(part_path(tmp_path, task), pa.table({"id": names}))
    got = take_rows(tmp_path, np.array([3, 0, 3, 0]), np.array([1, 2, 0, 0]))
    assert got.column("id").to_pylist() == ["e", "c", "d", "a"]
    assert take_rows(tmp_path, np.array([0]), np.array([1]), ["id"]).column_names == ["id"]
    assert not list(tmp_path.glob("*.partial"))  # written whole, then renamed


def test_a_partition_keeps_its_signatures_and_drops_the_later_set_columns(tmp_path):
    schema = part_schema(4)
    assert not {"dup_cluster", "split_group", "split_bucket"} & set(schema.names)
    sigs = np.arange(8, dtype=np.uint32).reshape(2, 4)
    write_part(part_path(tmp_path, 1), pa.table({"id": ["x", "y"], "_signature": signature_column(sigs)}))
    assert (signatures_of(read_part(part_path(tmp_path, 1)).column("_signature")) == sigs).all()
