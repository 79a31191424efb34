"""The build cache: the previous build's per-file results, so a rebuild redoes only what changed.

The per-file work is a pure function of (path within the source, file bytes, settings): a
result computed once for a file's content holds for as long as its path, its sha256, the
settings and the tool version are the same. A build with a cache folder keeps, per (source
folder, settings, tool version), what its reading pass produced:

- `files.arrow`: one entry per article file, in path order: the file's stat (size, mtime,
  ctime, inode), its sha256, and what it became: a row (its place in path order) or a reject
  (reason and message), with its warnings;
- `L<n>/part-*.arrow`: the rows themselves with their MinHash signatures, in layers: each
  build adds the rows it computed as a layer (the spill's own files, moved here, not copied)
  and keeps the earlier layers whose rows it took. A row is known by (layer, its place in
  path order in the build that wrote it). When the layers hold too many rows no longer used,
  or too many layers, a build writes all its rows as one layer instead.

A rebuild walks the new file list and the old entries side by side (both in path order). A
file whose stat is unchanged is taken as it was, unread, if it was already TRUST_MARGIN_NS old
when it was hashed (git's rule against a file changed within the same clock tick); a file
whose stat changed is read and hashed, and taken as it was if its sha256 is the same; only
the others are processed. Rows taken come from the old part files by position, as Arrow,
without passing through Python.

Only the last build of a (source, settings, version) is kept: a cache the size of one build,
swapped in whole when a build succeeds; the builds of a source by other tool versions are
deleted then. A build holds a lock on the one it uses; a second build of the same source at
the same time builds without it. Deleting the folder is always safe.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import pyarrow as pa
import pyarrow.ipc as ipc

from . import __version__
from .settings import BuildSettings

log = logging.getLogger(__name__)

FORMAT = 3  # v1, v2: an SQLite table of pickled results per (path, sha256); removed when met
# A file is trusted by its stat only if it was hashed while its mtime and ctime were this far
# in the past: a write in the same clock tick as the hashing (coarse file system clocks tick
# every 1-2 s) would otherwise leave the stat unchanged and the content stale.
TRUST_MARGIN_NS = 2_000_000_000
# A build writes all its rows as one layer when the cached layers would be more than this many,
# or hold more than this many times the rows in use.
MAX_LAYERS = 4
MAX_STORED_PER_LIVE = 1.5

INDEX_SCHEMA = pa.schema([
    pa.field("path", pa.string(), False),
    pa.field("size", pa.int64(), False),
    pa.field("mtime_ns", pa.int64(), False),
    pa.field("ctime_ns", pa.int64(), False),
    pa.field("ino", pa.uint64(), False),
    pa.field("sha256", pa.string()),          # None: the file was not read (too large, unreadable)
    pa.field("trusted", pa.bool_(), False),   # hashed while older than TRUST_MARGIN_NS
    pa.field("seq", pa.int64(), False),       # the row's place in path order; -1 for a reject
    pa.field("layer", pa.int32(), False),     # where the row is: its layer, and its place in
    pa.field("lseq", pa.int64(), False),      # path order in the build that wrote that layer
    pa.field("reason", pa.string()),          # the reject's reason and message
    pa.field("message", pa.string()),
    pa.field("warnings", pa.list_(pa.string()), False),
])


class Stat(NamedTuple):
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


def stat_of(st: os.stat_result) -> Stat:
    return Stat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def trusted(stat: Stat, hashed_at_ns: int) -> bool:
    """Whether a file with this stat, hashed at `hashed_at_ns` or later, can be known by it."""
    return max(stat.mtime_ns, stat.ctime_ns) + TRUST_MARGIN_NS < hashed_at_ns


class Entry(NamedTuple):
    """What one article file became in a build, and how to know the file again."""

    path: str
    stat: Stat
    sha256: str | None
    trusted: bool
    seq: int                 # -1: a reject
    layer: int               # the row's layer and its seq there
    lseq: int
    reason: str | None
    message: str | None
    warnings: list[str]

    @property
    def reusable(self) -> bool:
        return reusable(self.sha256, self.reason)


def reusable(sha256: str | None, reason: str | None) -> bool:
    """Whether a cached result may stand for its file again: an unread file and a timeout are
    decided afresh every time (the next try may pass)."""
    return sha256 is not None and reason != "timeout"


def _row(e: Entry) -> tuple:
    """An entry as a row of INDEX_SCHEMA (its fields in the same order, the stat spread out)."""
    return (e.path, *e.stat, *e[2:])


def _entry(row: tuple) -> Entry:
    return Entry(row[0], Stat(*row[1:5]), *row[5:])


def entry_at(table: pa.Table, j: int) -> Entry:
    """Row j of a table of index rows (INDEX_SCHEMA), as an Entry."""
    return _entry(tuple(table.column(name)[j].as_py() for name in INDEX_SCHEMA.names))


class PreviousBuild:
    """The cached build of a source, opened for reading: its entries, streamed in path order,
    and its part files."""

    def __init__(self, folder: Path, meta: dict) -> None:
        self.folder = folder
        self.n_partitions: int = meta["n_partitions"]
        # layer -> {"seq_space": rows of the build that wrote it, "rows": rows it holds}
        self.layers: dict[int, dict] = {int(k): v for k, v in meta["layers"].items()}
        self.live_rows: int = meta["live_rows"]  # rows the entries use

    @property
    def stored_rows(self) -> int:
        return sum(layer["rows"] for layer in self.layers.values())

    def entries(self) -> Iterator[Entry]:
        for batch in self.batches():
            yield from map(_entry, zip(*(batch.column(name).to_pylist() for name in INDEX_SCHEMA.names)))

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The entries as INDEX_SCHEMA batches, in path order."""
        # Read a batch at a time, not memory-mapped: a mapping read through to its end counts
        # the whole file in the process's RSS (224 MB at a million files, read while the
        # workers run: a rebuild's peak was 577 MB there).
        with pa.OSFile(str(self.folder / "files.arrow")) as source:
            reader = ipc.open_file(source)
            for k in range(reader.num_record_batches):
                yield reader.get_batch(k)

    def part(self, layer: int, k: int) -> Path:
        return self.folder / f"L{layer}" / f"part-{k:05d}.arrow"


