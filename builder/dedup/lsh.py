"""LSH banding: the band shape for a threshold, band keys, and candidate pairs of signatures."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .minhash import _mix64, _seed64
from .store import (ColumnReader, PartFile, PartReader, Run, SignatureFile, compact, pair_file_bounds,
                    remove_part_file, value_parts)

if TYPE_CHECKING:
    from .settings import DedupSettings

BANDS_PER_TASK = 4  # LSH bands a task searches (it reads those bands' slots of every text)
COUNT_FILES = 16  # parts the candidate pairs are counted in, by their smaller slot


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



def band_keys(sigs: np.ndarray, settings: DedupSettings, bands: range | None = None, *, first: int = 0
              ) -> np.ndarray:
    """One 64-bit key per LSH band of each signature: (len(sigs), len(bands)); every band by
    default. `first`: the slot of sigs[:, 0] (sigs may hold the bands' slots only)."""
    n_bands, rows = settings.lsh_bands
    bands = range(n_bands) if bands is None else bands
    keys = np.empty((len(sigs), len(bands)), dtype=np.uint64)
    for k, b in enumerate(bands):
        h = np.full(len(sigs), _seed64(settings.seed, 100 + b), dtype=np.uint64)
        for c in sigs[:, b * rows - first:(b + 1) * rows - first].T.astype(np.uint64):
            h ^= c
            h = _mix64(h)
        keys[:, k] = h
    return keys


@dataclass(frozen=True)
class BandTask:
    """One task's share of the LSH search: bands `bands` of the distinct texts' signatures,
    read from the index's signature file (`signatures`; `reps`, an .npy of each distinct text's
    row in it)."""

    signatures: str
    reps: str
    bands: range
    settings: DedupSettings
    bucket_window: int


def band_pairs(task: BandTask) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs of slots (distinct texts) sharing a key in one of the task's bands,
    packed and sorted (see `unpack`), and which of them pass the threshold: their estimated
    Jaccard similarity (the share of equal slots) is verified here, where the signatures are.

    In a bucket larger than `bucket_window`, only members within that distance (in slot order)
    are paired. An empty text (all bins EMPTY) has no band keys: it matches exactly or not at all."""
    settings = task.settings
    store = SignatureFile.reader(task.signatures, settings.num_perm)
    rep_row = np.load(task.reps)
    rows = settings.lsh_bands[1]
    slots = np.flatnonzero(~store.empty_rows()[rep_row])  # an empty text has no band keys
    columns = ColumnReader(store, rep_row[slots])
    # Pairs as one uint64 each (smaller slot << 32 | larger): 8 bytes a pair. Templated corpora
    # (a shared disclaimer paragraph) give millions of candidates: de-duplicated whenever the new
    # ones outgrow the distinct ones so far, so memory holds about twice the distinct pairs.
    distinct = np.empty(0, dtype=np.uint64)
    found: list[np.ndarray] = []
    pending = 0
    for b in task.bands:  # a band's slots at a time: its keys, then its buckets
        sigs = columns.read(range(b * rows, (b + 1) * rows))
        band = band_keys(sigs, settings, range(b, b + 1), first=b * rows)[:, 0]
        del sigs
        for at in value_parts(band):  # a part of the keys at a time: see store.value_parts
            ss, ks = slots[at], band[at]
            order = np.lexsort((ss, ks))  # by key, ties in slot order
            ks, ss = ks[order], ss[order]
            for dist in range(1, task.bucket_window + 1):
                same = ks[:-dist] == ks[dist:]
                if not same.any():
                    break
                a, c = ss[:-dist][same], ss[dist:][same]
                found.append((np.minimum(a, c).astype(np.uint64) << np.uint64(32))
                             | np.maximum(a, c).astype(np.uint64))
                pending += len(found[-1])
            if pending > max(len(distinct), 1 << 20):
                distinct, found, pending = merge_unique(distinct, found), [], 0
    pairs = merge_unique(distinct, found) if found else distinct
    ok = np.empty(len(pairs), dtype=bool)
    for start in range(0, len(pairs), 1 << 18):  # a bounded slice of the pairs at a time
        a, c = unpack(pairs[start:start + (1 << 18)])
        equal = store.equal_slots(rep_row[a], rep_row[c])
        ok[start:start + len(a)] = equal / settings.num_perm >= settings.threshold - 1e-9
    return pairs, ok


def candidate_pairs(store: SignatureFile, rep_row: np.ndarray, settings: DedupSettings, *, bucket_window: int,
                    folder: Path, run: Run) -> tuple[int, np.ndarray]:
    """(how many distinct pairs of slots share an LSH band, the verified ones packed and sorted):
    bands in tasks of BANDS_PER_TASK, run by `run` (each reads its bands' slots). The
    candidates are only counted: each task's go to COUNT_FILES parts of a file by their smaller
    slot (store.PartFile), and each part's distinct pairs are counted apart (held together, a
    million texts' 4 million candidates and their merges were the largest thing the driver
    held in dedup)."""
    store.flush()
    reps = folder / "reps.npy"
    np.save(reps, compact(rep_row))
    n_bands = settings.lsh_bands[0]
    tasks = [BandTask(str(store.path), str(reps), range(b, min(b + BANDS_PER_TASK, n_bands)), settings, bucket_window)
             for b in range(0, n_bands, BANDS_PER_TASK)]
    path = folder / "candidates.u64"
    out = PartFile(path, pair_file_bounds(COUNT_FILES, len(rep_row)))
    verified = np.empty(0, dtype=np.uint64)
    try:
        for pairs, ok in run(band_pairs, tasks):
            out.write(pairs)
            verified = merge_unique(verified, [pairs[ok]])
    finally:
        out.close()
    n_candidates = 0
    reader = PartReader(path)
    for i in range(COUNT_FILES):
        n_candidates += len(merge_unique(np.empty(0, np.uint64), reader.part(i)))
    reader.close()
    remove_part_file(path)
    reps.unlink()
    return n_candidates, verified


def unpack(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(smaller, larger) slots of pairs packed by `candidate_pairs`."""
    return (packed >> np.uint64(32)).astype(np.int64), (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)


def merge_unique(distinct: np.ndarray, found: list[np.ndarray]) -> np.ndarray:
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
