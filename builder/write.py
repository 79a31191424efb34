"""Rows -> Parquet shards named as the Hub expects: data/{split}-{i:05d}-of-{n:05d}.parquet.

Rows arrive in the order they are to have (builder.layout), a batch at a time, and are written with ROW_SCHEMA and the
`datasets` Features in the file metadata, zstd-compressed, in row groups of at most
`row_group_bytes` and shards of at most `shard_bytes` (uncompressed Arrow bytes), so the
same rows always give the same files and `load_dataset` gives timestamps and lists. The
shard count is in the file names, so shards are named once the split is complete.

The files are laid out for the Hub's Xet storage, which stores and uploads a file as
~64 KiB content-defined chunks and sends only the chunks it does not hold yet: data pages
are cut where the content says (Parquet's content-defined chunking, with the options
`datasets` >= 4 writes by default), so rows that did not change encode to the same pages
(the same bytes) in the next release, wherever they moved in the file. The page index is
written, so readers and the dataset viewer fetch a page, not a whole row group.
"""
from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .schema import ROW_SCHEMA, schema_with_features

ROW_GROUP_BYTES = 32 * 2**20   # a row group is what a reader holds at once: keep it modest
SHARD_BYTES = 500 * 2**20
# Parquet's content-defined chunking, as `datasets` (config.DEFAULT_CDC_OPTIONS, >= 4) writes
# it: pages of 256 KiB to 1 MiB (before encoding), cut by a rolling hash of the values. Named in
# each file's footer under the key `datasets` uses ("content_defined_chunking").
CDC_OPTIONS = {"min_chunk_size": 256 * 1024, "max_chunk_size": 1024 * 1024, "norm_level": 0}
CDC_KEY = "content_defined_chunking"
# The dataset viewer reads a row group at once up to ~286 MiB (uncompressed), past that only
# through the page index: ROW_GROUP_BYTES stays far below, and the page index is written too.
VIEWER_ROW_GROUP_BYTES = 286 * 2**20
# A shard's footer key: the UTF-8 bytes of its `text` column. With it the card counts the
# shard's size in memory without reading (and decompressing) the texts, 80 % of the bytes.
TEXT_BYTES_KEY = "corpus_builder.text_bytes"


def loaded_bytes(group: pa.Table) -> int:
    """The bytes pyarrow's Parquet reader holds for `group` written as one row group: the
    `nbytes` of `ParquetFile.read_row_group`, worked out from the rows in hand (tests hold the
    two equal). The reader gives one chunk a column; a string's offsets count 4 bytes a value
    (nbytes counts the values' ranges); a validity bitmap comes with every nullable fixed-width
    column, and with a string or list column only when it holds a null."""
    return sum(_loaded_bytes(field, group.column(field.name)) for field in group.schema)


def _loaded_bytes(field: pa.Field, values: pa.ChunkedArray | pa.Array) -> int:
    n, kind = len(values), field.type
    bitmap = (n + 7) // 8
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return 4 * n + (pc.sum(pc.binary_length(values)).as_py() or 0) + (bitmap if values.null_count else 0)
    if pa.types.is_list(kind):
        return 4 * n + (bitmap if values.null_count else 0) + _loaded_bytes(kind.value_field, pc.list_flatten(values))
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind):
        return kind.bit_width // 8 * n + (bitmap if field.nullable else 0)
    raise TypeError(f"loaded_bytes does not know the column {field.name!r} of type {kind}")


def rows_to_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """The writer of one shard: zstd, statistics, the Arrow schema (with the Features) stored,
    content-defined pages (CDC_OPTIONS) and the page index. The same rows in the same row groups
    give the same bytes: nothing here depends on time, host or thread."""
    return pq.ParquetWriter(path, schema, compression="zstd", write_statistics=True, store_schema=True,
                            use_content_defined_chunking=CDC_OPTIONS, write_page_index=True)


