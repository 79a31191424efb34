"""Clustering: exact and near-duplicate rows grouped, and which member of each group is kept.

Exact duplicates share `content_sha256`; near duplicates are LSH candidate pairs whose estimated
Jaccard similarity passes the threshold; union-find joins them. The state kept per row is a few
numbers, and one signature per distinct text (on disk).

INVARIANT: the kept member of a cluster is the earliest `date` (rows without a date come after
every dated row), then the longest text (`n_chars`), then the smallest `id` (string order).
Changing it moves rows between splits: a major version.
"""
from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from . import contain
from .lsh import candidate_pairs, unpack
from .minhash import EMPTY
from .settings import DedupSettings
from .store import Run, _digest64, _Ids, SignatureFile, compact, serial


@dataclass(frozen=True)
class DupResult:
    """The verdict for one row.

    dup_cluster: id of the cluster's kept member (the row's own id when unique or kept).
    keep: write the row (False: drop it and write a reject with `reason` and `duplicate_of`).
    reason: None for a kept member, else "duplicate" (same normalised text as the kept member)
      "near_duplicate" or "contained"; still set when keep_duplicates keeps the row.
    duplicate_of: the kept member's id when reason is set.
    similarity: estimated Jaccard similarity to the kept member (1.0 for identical text). Can
      be below the threshold: clusters are transitive (see DedupIndex).
    """

    id: str
    dup_cluster: str
    keep: bool
    reason: str | None = None
    duplicate_of: str | None = None
    similarity: float = 1.0


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NO_DATE = 2 ** 62  # the date key of a row without a date: after every real date


def date_key(date: datetime | None) -> int:
    """The kept-member order's date key: microseconds since the epoch (UTC), NO_DATE if None."""
    if date is None:
        return NO_DATE
    if date.tzinfo is None:  # the schema's dates are UTC; a naive one is read as UTC
        date = date.replace(tzinfo=timezone.utc)
    return (date - _EPOCH) // timedelta(microseconds=1)



