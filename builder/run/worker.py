"""The read task: a worker reads a run of files, writes their rows itself, hands back facts.

A task (`ReadTask`) is a run of files in path order. A file whose bytes are the cached ones
takes its cached row; the others are processed together (builder.transform.process.run_steps, a few
megabytes at a time) within the per-file time limit, and their rows signed together (one
numpy pass over the task). The rows go to the task's partition (builder.parts); what comes
back (`ReadResult`) is each file's outcome and each row's small columns, never a text.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import layout, memory
from ..cache import INDEX_SCHEMA, Stat, reusable, stat_of, trusted
from ..card.provenance import manifest_lines
from ..dedup import signatures
from ..errors import CacheError, Reject
from ..parts import (FACTS, SIGNATURE, Partitions, big_endian64, binary_column, hex_bytes, part_path, part_schema,
                     signature_column, write_part)
from ..read import sources
from ..read.paths import PathBlock
from ..read.article import Article
from ..settings import BuildSettings
from ..transform.process import run_steps
from . import timeout

# Files processed together hold at most about this many bytes of input (a larger file goes
# alone): their texts and intermediate strings are alive at once.
TOGETHER_BYTES = 4 * 2**20


@dataclass
class ReadTask:
    """A read task: the articles `paths` (a run of the build's list in path order, whose first
    is the build's article `first`), and what the cached build knew of the files in their
    stretch of path order (`known`, its index rows, or None), whose rows are in the partitions
    in `cache`. `sizes`: each article's size from a remote source's listing, else None. Its
    rows go to partition `no` in `folder`; `extra` names the row columns handed back beside
    parts.FACTS."""

    no: int
    folder: str
    first: int
    paths: PathBlock
    known: pa.Table | None = None
    cache: str | None = None
    sizes: Sequence[int] | None = None
    extra: tuple[str, ...] = ()


_NO_STAT = Stat(0, 0, 0, 0)
_STAT = ("size", "mtime_ns", "ctime_ns", "ino", "trusted")


@dataclass
class ReadResult:
    """What a read task hands back: `index`, every article's entry for the next cache's index
    (INDEX_SCHEMA, in path order; a row's handle is (task, its place in the partition), a
    reject's (-1, -1)); `facts`, one row for each row it wrote to its partition, in the
    partition's order: its article's place in the task (`k`), parts.FACTS, the first 8 bytes
    of its file's sha256 (`file_digest`, a big-endian uint64), the task's `extra` columns and
    the MinHash signature; the input manifest's lines of its files (card.provenance); the
    warnings of its rows, counted; and how many articles the cached build gave unread
    (`unread`: their stat was unchanged) or after reading (`same`: the same bytes)."""

    index: pa.Table
    facts: pa.Table
    manifest: bytes
    warnings: dict[str, int]
    unread: int = 0
    same: int = 0


def task(settings: BuildSettings):
    """The read task of a build with `settings`, as a function of a ReadTask."""
    return partial(read_task, settings)


def describe(payload) -> str:
    """A task, for a message: a read task's first and last file, and how many; another's name."""
    if not isinstance(payload, ReadTask):
        return f"the task {getattr(payload, 'name', type(payload).__name__)}"
    items = payload.paths.items()
    if not items:
        return "reading no files"
    return f"reading {items[0][0]} .. {items[-1][0]} ({len(items)} files)"


class _Known:
    """The cached build's entries of a task's stretch of path order, by path: those that may
    stand for their file again (cache.reusable)."""

    def __init__(self, table: pa.Table | None) -> None:
        self.table = table
        self.at: dict[str, int] = {}
        if table is None or not table.num_rows:
            return
        cols = {c: table.column(c).to_pylist() for c in ("path", "sha256", "reason", "trusted", "part", "row",
                                                          "size", "mtime_ns", "ctime_ns", "ino")}
        self.sha, self.trusted, self.part, self.row = cols["sha256"], cols["trusted"], cols["part"], cols["row"]
        self.stat = list(zip(cols["size"], cols["mtime_ns"], cols["ctime_ns"], cols["ino"]))
        self.at = {p: j for j, (p, sha, reason) in enumerate(zip(cols["path"], self.sha, cols["reason"]))
                   if reusable(sha, reason)}


def read_task(settings: BuildSettings, payload: ReadTask) -> ReadResult:
    """Read a run of files, take the cached rows of the others, write the rows to the task's
    partition (in path order) and hand back their facts and every file's index entry."""
    known = _Known(payload.known)
    fresh: list = []                        # (place, path, sha256, reject, warnings, stat, trusted)
    unread: list[tuple[int, int]] = []      # (place, cached entry): stat unchanged, not read
    same: list[tuple[int, int, Read]] = []  # (place, cached entry, the read): the same bytes
    taken: list[tuple[int, int, int]] = []  # (place, cached partition, row)
    results: list[tuple[int, Article]] = []
    group: list[tuple[int, Read]] = []
    size = 0

    def flush() -> None:
        for (k, read), result in zip(group, process_together([read for _, read in group], settings)):
            results.append((k, result))
            warnings = result.warnings if result.reject is None else []
            fresh.append((k, read.rel, result.sha256, result.reject, warnings, read.stat, read.trusted))
        group.clear()

    sizes = payload.sizes
    for k, (rel, path) in enumerate(payload.paths.items()):
        j = known.at.get(rel, -1)
        if j >= 0 and known.trusted[j] and _same_stat(path, known.stat[j]):
            unread.append((k, j))
        else:
            read = read_file((rel, path), settings, sizes[k] if sizes is not None else None)
            if j < 0 or read.sha256 != known.sha[j]:
                n = len(read.data) if read.data is not None else 0
                if group and size + n > TOGETHER_BYTES:
                    flush()
                    size = 0
                group.append((k, read))
                size += n
                continue
            same.append((k, j, read))
        if known.part[j] >= 0:
            taken.append((k, known.part[j], known.row[j]))
    if group:
        flush()
    schema = part_schema(settings.dedup.num_perm)
    rows = [(k, r.row) for k, r in results if r.row is not None]
    tables, places = [], []
    if rows:
        sigs = signatures([row["text"] for _, row in rows], settings.dedup)
        tables.append(pa.Table.from_arrays(
            [pa.array([row[f.name] for _, row in rows], type=f.type) for f in schema if f.name != SIGNATURE]
            + [signature_column(sigs)], schema=schema))
        places += [k for k, _ in rows]
    with Partitions(payload.cache or "") as cached:
        if taken:
            t = np.array(taken, dtype=np.int64).reshape(-1, 3)
            runs = _cached_rows(cached, t[:, 1], t[:, 2], schema)
            tables += [piece for piece, _ in runs]
            places += t[np.concatenate([at for _, at in runs]), 0].tolist()
            del runs
        if tables:  # one copy into place order (a cached run is a view of its partition till here)
            table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
            order = np.argsort(np.array(places, dtype=np.int64), kind="stable")
            table = table.take(pa.array(order))
            places = np.array(places, dtype=np.int64)[order]
            tables.clear()  # the views, before their partitions are closed
        else:
            table = schema.empty_table()
            places = np.empty(0, np.int64)
    if len(places):
        write_part(part_path(payload.folder, payload.no), table)
    index = _index(payload.no, known.table, fresh, unread, same, places)
    shas = pc.fill_null(index.column("sha256"), "unread")
    kept = index.filter(pc.greater_equal(index.column("part"), 0))
    warnings = {v["values"]: v["counts"]
                for v in pc.value_counts(pc.list_flatten(kept.column("warnings"))).to_pylist()}
    facts = _facts(table, places, shas, payload.extra)
    return ReadResult(index, facts, manifest_lines(index.column("path"), shas), warnings, len(unread), len(same))


def _same_stat(path: str, stat: tuple) -> bool:
    try:
        return stat_of(os.stat(path)) == stat
    except OSError:
        return False  # read as any other file: its reader reports the problem


def _index(no: int, known: pa.Table | None, fresh: list, unread: list, same: list, places: np.ndarray) -> pa.Table:
    """Every article's index entry, in place order: the cached one of a file not read again (with
    today's stat when it was read and had the same bytes), a new one for the rest; a row's handle
    is (task `no`, its place among the partition's `places`)."""
    tables, at = [], []
    if unread:
        k, j = zip(*unread)
        tables.append(known.take(pa.array(j, pa.int64())))
        at += k
    if same:
        k, j, reads = zip(*same)
        again = known.take(pa.array(j, pa.int64()))
        stats = [(*(read.stat or _NO_STAT), read.trusted) for read in reads]
        for name, values in zip(_STAT, zip(*stats)):
            again = _set(again, name, values)
        tables.append(again)
        at += k
    if fresh or not tables:
        fresh.sort(key=lambda f: f[0])
        entries = [(rel, *(stat or _NO_STAT), sha, trust, 0 if reject is None else -1, 0,
                    reject and reject.reason, reject and reject.message, warnings)
                   for _, rel, sha, reject, warnings, stat, trust in fresh]
        columns = zip(*entries) if entries else [[]] * len(INDEX_SCHEMA)
        tables.append(pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, INDEX_SCHEMA)],
                                           schema=INDEX_SCHEMA))
        at += [f[0] for f in fresh]
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    at = np.array(at, dtype=np.int64)
    order = np.argsort(at, kind="stable")
    table, at = table.take(pa.array(order)), at[order]
    is_row = table.column("part").to_numpy() >= 0
    table = _set(table, "part", np.where(is_row, no, -1))
    return _set(table, "row", np.where(is_row, np.searchsorted(places, at), -1))


