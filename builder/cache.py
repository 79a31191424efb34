"""A content-addressed cache of per-file results, so a rebuild redoes only changed files.

The per-file work is a pure function of (path within the source, file bytes, settings), so
its result (row or reject, warnings, MinHash signature) is cached under a key made of exactly
those: the path, the file's sha256, the settings' fingerprint and the tool version. Changing
any of them misses the cache; nothing else can make a cached result stale. One SQLite file
per (settings, version); workers read it concurrently and encode what they computed, one
writer thread in the main process stores it (WAL mode: readers never wait for the writer,
and no writer waits for another). Filling the cache costs a build ~8 s per 100,000 files
(pickling, SQLite inserts); a one-off build is faster with --no-cache.
Deleting the cache folder is always safe.
"""
from __future__ import annotations

import hashlib
import logging
import pickle
import sqlite3
from pathlib import Path

from . import __version__
from .settings import BuildSettings

log = logging.getLogger(__name__)


def result_key(rel_path: str, file_sha256: str) -> bytes:
    return hashlib.sha256(f"{rel_path}\0{file_sha256}".encode("utf-8", "surrogateescape")).digest()


class ResultCache:
    """get/put per-file results; one instance per process (SQLite connections are not shared)."""

    def __init__(self, folder: str | Path, settings: BuildSettings):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tag = hashlib.sha256(f"{settings.fingerprint}\0{__version__}".encode()).hexdigest()[:16]
        # v2: values are plain pickles (v1 zlib-compressed them: 1.45x smaller, but compressing
        # cost more per file than reading it, on every build that fills the cache).
        self.path = folder / f"results-v2-{tag}.sqlite"
        self._db = self._open()

    def _open(self, retry: bool = True) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS results (key BLOB PRIMARY KEY, value BLOB NOT NULL)")
            return db
        except sqlite3.DatabaseError:
            if not retry:
                raise
            # A damaged cache is only lost time: start it anew.
            self.path.unlink(missing_ok=True)
            return self._open(retry=False)

    def get(self, key: bytes):
        return self.get_many([key]).get(key)

    def get_many(self, keys: list[bytes]) -> dict:
        """{key: result} for the keys that are cached: one query for a chunk of files."""
        found: dict = {}
        for start in range(0, len(keys), 500):  # under SQLite's limit on query parameters
            part = keys[start:start + 500]
            try:
                rows = self._db.execute(f"SELECT key, value FROM results WHERE key IN ({','.join('?' * len(part))})",
                                        part).fetchall()
            except sqlite3.DatabaseError:
                continue
            for key, value in rows:
                try:
                    found[key] = pickle.loads(value)
                except Exception:  # a damaged entry is a miss, never a wrong result
                    pass
        return found

    @staticmethod
    def encode(value: object) -> bytes:
        """The stored form of a result (put_blobs takes it; made where the result is)."""
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def put_many(self, items: list[tuple[bytes, object]]) -> None:
        self.put_blobs([(k, self.encode(v)) for k, v in items])

    def put_blobs(self, rows: list[tuple[bytes, bytes]]) -> None:
        if not rows:
            return
        try:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)", rows)
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass

    def close(self) -> None:
        self._db.close()


class CacheWriter:
    """ResultCache.put_blobs on a thread of its own, fed by a bounded queue: the main process
    stores what the workers computed while it goes on reading their results (SQLite releases
    the GIL while it writes). `close` waits for everything queued to be stored."""

    def __init__(self, cache: ResultCache, *, max_pending: int = 16) -> None:
        import queue
        import threading

        self.cache = cache
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._run, name="corpus-cache-writer", daemon=True)
        self._thread.start()

    def put(self, rows: list[tuple[bytes, bytes]]) -> None:
        if rows:
            self._queue.put(rows)

    def _run(self) -> None:
        while True:
            rows = self._queue.get()
            if rows is None:
                return
            try:
                self.cache.put_blobs(rows)
            except Exception as exc:  # a cache that cannot be written costs time later, never this build
                log.warning("cannot write to the result cache %s: %s", self.cache.path, exc)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self.cache.close()
