"""builder.parts: partitions written by read tasks, rows found again by their handles."""
import hashlib

import numpy as np
import pyarrow as pa
import pytest

from builder.parts import (binary_column, digests64, hex_bytes, hex_strings, part_path, part_schema, read_part,
                           signature_column, signatures_of, take_rows, write_part)


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


def test_a_text_hash_travels_as_its_32_bytes_and_comes_back_as_the_same_hex():
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(6)]
    column = binary_column(hex_bytes(pa.array(hashes), 32))
    assert column.type == pa.binary(32) and column.nbytes == 6 * 32
    assert hex_strings(column) == hashes
    assert hex_strings(column.slice(2, 3)) == hashes[2:5]
    assert hex_bytes(pa.array([h.upper() for h in hashes]), 32).tobytes() == column.buffers()[1].to_pybytes()


def test_a_64_bit_digest_is_the_hashs_first_16_hex_digits_so_it_sorts_as_the_hash_does():
    hashes = sorted(hashlib.sha256(str(i).encode()).hexdigest() for i in range(50))
    column = binary_column(hex_bytes(pa.array(hashes), 32))
    assert digests64(column).tolist() == [int(h[:16], 16) for h in hashes]
    assert digests64(pa.chunked_array([column.slice(0, 10), column.slice(10)])).tolist() == \
        [int(h[:16], 16) for h in hashes]
    assert (np.diff(digests64(column).astype(np.float64)) >= 0).all()
    assert hex_bytes(pa.array(hashes), 8).shape == (50, 8)


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, None])
def test_what_is_not_a_hex_digest_is_refused(bad):
    with pytest.raises(ValueError):
        hex_bytes(pa.array(["0" * 64, bad], pa.string()), 32)
