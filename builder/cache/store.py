"""The cache folder: one cached build per key, locked while in use, bounded in size, listed and cleared."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import pyarrow as pa
import pyarrow.ipc as ipc

from .. import __version__
from ..read import sources
from ..errors import CacheFolderError, ConfigError
from ..fingerprint import code_fingerprint, rules_digest
from ..output import try_lock as _lock
from ..settings import BuildSettings
from .index import FORMAT, INDEX_SCHEMA, PreviousBuild

log = logging.getLogger(__name__)

# The bound on the folder's cached builds, unless CORPUS_CACHE_MAX_BYTES says otherwise. A build
# keeps ~6 KB a file (30 MB for 5,000 files), so 5 GiB holds ~150 variants of a corpus of that
# size, or the last build of ~800,000 files: room for the settings a user switches between,
# small beside a disk; the build just installed is never evicted, so a larger corpus still
# rebuilds incrementally.
DEFAULT_MAX_BYTES = 5 * 2**30
MAX_BYTES_ENV = "CORPUS_CACHE_MAX_BYTES"
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def default_dir() -> Path:
    """The cache folder a build uses unless told otherwise: $XDG_CACHE_HOME/corpus-builder, else
    ~/.cache/corpus-builder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "corpus-builder"


def max_bytes_setting() -> int:
    """The bound on the cache folder's size: CORPUS_CACHE_MAX_BYTES (bytes, or with a K/M/G/T
    suffix: 500M, 20G) when set, else DEFAULT_MAX_BYTES."""
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    m = re.fullmatch(r"(\d+)\s*([kmgt]?)(?:i?b)?", raw, re.I)
    if m is None:
        raise ConfigError(f"{MAX_BYTES_ENV}={raw!r} is not a size: give bytes, e.g. 5368709120, or 500M, 20G")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def cache_key(source: str, settings: BuildSettings, *, rules: str, code: Mapping) -> str:
    """The key of the cached build of `source` (a real path) with `settings`, the rule files of
    digest `rules` and the code `code` (see the module docstring: all that shapes a row)."""
    what = json.dumps({"source": source, "settings": settings.fingerprint, "rules": rules, "code": code,
                       "format": FORMAT}, sort_keys=True)
    return _digest(what)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _usable_folder(folder: Path) -> Path:
    """`folder`, created if missing; CacheFolderError, naming it and the fix, if a build cannot
    keep its cache there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("results-v[12]-*.sqlite*"):  # the cache's earlier formats: never read again
            old.unlink(missing_ok=True)
    except FileExistsError:
        raise _folder_error(folder, "it is a file, not a folder") from None
    except OSError as exc:
        raise _folder_error(folder, exc.strerror or str(exc)) from None
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        raise _folder_error(folder, "no permission to read and write it")
    return folder


def _folder_error(folder: Path, why: str) -> CacheFolderError:
    return CacheFolderError(f"build cache folder {str(folder)!r} cannot be used ({why}): give another with "
                            "--cache-dir DIR (cache_dir=...), or build without the cache (--no-cache, cache_dir=None)")


def _held(path: Path) -> bool:
    """Whether a live build holds the lock file `path` (tried without creating it)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fh = open(path, "rb")
    except OSError:
        return False  # no lock file: no build holds it
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