def _set(table: pa.Table, name: str, values) -> pa.Table:
    at = table.schema.get_field_index(name)
    field = table.schema.field(at)
    return table.set_column(at, field, values if isinstance(values, (pa.Array, pa.ChunkedArray))
                            else pa.array(values, field.type))


def _cached_rows(cached: Partitions, parts: np.ndarray, rows: np.ndarray, schema: pa.Schema
                 ) -> list[tuple[pa.Table, np.ndarray]]:
    """The cached build's rows at these handles, a partition's run at a time (Partitions.runs);
    CacheError if it no longer holds them."""
    try:
        runs = cached.runs(parts, rows)
        if all(table.schema.equals(schema) for table, _ in runs):
            return runs
        problem = "rows of another shape"
    except (OSError, IndexError, pa.ArrowException) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    raise CacheError(f"the build cache gave no rows where its index says it holds {len(rows)} "
                     f"({problem}): its files were changed or damaged. It is deleted now; build again.")


def _facts(table: pa.Table, places: np.ndarray, shas: pa.Array, extra: tuple[str, ...]) -> pa.Table:
    """The small columns of a partition's rows (see ReadResult); `shas`: every file's sha256."""
    nbytes = layout.row_bytes(table)  # for the shard plan
    names = [name for name in FACTS if name != "nbytes"] + [c for c in extra if c not in FACTS]
    columns = {name: table.column(name) for name in names}
    columns["content_sha256"] = binary_column(hex_bytes(columns["content_sha256"], 32))  # see parts.FACTS
    digests = big_endian64(hex_bytes(shas.take(pa.array(places)), 8)) if len(places) else np.empty(0, np.uint64)
    return pa.table({"k": pa.array(places, pa.int64()), **columns, "nbytes": nbytes,
                     "file_digest": pa.array(digests, pa.uint64()), SIGNATURE: table.column(SIGNATURE)})


