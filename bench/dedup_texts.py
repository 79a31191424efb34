"""Deduplicator: texts in, duplicate verdicts out, for bench/score_dedup.py (the build signs in
its workers and feeds builder.dedup.DedupIndex directly)."""
from __future__ import annotations

from datetime import datetime

from builder.dedup import DedupIndex, DedupSettings, DupResult, contain, content_sha256, signatures


class Deduplicator:
    """Texts in, verdicts out: content hashes, batched signatures, the index (for callers that
    hold texts, such as bench/score_dedup.py; the build signs in its workers and feeds
    DedupIndex directly, and its build cache spares a rebuild the signing).

    add() keeps a text only until its batch is signed (batch_size distinct texts at most); a
    text whose hash was seen before is never signed again. Keeps a set of the ids and text
    hashes seen: for callers that hold their texts in memory anyway.
    """

    def __init__(self, settings: DedupSettings, *, batch_size: int = 512) -> None:
        self.settings = settings
        self.index = DedupIndex(settings)
        self.batch_size = batch_size
        self.signed = 0  # signatures computed
        self._signed_hashes: set[str] = set()
        self._ids: set[str] = set()
        self._pending: dict[str, str] = {}  # text hash -> text, waiting to be signed
        self._rows: list[tuple] = []        # rows whose text is pending
        self._pending_chars = 0             # a few huge texts also make a batch

    def add(self, id: str, text: str, *, date: datetime | None = None, n_chars: int | None = None,
            text_hash: str | None = None) -> str:
        """Record one row; returns its content hash (`content_sha256(text)` unless given)."""
        h = text_hash or content_sha256(text)
        n = len(text) if n_chars is None else n_chars
        if id in self._ids:
            raise ValueError(f"duplicate row id {id!r} given to Deduplicator (ids must be unique)")
        self._ids.add(id)
        if h in self._signed_hashes:
            self.index.add(id, h, date=date, n_chars=n)
            return h
        if h not in self._pending:
            self._pending[h] = text
            self._pending_chars += len(text)
        self._rows.append((id, h, date, n))
        if len(self._pending) >= self.batch_size or self._pending_chars >= 4_000_000:
            self.flush()
        return h

    def flush(self) -> None:
        """Sign the pending texts and hand their rows to the index."""
        if not self._pending:
            return
        todo = list(self._pending)
        found = dict(zip(todo, signatures([self._pending[h] for h in todo], self.settings)))
        self.signed += len(todo)
        for id, h, date, n in self._rows:
            self.index.add(id, h, None if h in self._signed_hashes else found[h], date=date, n_chars=n)
            self._signed_hashes.add(h)
        self._pending.clear()
        self._rows.clear()
        self._pending_chars = 0

    def results(self, texts: dict[str, str] | None = None) -> list[DupResult]:
        """Verdicts; `texts` (id -> text) turns on the containment check."""
        self.flush()
        contained = None
        if texts is not None:
            candidates = self.index.containment_candidates()
            contained = contain.verify_texts(candidates, lambda row: texts[self.index.id(row)], self.settings)
        return self.index.results(contained)

    def stats(self) -> dict:
        s = self.index.stats()
        s["signed"] = self.signed
        return s
