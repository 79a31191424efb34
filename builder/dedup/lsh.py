"""LSH banding: the band shape for a threshold, band keys, and candidate pairs of signatures."""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .minhash import EMPTY, _mix64, _seed64
from .store import spool_columns

if TYPE_CHECKING:
    from .settings import DedupSettings
    from .store import _SignatureFile


def _lsh_curve(s: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Probability that two signatures with similarity s share at least one band."""
    return 1.0 - (1.0 - s ** rows) ** bands


def _area(y: np.ndarray, x: np.ndarray) -> float:
    return float(((y[1:] + y[:-1]) * np.diff(x)).sum() / 2)  # trapezoid rule (numpy 1.26 has no trapezoid)


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, *, fn_weight: float = 0.8) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm minimising weighted LSH error around threshold.

    False positives cost one signature comparison (every candidate is verified), false
    negatives lose a duplicate for good, so misses weigh more (fn_weight) than extra candidates.
    """
    lo, hi = np.linspace(0.0, threshold, 201), np.linspace(threshold, 1.0, 201)
    best, best_err = (1, num_perm), math.inf
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        fp = _area(_lsh_curve(lo, bands, rows), lo)
        fn = _area(1.0 - _lsh_curve(hi, bands, rows), hi)
        err = (1.0 - fn_weight) * fp + fn_weight * fn
        if err < best_err - 1e-12:
            best, best_err = (bands, rows), err
    return best



def band_keys(sigs: np.ndarray, settings: DedupSettings) -> np.ndarray:
    """One 64-bit key per LSH band of each signature: (len(sigs), bands)."""
    bands, rows = settings.lsh_bands
    keys = np.empty((len(sigs), bands), dtype=np.uint64)
    for b in range(bands):
        h = np.full(len(sigs), _seed64(settings.seed, 100 + b), dtype=np.uint64)
        for c in sigs[:, b * rows:(b + 1) * rows].T.astype(np.uint64):
            h ^= c
            h = _mix64(h)
        keys[:, b] = h
    return keys

def candidate_pairs(store: _SignatureFile, rep_row: np.ndarray, slot_of_row: np.ndarray,
                    settings: DedupSettings, *, bucket_window: int, folder: Path) -> np.ndarray:
    """Unique (i, j), i < j, of slots sharing an LSH band, packed as i << 32 | j in a sorted
    uint64 array (see _unpack). The band keys
    are computed in one pass over the signature file and kept on disk, a file per band, so
    memory holds one band's keys at a time. An empty text (all bins EMPTY) has no band
    keys: it matches exactly or not at all."""
    def keyed(reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        alive = ~(reps == EMPTY).all(1)
        return alive, band_keys(reps[alive], settings)

    slots, key_paths = spool_columns(store, rep_row, slot_of_row, keyed, folder, "band")
    # Pairs as one uint64 each (smaller slot << 32 | larger): 8 bytes a pair. Templated
    # corpora (a shared disclaimer paragraph) give millions of candidates (4 million at a
    # million make_corpus.py files, ~125,000 new ones a band): de-duplicated whenever the
    # new ones outgrow the distinct ones so far, so memory holds about twice the distinct
    # pairs rather than every band's finds at once.
    distinct = np.empty(0, dtype=np.uint64)
    found: list[np.ndarray] = []
    pending = 0
    # By key, ties in slot (text hash rank) order: the order np.lexsort((slots, keys)) gives,
    # as one stable sort by slot for all bands and a stable sort by key per band (half the
    # time of a lexsort per band).
    by_slot = np.argsort(slots, kind="stable")
    for path in key_paths:
        keys = np.fromfile(path, dtype=np.uint64)
        path.unlink()
        order = by_slot[np.argsort(keys[by_slot], kind="stable")]
        ks, ss = keys[order], slots[order]
        del keys, order
        for dist in range(1, bucket_window + 1):
            same = ks[:-dist] == ks[dist:]
            if not same.any():
                break
            a, b = ss[:-dist][same], ss[dist:][same]
            found.append((np.minimum(a, b).astype(np.uint64) << np.uint64(32)) | np.maximum(a, b).astype(np.uint64))
            pending += len(found[-1])
        if pending > max(len(distinct), 1 << 20):
            distinct, found, pending = _merge_unique(distinct, found), [], 0
    del ks, ss, slots, by_slot
    return _merge_unique(distinct, found) if found else distinct


def unpack(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(smaller, larger) slots of pairs packed by `candidate_pairs`."""
    return (packed >> np.uint64(32)).astype(np.int64), (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _merge_unique(distinct: np.ndarray, found: list[np.ndarray]) -> np.ndarray:
    """The sorted distinct values of `distinct` and the arrays in `found`, sorted in place
    (np.unique makes one more copy of them all)."""
    merged = np.concatenate([distinct, *found])
    found.clear()  # the caller's list: its arrays are in `merged` now
    merged.sort()
    if len(merged) < 2:
        return merged
    first = np.empty(len(merged), dtype=bool)
    first[0] = True
    np.not_equal(merged[1:], merged[:-1], out=first[1:])
    return merged[first]