def _components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected components of n nodes: each node's smallest member (so the result does not
    depend on edge order). Union by the smaller root, then pointer jumping in numpy."""
    parent = np.arange(n, dtype=np.int64)
    if len(edges):
        p = array("q", parent.tobytes())  # Python-speed indexing for the union loop
        for a, b in edges.tolist():
            while p[a] != a:
                a = p[a]
            while p[b] != b:
                b = p[b]
            if a != b:
                p[max(a, b)] = min(a, b)
        parent = np.frombuffer(p, dtype=np.int64).copy()
        while True:  # point every node at its root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return parent



@dataclass(frozen=True)
class DedupArrays:
    """The verdicts as arrays, one entry per row in the order rows were added.

    kept: index of the row's cluster's kept member (the row itself when unique or kept).
    keep: write the row. reason: 0 kept member, 1 duplicate (same text), 2 near duplicate,
    3 contained (its text sits inside a longer one of the cluster).
    similarity: estimated Jaccard similarity to the kept member (1.0 for the same text; for a
    contained copy, the share of its shingles found within a window of the longer text: see
    contain.py).
    """

    kept: np.ndarray
    keep: np.ndarray
    reason: np.ndarray
    similarity: np.ndarray

    REASONS = (None, "duplicate", "near_duplicate", "contained")


class DedupIndex:
    """Collects (id, text hash, signature, date, n_chars) in any order; `results()` clusters them.

    Memory per row is a few numbers (id, a 64-bit digest of the text hash, date, length: 32
    bytes); signatures go to a file in `folder` (a temporary folder by default), which the
    candidate searches' tasks read in chunks (`run` runs them: one after another here by
    default, in a build's workers there). The outcome does not depend on the order
    rows were added: distinct texts are ranked by text hash, LSH buckets are read in that
    rank order, and the kept member is chosen by a total order (see the module docstring).

    Clusters are transitive: a cluster is a connected component of the graph whose edges are
    exact matches and LSH candidate pairs whose estimated Jaccard similarity is >= threshold.
    So A~B and B~C put A, B, C together even when A and C are less similar.
    Why: copies are made from an original, and the kept member is often a copy (the earliest
    date wins), so two copies of one original may each pass only against the original; star
    clusters around the kept member would keep both. The risk is a chain bridging two
    different stories; the verification threshold keeps it rare, and `stats()["largest_cluster"]`
    makes a bridged mega-cluster visible. In an LSH bucket larger than `bucket_window`,
    only members within that distance (in hash rank order) are compared, so one template
    repeated 100,000 times costs O(n * window) comparisons rather than O(n^2).

    Ids must be unique and every distinct text needs a signature from at least one of its
    rows; both are checked by `results()` (ValueError).
    """

    def __init__(self, settings: DedupSettings, *, bucket_window: int = 64,
                 folder: str | os.PathLike | None = None, run: Run = serial) -> None:
        self.settings = settings
        self.bucket_window = bucket_window
        self.run = run  # runs the candidate searches' tasks (store.Run): a build's run them in its workers
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="corpus-dedup-")
            folder = self._tmp.name
        else:
            self._tmp = None
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._ids = _Ids()
        self._hash = array("Q")
        self._date = array("q")
        self._nchars = array("q")
        self._signed = bytearray()
        self._sigs = SignatureFile(self.folder, settings.num_perm)
        self._stats: dict = {}
        self._near_state: tuple | None = None
        self._stats_contained_candidates = 0
        self._copy_pairs = np.empty((0, 2), dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, id: str, text_hash: str, signature: np.ndarray | None = None, *,
            date: datetime | None = None, n_chars: int = 0) -> None:
        """Record one row. `signature` may be None when another row has the same text hash."""
        K = self.settings.num_perm
        if signature is not None and np.shape(signature) != (K,):
            raise ValueError(f"signature shape {np.shape(signature)} != ({K},)")
        sig = np.full((1, K), EMPTY, np.uint32) if signature is None else np.asarray(signature)[None, :]
        self._append([id], [_digest64(text_hash)], sig, [date_key(date)], [int(n_chars)],
                     b"\x00" if signature is None else b"\x01")

    def add_many(self, ids: Sequence[str], text_hashes: Sequence[str], signatures: np.ndarray, *,
                 date_keys: Sequence[int], n_chars: Sequence[int]) -> None:
        """Record rows with their signatures (shape (len(ids), num_perm)); `date_keys` as
        `date_key` gives them. `text_hashes`: strings, or their 64-bit digests (a uint64 array:
        a hex digest's first 8 bytes, big-endian, as builder.parts.digests64 gives them)."""
        if signatures.shape != (len(ids), self.settings.num_perm):
            raise ValueError(f"signatures shape {signatures.shape} != ({len(ids)}, {self.settings.num_perm})")
        digests = (text_hashes if isinstance(text_hashes, np.ndarray) and text_hashes.dtype == np.uint64
                   else [_digest64(h) for h in text_hashes])
        self._append(ids, digests, signatures, date_keys, n_chars, b"\x01" * len(ids))

    def _append(self, ids, digests, sigs, dates, n_chars, signed: bytes) -> None:
        self._near_state = None
        self._ids.extend(ids)
        if isinstance(digests, np.ndarray):
            self._hash.frombytes(digests.tobytes())  # uint64, as add_many checked
        else:
            self._hash.extend(digests)
        self._date.extend(dates)
        self._nchars.extend(n_chars)
        self._signed += signed
        self._sigs.append(sigs)

    # -- near-duplicate pairs --


    def _similarities(self, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
        return self._sigs.equal_slots(rows_a, rows_b) / self.settings.num_perm

    def _near(self) -> tuple:
        """(id rank, slot of each row, representative row of each slot, verified near edges between
        slots, candidate count), computed once: distinct texts ("slots") are ranked by text hash
        (canonical, whatever the order of adding)."""
        if self._near_state is not None:
            return self._near_state
        n = len(self._ids)
        id_rank = self._ids.order()  # also checks that ids are unique
        digests = np.frombuffer(self._hash, dtype=np.uint64) if n else np.empty(0, np.uint64)
        uniq, slot_of_row = np.unique(digests, return_inverse=True)
        n_slots = len(uniq)
        del uniq
        slot_of_row = compact(slot_of_row)
        signed = np.frombuffer(bytes(self._signed), dtype=np.uint8).astype(bool) if n else np.zeros(0, bool)
        rep_row = np.full(n_slots, -1, dtype=np.int64)
        signed_rows = np.flatnonzero(signed)
        rep_row[slot_of_row[signed_rows][::-1]] = signed_rows[::-1]  # the first signed row of each text
        if (rep_row < 0).any():
            row = int(np.flatnonzero(slot_of_row == np.flatnonzero(rep_row < 0)[0])[0])
            raise ValueError(f"no signature for the text of row {self._ids[row]!r} (no row with its text hash "
                             "came with one)")
        n_candidates = 0
        edges = np.empty((0, 2), dtype=np.int64)
        if self.settings.near and n_slots > 1:
            n_candidates, verified = candidate_pairs(self._sigs, rep_row, self.settings,
                                                     bucket_window=self.bucket_window, folder=self.folder,
                                                     run=self.run)
            edges = np.stack(unpack(verified), axis=1)
        self._near_state = (id_rank, slot_of_row, rep_row, edges, n_candidates)
        return self._near_state

    def containment_candidates(self) -> np.ndarray:
        """(shorter row, longer row) pairs, as rows in adding order, that may be contained copies:
        the caller verifies them against the texts (`contain.verify`) and passes every pair that
        passes to `results_arrays(contained=...)`. Empty when the settings ask for no containment
        check."""
        if not self.settings.near or self.settings.containment_threshold is None or len(self._ids) < 2:
            return np.empty((0, 2), dtype=np.int64)
        _, slot_of_row, rep_row, edges, _ = self._near()
        nchars = np.frombuffer(self._nchars, dtype=np.int64)[rep_row]
        pairs = contain.candidate_pairs(self._sigs, rep_row, _components(len(rep_row), edges), nchars,
                                        self.settings, folder=self.folder, run=self.run)
        self._stats_contained_candidates = len(pairs)
        return rep_row[pairs] if len(pairs) else pairs

    def copy_pairs(self) -> np.ndarray:
        """(row, row) of every verified near or contained pair from the last results_arrays(), as
        representative rows (the first signed row of each text): what a leakage audit checks the
        split against, independently of the clusters joined from them."""
        return self._copy_pairs

    def results_arrays(self, contained: np.ndarray | None = None) -> DedupArrays:
        """The verdict of every row added, as arrays in the order rows were added. `contained`:
        every verified (shorter row, longer row, containment) triple; each shorter text joins
        one longer text's cluster (`contain.choose`: its best story, unless two stories hold it
        as much) and is never its kept member."""
        n = len(self._ids)
        id_rank, slot_of_row, rep_row, edges, n_candidates = self._near()
        n_slots = len(rep_row)
        n_verified = len(edges)
        brief = np.zeros(n_slots, dtype=bool)  # the shorter side of a contained pair: never kept
        contained_by = np.zeros(n_slots, dtype=np.float32)
        n_contained_pairs = n_ambiguous = 0
        if contained is not None and len(contained):
            n_contained_pairs = len(contained)
            story = _components(n_slots, edges)[slot_of_row]
            contained, n_ambiguous = contain.choose(contained, story)
        if contained is not None and len(contained):
            cs = slot_of_row[contained[:, 0].astype(np.int64)]
            cl = slot_of_row[contained[:, 1].astype(np.int64)]
            brief[cs] = True
            np.maximum.at(contained_by, cs, contained[:, 2].astype(np.float32))
            edges = np.concatenate([edges, np.stack([cs, cl], axis=1)])
        self._copy_pairs = rep_row[edges] if len(edges) else np.empty((0, 2), dtype=np.int64)
        comp = compact(_components(n_slots, edges))[slot_of_row]
        # The kept member of each component: not a contained brief, then the earliest date, then
        # the longest text, then the smallest id.
        date = np.frombuffer(self._date, dtype=np.int64) if n else np.empty(0, np.int64)
        nchars = np.frombuffer(self._nchars, dtype=np.int64) if n else np.empty(0, np.int64)
        order = np.lexsort((id_rank, -nchars, date, brief[slot_of_row], comp))
        first = np.ones(n, dtype=bool)
        first[1:] = comp[order][1:] != comp[order][:-1]
        kept_of_comp = np.empty(n_slots, dtype=np.int32 if n < 2**31 else np.int64)
        kept_of_comp[comp[order][first]] = order[first]
        del order, first
        kept = kept_of_comp[comp]
        keep = kept == np.arange(n)
        exact = slot_of_row == slot_of_row[kept]
        reason = np.where(keep, 0, np.where(exact, 1, np.where(brief[slot_of_row], 3, 2))).astype(np.int8)
        similarity = np.ones(n, dtype=np.float32)
        near = np.flatnonzero(reason == 2)
        similarity[reason == 3] = contained_by[slot_of_row[reason == 3]]
        if len(near):
            similarity[near] = self._similarities(rep_row[slot_of_row[near]], rep_row[slot_of_row[kept[near]]])
        if self.settings.keep_duplicates:
            keep = np.ones(n, dtype=bool)
        sizes = np.bincount(comp, minlength=n_slots) if n else np.zeros(1, np.int64)
        self._stats = dict(rows=n, distinct_texts=n_slots, clusters=int(np.count_nonzero(sizes)),
                           duplicates=int(np.count_nonzero(reason == 1)), near_duplicates=len(near),
                           contained=int(np.count_nonzero(reason == 3)),
                           candidate_pairs=n_candidates, verified_pairs=n_verified,
                           containment_candidates=self._stats_contained_candidates,
                           contained_pairs=n_contained_pairs, contained_ambiguous=n_ambiguous,
                           largest_cluster=int(sizes.max()) if n else 0)
        return DedupArrays(kept=kept, keep=keep, reason=reason, similarity=similarity)

    def id(self, row: int) -> str:
        """The id of the row added `row`-th."""
        return self._ids[row]

    def results(self, contained: np.ndarray | None = None) -> list[DupResult]:
        """One DupResult per row added, sorted by id (`contained` as for results_arrays)."""
        a = self.results_arrays(contained)
        out = []
        for i in range(len(self._ids)):
            kid = self._ids[int(a.kept[i])]
            reason = DedupArrays.REASONS[a.reason[i]]
            out.append(DupResult(self._ids[i], kid, bool(a.keep[i]), reason, kid if reason else None,
                                 float(a.similarity[i]) if reason else 1.0))
        out.sort(key=lambda r: r.id)
        return out

    def stats(self) -> dict:
        """Counts from the last results(): rows, distinct_texts, clusters, duplicates, ..."""
        return dict(self._stats)

    def close(self) -> None:
        """Delete the signature file (and the temporary folder, when the index made one)."""
        self._sigs.close()
        self._sigs.unlink()
        if self._tmp is not None:
            self._tmp.cleanup()