class WriteLane:
    """A background thread that runs the writers' Parquet writes, in the order they are handed
    over, while the caller prepares the next rows: the zstd encoding (which releases the GIL)
    then runs on a second core. At most one write is in flight, so memory holds at most one
    row group more than without the lane. An error in a write is raised by the next call."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="parquet-write")
        self._last: Future | None = None

    def run(self, fn, *args) -> None:
        self.wait()
        self._last = self._pool.submit(fn, *args)

    def wait(self) -> None:
        last, self._last = self._last, None
        if last is not None:
            last.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "WriteLane":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ShardWriter:
    """One split's shards, written as rows come, in that order. An empty split writes nothing:
    `datasets` cannot load a split without rows. With a `lane`, the Parquet writes run on its
    thread (same calls, same order: the same bytes)."""

    def __init__(self, data_dir: Path, split: str, *, shard_bytes: int = SHARD_BYTES,
                 row_group_bytes: int = ROW_GROUP_BYTES, lane: WriteLane | None = None,
                 footer: dict[str, str] | None = None):
        if not 0 < row_group_bytes <= VIEWER_ROW_GROUP_BYTES:
            raise ValueError(f"row_group_bytes={row_group_bytes}: a row group the dataset viewer reads holds "
                             f"1 to {VIEWER_ROW_GROUP_BYTES} bytes")
        self.data_dir, self.split, self.lane = data_dir, split, lane
        self.shard_bytes, self.row_group_bytes = shard_bytes, row_group_bytes
        self.schema = schema_with_features()
        self._pending: list[pa.Table] = []
        self._pending_bytes = 0
        self._writer: pq.ParquetWriter | None = None
        self._shard_bytes = 0
        self._text_bytes = 0
        self._parts: list[Path] = []
        self.loaded: list[int] = []  # each shard's loaded_bytes, summed over its row groups
        self.rows = 0
        self.footer = dict(footer or {})

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.rows += table.num_rows
        self._pending.append(table)
        self._pending_bytes += table.nbytes
        if self._pending_bytes >= self.row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if self.lane is not None:
            self.lane.run(self._write_pending, pending)
        else:
            self._write_pending(pending)

    def _write_pending(self, pending: list[pa.Table]) -> None:
        # Chunked as it came: the writer reads a row group's rows across chunks, so joining
        # them first would only copy the pending rows once more.
        table = pa.concat_tables(pending)
        if not table.schema.equals(self.schema, check_metadata=False):
            table = table.cast(self.schema)
        per_group = max(1, int(table.num_rows * self.row_group_bytes / max(1, table.nbytes)))
        for start in range(0, table.num_rows, per_group):
            self._write_group(table.slice(start, per_group))

    def _write_group(self, group: pa.Table) -> None:
        if self._writer is not None and self._shard_bytes + group.nbytes > self.shard_bytes:
            self._close_shard()
        if self._writer is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path = self.data_dir / f".{self.split}-{len(self._parts):05d}.partial"
            self._writer = parquet_writer(path, self.schema)
            self._parts.append(path)
            self.loaded.append(0)
            self._shard_bytes = self._text_bytes = 0
        self._writer.write_table(group, row_group_size=group.num_rows)
        self._shard_bytes += group.nbytes
        self._text_bytes += pc.sum(pc.binary_length(group.column("text"))).as_py() or 0
        self.loaded[-1] += loaded_bytes(group)

    def _close_shard(self) -> None:
        self._writer.add_key_value_metadata({TEXT_BYTES_KEY: str(self._text_bytes),
                                             CDC_KEY: json.dumps(CDC_OPTIONS), **self.footer})
        self._writer.close()
        self._writer = None

    def close(self) -> list[Path]:
        """Finish the split; return its shards under their final names."""
        self._flush()
        if self.lane is not None:
            self.lane.wait()
        if self._writer is not None:
            self._close_shard()
        final = []
        for i, part in enumerate(self._parts):
            path = self.data_dir / shard_name(self.split, i, len(self._parts))
            part.rename(path)
            final.append(path)
        return final


def write_split(table: pa.Table, data_dir: Path, split: str, *,
                row_group_bytes: int = ROW_GROUP_BYTES) -> list[Path]:
    """Write one split's rows (any order) as a build lays them out (builder.layout: date, then
    id, cut at date windows); return the files written."""
    from .layout import arrange

    pieces = arrange(table)
    paths = []
    for i, piece in enumerate(pieces):
        writer = ShardWriter(data_dir / f".{split}-{i:05d}.d", split, shard_bytes=2**62, row_group_bytes=row_group_bytes)
        for batch in piece.to_batches(max_chunksize=4096):
            writer.write(pa.Table.from_batches([batch]))
        (written,) = writer.close()
        path = data_dir / shard_name(split, i, len(pieces))
        written.rename(path)
        written.parent.rmdir()
        paths.append(path)
    return paths