def read_and_process(item: tuple[str, str], settings: BuildSettings) -> Article:
    """Read one file (respecting the size limit before reading) and process its bytes, within
    the time limit (a batch of one for process_together)."""
    return process_together([read_file(item, settings)], settings)[0]


class Read(NamedTuple):
    """A file as read: its bytes and their sha256, or the reject of a file not read (too large,
    unreadable); its stat, and whether the stat can know it next time (`cache.trusted`)."""

    rel: str
    data: bytes | None
    sha256: str | None
    failed: Article | None
    stat: Stat | None
    trusted: bool


def read_file(item: tuple[str, str], settings: BuildSettings, size: int | None = None) -> Read:
    """The file read, its size limit respected. The stat is taken before the bytes are read (a
    later write shows in it), and trusted if the file was already TRUST_MARGIN_NS old then:
    the time of this read, not of the build's start, so a file written just before a long
    build is not read again by the next one."""
    rel, path = item
    if sources.is_remote(path):
        return _read_remote(rel, path, settings, size)
    try:
        with open(path, "rb") as fh:
            stat = stat_of(os.fstat(fh.fileno()))
            trust = trusted(stat, time.time_ns())
            if stat.size > settings.max_file_bytes:
                return Read(rel, None, None, _too_large(rel, stat.size, settings), stat, trust)
            data = fh.read()
    except OSError as exc:
        reject = Reject(rel, "unreadable", f"cannot read: {exc.strerror or exc}")
        return Read(rel, None, None, Article(rel, reject=reject), None, False)
    return Read(rel, data, hashlib.sha256(data).hexdigest(), None, stat, trust)


def _too_large(rel: str, size: int, settings: BuildSettings) -> Article:
    # Not read, so in the input manifest by size: what the reject was decided on.
    message = f"{size:,} bytes is over the {settings.max_file_bytes:,}-byte limit"
    return Article(rel, sha256=f"size:{size}", reject=Reject(rel, "too_large", message))


def _read_remote(rel: str, url: str, settings: BuildSettings, size: int | None) -> Read:
    """A file on object storage (builder.read.sources), its size limit decided from the listing's
    `size` before it is read. No stat: the cache knows it by its bytes' sha256 alone."""
    try:
        size, data = sources.read_bytes(url, settings.max_file_bytes, size)
    except OSError as exc:
        reject = Reject(rel, "unreadable", f"cannot read: {exc}")
        return Read(rel, None, None, Article(rel, reject=reject), None, False)
    if data is None:
        return Read(rel, None, None, _too_large(rel, size, settings), None, False)
    return Read(rel, data, hashlib.sha256(data).hexdigest(), None, None, False)


def process_together(reads: list[Read], settings: BuildSettings) -> list[Article]:
    """Each read file processed, or its reject as read; the files run a step at a time
    (process.run_steps), each stopped once its steps have taken `max_seconds_per_file` in all
    (builder.run.timeout)."""
    limit = settings.max_seconds_per_file
    todo = [i for i, read in enumerate(reads) if read.failed is None]
    with timeout.watch(limit) as enforced:
        done = run_steps([Article(reads[i].rel, reads[i].data, reads[i].sha256) for i in todo], settings,
                         timeout.timed_steps(limit, enforced, len(todo)))
    results: list[Article] = [read.failed for read in reads]
    for i, article in zip(todo, done):
        results[i] = article
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