class Lookup:
    """The previous build's entries of runs of paths asked in path order: a merge of two sorted
    streams (the index read a batch at a time), so no map of a million paths is held. Entries
    come as INDEX_SCHEMA rows, not objects: a rebuild takes most of them whole."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._batches = batches
        self._window = INDEX_SCHEMA.empty_table()  # index rows not yet passed
        self._paths: list[str] = []                # their paths
        self._at = 0                               # the first row not matched or passed

    def match(self, paths: list[str]) -> tuple[pa.Table, list[int]]:
        """For `paths` (sorted, each after every path asked before): their entries, as a table
        of index rows, and for each path its row in that table, or -1 if it has none."""
        self._window, self._paths = self._window.slice(self._at), self._paths[self._at:]
        at, known = 0, self._paths
        while len(known) < len(paths) and self._more():  # enough rows for the common case below
            known = self._paths
        if known[:len(paths)] == paths:  # the same files as last time (one C comparison)
            self._at = len(paths)
            return self._window.slice(0, len(paths)), list(range(len(paths)))
        rows, where = [], []
        for path in paths:
            while True:
                if at == len(known):
                    if not rows:  # none of these rows is wanted: not held while more are read
                        self._window, self._paths, at = self._window.slice(at), [], 0
                    if not self._more():
                        break
                    known = self._paths
                elif known[at] < path:
                    at += 1
                else:
                    break
            if at < len(known) and known[at] == path:
                where.append(len(rows))
                rows.append(at)
                at += 1
            else:
                where.append(-1)
        self._at = at
        return self._window.take(pa.array(rows, pa.int64())), where

    def _more(self) -> bool:
        batch = next(self._batches, None)
        if batch is None:
            return False
        self._window = pa.concat_tables([self._window, pa.Table.from_batches([batch])])
        self._paths = self._paths + batch.column("path").to_pylist()
        return True


class IndexWriter:
    """files.arrow, written as the build reads, in batches of at least `batch` rows (a build
    adds a task's files at a time, ~64; the next build's Lookup reads it a batch at a time)."""

    def __init__(self, path: Path, *, batch: int = 4096) -> None:
        self._writer = ipc.new_file(str(path), INDEX_SCHEMA)
        self._batch = batch
        self._pending: list[pa.Table] = []
        self._rows = 0

    def add_table(self, table: pa.Table) -> None:
        """Entries as a table of INDEX_SCHEMA rows (see `index_table`), after those added before."""
        self._pending.append(table)
        self._rows += table.num_rows
        if self._rows >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.concat_tables(self._pending).combine_chunks())
            self._pending, self._rows = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()


def index_table(entries: list[Entry]) -> pa.Table:
    """Entries as a table of INDEX_SCHEMA rows."""
    columns = zip(*map(_row, entries)) if entries else [[]] * len(INDEX_SCHEMA)
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, INDEX_SCHEMA)], schema=INDEX_SCHEMA)


def _lock(path: Path):
    """An exclusive lock held for as long as the returned file is open; None if another
    process holds it. Where there is no fcntl, every build gets it."""
    fh = open(path, "a+b")
    try:
        import fcntl
    except ImportError:
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


@dataclass
class BuildCache:
    """The cache folder's view for one build of `source` with `settings`."""

    folder: Path
    key: str
    row_schema: pa.Schema
    source: str = ""  # the source folder's real path

    @classmethod
    def for_build(cls, folder: str | os.PathLike, source: str | os.PathLike, settings: BuildSettings,
                  row_schema: pa.Schema) -> "BuildCache":
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("results-v[12]-*.sqlite*"):  # the cache's earlier formats: never read again
            old.unlink(missing_ok=True)
        real = os.path.realpath(source)
        what = f"{real}\0{settings.fingerprint}\0{__version__}\0{FORMAT}"
        return cls(folder, hashlib.sha256(what.encode("utf-8", "surrogateescape")).hexdigest()[:16], row_schema,
                   real)

    def __post_init__(self) -> None:
        self._lock = None

    @property
    def store(self) -> Path:
        return self.folder / f"build-{self.key}"

    def acquire(self) -> bool:
        """Lock this source's cached build for this build; False if another build holds it."""
        self._lock = _lock(self.folder / f"build-{self.key}.lock")
        if self._lock is None:
            log.info("another build is using the cache of this source: building without it")
            return False
        for stale in self.folder.glob(f".build-{self.key}.*"):  # left by a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        return True

    def previous(self) -> PreviousBuild | None:
        """The cached build, if there is a whole one in this format (a damaged one is ignored)."""
        if self._lock is None:
            return None
        try:
            meta = json.loads((self.store / "meta.json").read_text(encoding="utf-8"))
            prev = PreviousBuild(self.store, meta)
            for layer in prev.layers:  # every part file whole (its footer readable) and ours
                for k in range(prev.n_partitions):
                    path = prev.part(layer, k)
                    if path.exists() and not ipc.open_file(str(path)).schema.equals(self.row_schema):
                        raise ValueError(f"{path.name} has another schema")
            if not ipc.open_file(str(self.store / "files.arrow")).schema.equals(INDEX_SCHEMA):
                raise ValueError("files.arrow has another schema")
            return prev
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
            log.warning("ignoring the damaged build cache %s: %s", self.store, exc)
            return None

    def install(self, staged: Path, *, n_partitions: int, layers: dict[int, dict], live_rows: int) -> None:
        """Make `staged` (files.arrow and its new layer) the cached build of this source; the
        other `layers` it uses are moved over from the cached build."""
        if self._lock is None:
            return
        meta = {"n_partitions": n_partitions, "layers": {str(k): v for k, v in sorted(layers.items())},
                "live_rows": live_rows, "source": self.source, "version": __version__, "format": FORMAT}
        (staged / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        incoming = Path(tempfile.mkdtemp(prefix=f".build-{self.key}.in-", dir=self.folder))
        try:
            shutil.move(str(staged), str(incoming / "b"))  # a rename when on one disk, else a copy
            for layer in layers:
                if not (incoming / "b" / f"L{layer}").exists():
                    os.rename(self.store / f"L{layer}", incoming / "b" / f"L{layer}")
            old = self.folder / f".build-{self.key}.old"
            shutil.rmtree(old, ignore_errors=True)
            if self.store.exists():
                os.rename(self.store, old)
            os.rename(incoming / "b", self.store)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        self._drop_outdated()

    def _drop_outdated(self) -> None:
        """Delete the cached builds of this source made by another tool version or cache format:
        never read again (their key differs), each the size of a build. Those of other settings
        stay: a user may switch back."""
        for other in self.folder.glob("build-*"):
            if other == self.store or not other.is_dir():
                continue
            try:
                meta = json.loads((other / "meta.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(meta, dict) or meta.get("source") != self.source or (
                    meta.get("version"), meta.get("format")) == (__version__, FORMAT):
                continue
            lock = _lock(self.folder / f"{other.name}.lock")
            if lock is not None:  # else a build of that version is using it now
                try:
                    shutil.rmtree(other, ignore_errors=True)
                finally:
                    lock.close()

    def discard(self) -> None:
        """Delete this source's cached build (found damaged)."""
        shutil.rmtree(self.store, ignore_errors=True)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None