@dataclass
class BuildCache:
    """The cache folder's view for one build of `source` with `settings`."""

    folder: Path
    key: str
    row_schema: pa.Schema
    source: str = ""  # the source folder's real path
    # What the key covers, kept in meta.json: builds of this source found outdated are dropped.
    ids: dict = field(default_factory=dict)
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def for_build(cls, folder: str | os.PathLike, source: str | os.PathLike, settings: BuildSettings,
                  row_schema: pa.Schema, *, max_bytes: int | None = None) -> "BuildCache":
        """The cache of this build in `folder` (created if missing; CacheFolderError if it cannot
        be used). `max_bytes`: the bound on the folder's size (default: max_bytes_setting())."""
        folder = _usable_folder(Path(folder))
        real = sources.root(str(source)) if sources.is_remote(source) else os.path.realpath(source)
        rules, code = rules_digest(settings.rules_dirs), code_fingerprint()
        ids = {"settings": settings.fingerprint, "rules": rules, "code": _digest(json.dumps(code, sort_keys=True))}
        return cls(folder, cache_key(real, settings, rules=rules, code=code), row_schema, real, ids,
                   max_bytes_setting() if max_bytes is None else max_bytes)

    def __post_init__(self) -> None:
        self._lock = None

    @property
    def store(self) -> Path:
        return self.folder / f"build-{self.key}"

    def acquire(self) -> bool:
        """Lock this source's cached build for this build; False if another build holds it."""
        try:
            self._lock = _lock(self.folder / f"build-{self.key}.lock")
        except OSError as exc:
            raise _folder_error(self.folder, exc.strerror or str(exc)) from None
        if self._lock is None:
            log.info("another build is using the cache of this source: building without it")
            return False
        for stale in self.folder.glob(f".build-{self.key}.*"):  # left by a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        return True

    def previous(self) -> PreviousBuild | None:
        """The cached build, if there is a whole one in this format (a damaged one is ignored).
        Marks it used now (its meta.json's mtime: eviction goes least recently used first)."""
        if self._lock is None:
            return None
        try:
            meta = json.loads((self.store / "meta.json").read_text(encoding="utf-8"))
            prev = PreviousBuild(self.store, meta)
            for k in range(prev.n_tasks):  # every partition whole (its footer readable) and ours
                path = prev.parts / f"t{k:06d}.arrow"
                if path.exists() and not ipc.open_file(str(path)).schema.equals(self.row_schema):
                    raise ValueError(f"{path.name} has another schema")
            if not ipc.open_file(str(self.store / "files.arrow")).schema.equals(INDEX_SCHEMA):
                raise ValueError("files.arrow has another schema")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
            log.warning("ignoring the damaged build cache %s: %s", self.store, exc)
            return None
        try:
            os.utime(self.store / "meta.json")
        except OSError:
            pass
        return prev

    def install(self, index: Path, parts: Path, *, n_tasks: int) -> None:
        """Make this build's index (files.arrow in `index`) and partitions (`parts`) the cached
        build of this source, in place of the one before. Then drops this source's outdated
        builds and keeps the folder within `max_bytes`."""
        if self._lock is None:
            return
        meta = {"n_tasks": n_tasks, "source": self.source, "version": __version__, "format": FORMAT, **self.ids}
        (index / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        incoming = Path(tempfile.mkdtemp(prefix=f".build-{self.key}.in-", dir=self.folder))
        try:
            shutil.move(str(index), str(incoming / "b"))  # a rename when on one disk, else a copy
            shutil.move(str(parts), str(incoming / "b" / "parts"))
            old = self.folder / f".build-{self.key}.old"
            shutil.rmtree(old, ignore_errors=True)
            if self.store.exists():
                os.rename(self.store, old)
            os.rename(incoming / "b", self.store)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        self._drop_outdated()
        self._evict()

    def _outdated(self, meta: dict) -> bool:
        """Whether a cached build of this source (its meta.json) will never be read again: made
        by other code or another cache format, or with these settings and other rule files."""
        mine = {"version": __version__, "format": FORMAT, **self.ids}
        if any(meta.get(k) != mine[k] for k in ("version", "format", "code")):
            return True
        return meta.get("settings") == mine["settings"] and meta.get("rules") != mine["rules"]

    def _drop_outdated(self) -> None:
        """Delete this source's outdated cached builds (each the size of a build; their key
        differs from any a build of this code would use). Those of other settings stay: a user
        may switch back."""
        for other in _variants(self.folder):
            if other.path == self.store or other.source != self.source or not self._outdated(other.meta):
                continue
            _remove(self.folder, other.path.name)  # else a build of that code is using it now

    def _evict(self) -> None:
        """Delete the least recently used cached builds until the folder holds at most
        `max_bytes` of them; never this build's, nor one another build holds."""
        variants = sorted(_variants(self.folder), key=lambda v: v.last_used)
        total = sum(v.size for v in variants)
        for v in variants:
            if total <= self.max_bytes:
                break
            if v.path != self.store and _remove(self.folder, v.path.name):
                log.info("build cache over %s: evicted %s (%s, last used %s)", _size_text(self.max_bytes),
                         v.path.name, _size_text(v.size), _when(v.last_used))
                total -= v.size
        if total > self.max_bytes:
            log.info("build cache holds %s, over its bound of %s: the rest is this build's or in use",
                     _size_text(total), _size_text(self.max_bytes))

    def discard(self) -> None:
        """Delete this source's cached build (found damaged)."""
        shutil.rmtree(self.store, ignore_errors=True)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


# ---- the folder as a whole: `corpus cache info` and `corpus cache clear` -------------------------


@dataclass(frozen=True)
class Variant:
    """One cached build in the folder: a (source, settings, rules, code)."""

    path: Path
    source: str | None
    size: int            # bytes
    last_used: float     # seconds since the epoch: its meta.json's mtime, touched on every use
    meta: dict = field(default_factory=dict, compare=False, repr=False)
    in_use: bool = False  # a running build holds it

    def line(self) -> str:
        held = "  (in use by a running build)" if self.in_use else ""
        return (f"  {self.path.name}  {_size_text(self.size):>10}  last used {_when(self.last_used)}"
                f"  {self.source or '(source unknown)'}{held}")


@dataclass(frozen=True)
class CacheInfo:
    """What `cache_info` found: the folder, its cached builds (least recently used first) and
    the bound on their size."""

    folder: Path
    variants: tuple[Variant, ...]
    max_bytes: int

    @property
    def total(self) -> int:
        return sum(v.size for v in self.variants)

    def lines(self) -> list[str]:
        head = f"build cache {self.folder}: " + (_builds(len(self.variants)) if self.variants else "no cached builds")
        return [head, *(v.line() for v in self.variants),
                f"total {_size_text(self.total)} of at most {_size_text(self.max_bytes)}"
                f" ({MAX_BYTES_ENV}; least recently used evicted first)"]


@dataclass(frozen=True)
class Cleared:
    """What `clear_cache` did: the cached builds removed, and those kept because a build holds them."""

    folder: Path
    removed: tuple[Variant, ...]
    kept: tuple[Variant, ...]

    def lines(self) -> list[str]:
        lines = [f"removed {v.path.name} ({_size_text(v.size)}, {v.source or 'source unknown'})" for v in self.removed]
        lines += [f"kept {v.path.name} ({_size_text(v.size)}, {v.source or 'source unknown'}): a running build holds it"
                  for v in self.kept]
        freed = sum(v.size for v in self.removed)
        return [*lines, f"build cache {self.folder}: removed {_builds(len(self.removed))} ({_size_text(freed)}),"
                        f" kept {len(self.kept)} in use"]


def cache_info(folder: str | os.PathLike, *, max_bytes: int | None = None) -> CacheInfo:
    """The cached builds in `folder` (none if it does not exist), least recently used first,
    each with its source, size, last use and whether a build holds it now."""
    folder = Path(folder)
    variants = sorted(_variants(folder), key=lambda v: v.last_used) if _readable(folder) else []
    return CacheInfo(folder, tuple(replace(v, in_use=_held(_lock_path(v))) for v in variants),
                     max_bytes_setting() if max_bytes is None else max_bytes)


def clear_cache(folder: str | os.PathLike) -> Cleared:
    """Delete every cached build in `folder` that no running build holds (and what killed
    builds left there); the folder itself stays."""
    folder = Path(folder)
    if not _readable(folder):
        return Cleared(folder, (), ())
    removed, kept = [], []
    for v in sorted(_variants(folder), key=lambda v: v.last_used):
        (removed if _remove(folder, v.path.name) else kept).append(v)
    for lock in folder.glob("build-*.lock"):  # of builds gone, or never installed
        if not (folder / lock.stem).exists():
            _remove(folder, lock.stem)
    for old in folder.glob("results-v[12]-*.sqlite*"):
        old.unlink(missing_ok=True)
    for v in removed:
        log.debug("removed %s (%s)", v.path.name, _size_text(v.size))
    return Cleared(folder, tuple(removed), tuple(kept))


def _readable(folder: Path) -> bool:
    """True if `folder` is a folder we can read, False if it does not exist; else CacheFolderError."""
    if not folder.exists():
        return False
    if not folder.is_dir():
        raise _folder_error(folder, "it is a file, not a folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise _folder_error(folder, "it is not readable")
    return True


def _variants(folder: Path) -> list[Variant]:
    """The cached builds in `folder` (`build-*` folders), in no particular order."""
    out = []
    for path in folder.glob("build-*"):
        if not path.is_dir():
            continue
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
            last_used = (path / "meta.json").stat().st_mtime
        except (OSError, ValueError):
            meta, last_used = {}, _mtime(path)
        meta = meta if isinstance(meta, dict) else {}
        out.append(Variant(path, meta.get("source"), _size(path), last_used, meta))
    return out


def _lock_path(v: Variant) -> Path:
    return v.path.with_name(v.path.name + ".lock")


def _remove(folder: Path, name: str) -> bool:
    """Delete the cached build `name` (build-<key>), what killed builds of it left, and its lock
    file, unless a running build holds it (then False)."""
    lock_path = folder / f"{name}.lock"
    try:
        lock = _lock(lock_path)
    except OSError:
        return False
    if lock is None:
        return False
    try:
        shutil.rmtree(folder / name, ignore_errors=True)
        for stale in folder.glob(f".{name}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        try:
            lock_path.unlink()  # while held: a build that opened it meanwhile takes a new one (_lock)
        except OSError:
            pass
    finally:
        lock.close()
    return not (folder / name).exists()


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size_text(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    exp = min(3, (n.bit_length() - 1) // 10)
    return f"{n / 2 ** (10 * exp):.1f} {('KiB', 'MiB', 'GiB')[exp - 1]}"


def _builds(n: int) -> str:
    return f"{n} cached build" + ("" if n == 1 else "s")


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))
