"""Signature cache: MinHash signatures stored by content hash, so a rebuild signs only new texts.

One SQLite file per signature setting in the cache folder,
`minhash-<DedupSettings.signature_key()>.sqlite`, mapping content_sha256 -> signature bytes.
The file name carries everything a signature depends on (algorithm and normalisation
versions, shingle size, num_perm, seed), so changing one of them starts a fresh file instead
of reusing stale signatures; threshold, bands and keep_duplicates do not affect signatures and
share the file. A cache is disposable: a file that is not a readable cache is replaced.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .dedup import DedupSettings
from .errors import OutputError

_CHUNK = 500  # keys per SELECT ... IN (...): below SQLite's oldest variable limit (999)


class SignatureCache:
    """get_many/put_many over one SQLite file; `hits`, `misses` and `stores` count the traffic."""

    def __init__(self, cache_dir: str | Path, settings: DedupSettings) -> None:
        self.settings = settings
        self.hits = self.misses = self.stores = 0
        folder = Path(cache_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create the cache folder {str(folder)!r}: {e.strerror}; "
                              "pass a writable cache dir") from None
        self.path = folder / f"minhash-{settings.signature_key()}.sqlite"
        try:
            self._db = self._open()
        except sqlite3.DatabaseError:  # not a database, or another schema: it is only a cache
            self.path.unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=60)
        except sqlite3.OperationalError as e:
            raise OutputError(f"cannot open the signature cache {str(self.path)!r}: {e}; "
                              "pass a writable cache dir") from None
        db.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        db.execute("CREATE TABLE IF NOT EXISTS sig (hash TEXT PRIMARY KEY, sig BLOB NOT NULL) WITHOUT ROWID")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT OR IGNORE INTO meta VALUES ('signature_key', ?)", (self.settings.signature_key(),))
        (key,) = db.execute("SELECT value FROM meta WHERE key = 'signature_key'").fetchone()
        if key != self.settings.signature_key():
            db.close()
            raise sqlite3.DatabaseError("signature_key mismatch")
        db.commit()
        return db

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM sig").fetchone()[0]

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached signatures among `hashes` (missing ones are simply absent)."""
        out: dict[str, np.ndarray] = {}
        size = self.settings.num_perm * 4
        for a in range(0, len(hashes), _CHUNK):
            part = hashes[a:a + _CHUNK]
            q = "SELECT hash, sig FROM sig WHERE hash IN (%s)" % ",".join("?" * len(part))
            for h, blob in self._db.execute(q, part):
                if len(blob) == size:  # a short blob would be a torn write: sign again
                    out[h] = np.frombuffer(blob, dtype="<u4").copy()
        self.hits += len(out)
        self.misses += len(set(hashes)) - len(out)
        return out

    def put_many(self, sigs: Mapping[str, np.ndarray]) -> None:
        """Store signatures by content hash, in one transaction."""
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO sig VALUES (?, ?)",
                                 ((h, np.asarray(s, dtype="<u4").tobytes()) for h, s in sigs.items()))
        self.stores += len(sigs)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SignatureCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
