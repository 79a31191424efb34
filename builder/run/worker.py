"""The read task: a worker reads a run of files and hands back their outcomes and rows.

A task is a list of files, each (shown path, file path, sha256 of the cached bytes or None).
A file whose bytes are the cached ones is only reported the same; the others are processed
together (builder.steps.run_together, a few megabytes at a time) within the per-file time
limit, and their rows signed together (one numpy pass over the task, not one per text).
What comes back is a `Chunk`: columnar, so the main process never unpickles a row.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from .. import memory
from ..article import FileResult, file_steps
from ..cache import Stat, stat_of, trusted
from ..dedup import signatures
from ..errors import Reject
from ..schema import ROW_SCHEMA
from ..settings import BuildSettings
from ..steps import run_together
from . import timeout

# Files processed together hold at most about this many bytes of input (a larger file goes
# alone): their texts and intermediate strings are alive at once.
TOGETHER_BYTES = 4 * 2**20


@dataclass
class Chunk:
    """What reading a run of files gives back, in their order: (path, file sha256, reject,
    warnings, stat, trusted, same as the cached bytes) for every file, and the rows (the files
    neither rejected nor the same) as one Arrow table with their MinHash signatures."""

    files: list[tuple[str, str | None, Reject | None, list[str], Stat | None, bool, bool]]
    table: pa.Table
    signatures: np.ndarray

    def __reduce__(self):
        # To the main process as one Arrow IPC stream, not Arrow's pickling of each buffer:
        # ~1.5 instead of ~5.4 us a file to send, read back without a copy.
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.table.schema) as writer:
            writer.write_table(self.table)
        return _chunk_from_stream, (self.files, sink.getvalue(), self.signatures)


def _chunk_from_stream(files: list, stream: pa.Buffer, sigs: np.ndarray) -> Chunk:
    return Chunk(files, pa.ipc.open_stream(stream).read_all(), sigs)


def task(settings: BuildSettings):
    """The read task of a build with `settings`, as a function of the task's files."""
    return partial(read_batch, settings)


def describe(items: list[tuple[str, str, str | None]]) -> str:
    """A read task's files, for a message: the first and last, and how many."""
    return f"reading {items[0][0]} .. {items[-1][0]} ({len(items)} files)"


def read_batch(settings: BuildSettings, items: list[tuple[str, str, str | None]]) -> Chunk:
    """Read a run of files (see the module's docstring)."""
    files: list = [None] * len(items)
    results: list[FileResult] = []
    group: list[tuple[int, Read]] = []
    size = 0

    def flush() -> None:
        for (k, read), result in zip(group, process_together([read for _, read in group], settings)):
            results.append(result)
            files[k] = (read.rel, result.sha256, result.reject, result.warnings, read.stat, read.trusted, False)
        group.clear()

    for k, (rel, path, known) in enumerate(items):
        read = read_file((rel, path), settings)
        if known is not None and read.sha256 == known:
            files[k] = (rel, known, None, [], read.stat, read.trusted, True)
            continue
        n = len(read.data) if read.data is not None else 0
        if group and size + n > TOGETHER_BYTES:
            flush()
            size = 0
        group.append((k, read))
        size += n
    if group:
        flush()
    rows = [r for r in results if r.row is not None]
    sigs = (signatures([r.row["text"] for r in rows], settings.dedup) if rows
            else np.empty((0, settings.dedup.num_perm), dtype=np.uint32))
    return Chunk(files=files, table=rows_table([placeholders(dict(r.row)) for r in rows]), signatures=sigs)


def placeholders(row: dict) -> dict:
    # Filled in once every row has been seen: the cluster by dedup, the group by the split.
    row["dup_cluster"] = row["id"]
    row["split_group"] = ""
    row["split_bucket"] = 0
    return row


def rows_table(rows: list[dict]) -> pa.Table:
    """Row dicts -> a ROW_SCHEMA table, column by column: seven times faster than from_pylist."""
    return pa.Table.from_arrays([pa.array([r[f.name] for r in rows], type=f.type) for f in ROW_SCHEMA],
                                schema=ROW_SCHEMA)


def read_and_process(item: tuple[str, str], settings: BuildSettings) -> FileResult:
    """Read one file (respecting the size limit before reading) and process its bytes, within
    the time limit (a batch of one for process_together)."""
    return process_together([read_file(item, settings)], settings)[0]


class Read(NamedTuple):
    """A file as read: its bytes and their sha256, or the reject of a file not read (too large,
    unreadable); its stat, and whether the stat can know it next time (`cache.trusted`)."""

    rel: str
    data: bytes | None
    sha256: str | None
    failed: FileResult | None
    stat: Stat | None
    trusted: bool


def read_file(item: tuple[str, str], settings: BuildSettings) -> Read:
    """The file read, its size limit respected. The stat is taken before the bytes are read (a
    later write shows in it), and trusted if the file was already TRUST_MARGIN_NS old then:
    the time of this read, not of the build's start, so a file written just before a long
    build is not read again by the next one."""
    rel, path = item
    try:
        with open(path, "rb") as fh:
            stat = stat_of(os.fstat(fh.fileno()))
            trust = trusted(stat, time.time_ns())
            if stat.size > settings.max_file_bytes:
                # Not read, so in the input manifest by size: what the reject was decided on.
                return Read(rel, None, None, FileResult(
                    rel, reject=Reject(rel, "too_large",
                                       f"{stat.size:,} bytes is over the {settings.max_file_bytes:,}-byte limit"),
                    sha256=f"size:{stat.size}"), stat, trust)
            data = fh.read()
    except OSError as exc:
        return Read(rel, None, None, FileResult(rel, reject=Reject(rel, "unreadable",
                                                                   f"cannot read: {exc.strerror or exc}")), None, False)
    return Read(rel, data, hashlib.sha256(data).hexdigest(), None, stat, trust)


def process_together(reads: list[Read], settings: BuildSettings) -> list[FileResult]:
    """Each read file processed, or its reject as read; the files' steps run in rounds
    (steps.run_together), each file stopped once its steps have taken `max_seconds_per_file`
    in all (builder.run.timeout)."""
    limit = settings.max_seconds_per_file
    todo = [i for i, read in enumerate(reads) if read.failed is None]
    with timeout.watch(limit) as enforced:
        done = run_together([file_steps(reads[i].rel, reads[i].data, settings) for i in todo],
                            timeout.timed_steps(limit, enforced, len(todo)))
    results: list[FileResult] = [read.failed for read in reads]
    for i, result in zip(todo, done):
        rel = reads[i].rel
        if result is None:
            result = FileResult(rel, reject=Reject(rel, "timeout", f"reading took longer than {limit:g} s "
                                                                   "(max_seconds_per_file)"))
        result.sha256 = reads[i].sha256
        results[i] = result
    return results


class _NoPandas:
    """A meta-path finder that refuses pandas (None in sys.modules does not stop Cython's import)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is not needed here", name=name)
        return None


def skip_pandas_probe() -> None:
    """Tell pyarrow, in a process that never needs pandas, that pandas is not there.

    pyarrow's first `pa.array` call imports pandas (0.25 s, ~60 MB) only to ask whether its
    argument is a pandas object. With the import refused once, pyarrow records "no pandas"
    for that question; `to_pandas()` still imports it when called. Only for processes the
    build owns (its workers, the `corpus` command): a library caller's process is left alone."""
    import sys

    if "pandas" in sys.modules:
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(finder)


def init_process() -> None:
    """A worker process of ours starts: its allocator, the watchdog's handler, no pandas probe."""
    memory.for_worker()
    timeout.install_for_process()
    skip_pandas_probe()
