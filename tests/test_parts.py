"""builder.parts: partitions written by read tasks, rows found again by their handles."""
import hashlib

import numpy as np
import pyarrow as pa
import pytest

from builder.parts import (Partitions, binary_column, digests64, hex_bytes, hex_strings, part_path, part_schema,
                           read_part, signature_column, signatures_of, take_rows, write_part)


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


def test_a_task_reads_slice_after_slice_from_partitions_it_opens_once(tmp_path):
    for task in range(3):
        write_part(part_path(tmp_path, task), pa.table({"id": [f"{task}-{r}" for r in range(5)], "n": list(range(5))}))
    tasks, rows = np.array([2, 0, 1, 0, 2, 1]), np.array([4, 0, 3, 2, 1, 1])
    with Partitions(tmp_path, ["id"]) as parts:
        first = parts.take(tasks[:3], rows[:3])
        second = parts.take(tasks[3:], rows[3:])
    assert first.column_names == ["id"]
    assert first.column("id").to_pylist() + second.column("id").to_pylist() == \
        take_rows(tmp_path, tasks, rows).column("id").to_pylist() == ["2-4", "0-0", "1-3", "0-2", "2-1", "1-1"]


def _rss_file_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssFile")) / 1024


@pytest.mark.skipif(not hasattr(__import__("mmap"), "MADV_DONTNEED"), reason="madvise")
def test_a_partition_s_pages_are_handed_back_once_its_rows_are_taken(tmp_path):
    # Its rows are copied out, and the 40 MB of the partition mapped in to copy them leave the
    # RSS at once: a shard task takes rows from every partition, slice after slice.
    texts = [bytes([65 + i % 26]) * 4000 for i in range(10_000)]
    write_part(part_path(tmp_path, 0), pa.table({"text": pa.array(texts, pa.binary())}))
    with Partitions(tmp_path) as parts:
        before = _rss_file_mb()
        taken = parts.take(np.zeros(10_000, np.int64), np.arange(10_000))
        assert _rss_file_mb() - before < 10
    assert taken.column("text")[9_999].as_py() == texts[9_999]
