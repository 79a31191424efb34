"""Contained copies: a short text (a brief) whose shingles nearly all sit inside a longer one.

Jaccard similarity cannot see them (a 200-character brief inside a 3,000-character article has
J ~ 0.07), so they get their own candidates and an exact check:

- Candidates come from the MinHash signatures already computed: two texts whose signatures hold
  the same value in at least `MIN_SHARED_SLOTS` of the num_perm slots share shingles (32-bit
  values rarely collide by chance). One slot at a time is read from a transposed copy of the
  signatures on disk, so memory holds one slot's values. A value held by more than
  `MAX_BUCKET` texts is a shingle frequent across the corpus (boilerplate, a standard
  sentence): it proposes nothing. A loose estimate of the containment from the shared slots
  and the lengths (J * (|A| + |B|) / ((1 + J) |A|)) drops pairs that share a paragraph only.
- Every candidate is verified exactly: the share of the shorter text's distinct shingles
  (`shingle_set`: the same normalisation and shingles as the signatures) found in the longer
  one, against `containment_threshold`. The shorter text needs `min_contained_chars`
  normalised characters: a one-line standard sentence inside many articles is not a copy.

Pure functions over arrays and texts: the caller brings the texts of the candidate rows (the
build reads them from its spill in two passes: the shorter sides' shingle sets first, then
each longer side once).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .minhash import EMPTY, _shingle_hashes, _short_hash
from .normalize import _codepoints, _normalized_codepoints

if TYPE_CHECKING:
    from .settings import DedupSettings
    from .store import _SignatureFile

MIN_SHARED_SLOTS = 2  # chance collisions of two 32-bit slot values are ~n^2 * K^2 / 2^64: none
MAX_BUCKET = 64       # texts holding one slot value before it counts as a frequent shingle
ESTIMATE_FLOOR = 0.35  # estimated containment below this is not verified (the estimate is noisy)
MAX_LENGTH_RATIO = 200  # a text 200 times longer than the shorter is a digest or a dump, not its article


def shingle_set(text: str, settings: DedupSettings) -> np.ndarray:
    """Sorted distinct 64-bit hashes of the text's shingles (normalised as for signatures)."""
    cps, _ = _normalized_codepoints(_codepoints(text))
    k = settings.shingle_size
    if len(cps) == 0:
        return np.empty(0, np.uint64)
    if len(cps) < k:
        return np.array([_short_hash(cps, settings.seed)], np.uint64)
    h, _ = _shingle_hashes(cps, np.array([len(cps)], np.int64), k, settings.seed)
    return np.unique(h)


def containment(short: np.ndarray, long: np.ndarray) -> float:
    """Share of `short`'s shingles (a shingle_set) found in `long`'s."""
    if not len(short):
        return 0.0
    return float(np.count_nonzero(np.isin(short, long, assume_unique=True))) / len(short)


def candidate_pairs(store: _SignatureFile, rep_row: np.ndarray, comp_of_slot: np.ndarray, nchars: np.ndarray,
                    settings: DedupSettings, *, folder: Path) -> np.ndarray:
    """(short slot, long slot) pairs to verify, sorted: distinct texts in different near-duplicate
    components that share slot values, the shorter one long enough to count, and whose
    estimated containment passes ESTIMATE_FLOOR. `nchars[slot]`: the text's length."""
    K = settings.num_perm
    n_slots = len(rep_row)
    is_rep = np.zeros(store.n, dtype=bool)
    is_rep[rep_row] = True
    slot_of_rep = np.full(store.n, -1, dtype=np.int64)
    slot_of_rep[rep_row] = np.arange(n_slots)
    paths = [folder / f"slot-{b:04d}.u32" for b in range(K)]
    slot_path = folder / "slot-ids.i64"
    files = [open(p, "wb") for p in [slot_path, *paths]]
    try:
        for start, sigs in store.chunks():
            take = is_rep[start:start + len(sigs)]
            files[0].write(slot_of_rep[start:start + len(sigs)][take].tobytes())
            sigs = sigs[take]
            for b in range(K):
                files[1 + b].write(np.ascontiguousarray(sigs[:, b]).tobytes())
    finally:
        for fh in files:
            fh.close()
    slots = np.fromfile(slot_path, dtype=np.int64)
    slot_path.unlink()
    found: list[np.ndarray] = []
    for path in paths:
        vals = np.fromfile(path, dtype=np.uint32)
        path.unlink()
        order = np.argsort(vals, kind="stable")
        v, s = vals[order], slots[order]
        starts = np.flatnonzero(np.concatenate([[True], v[1:] != v[:-1]]))
        sizes = np.diff(np.append(starts, len(v)))
        size_of = np.repeat(sizes, sizes)
        usable = (size_of >= 2) & (size_of <= MAX_BUCKET) & (v != EMPTY)
        for dist in range(1, MAX_BUCKET):
            same = usable[:-dist] & usable[dist:] & (v[:-dist] == v[dist:])
            if not same.any():
                break
            a, b = s[:-dist][same], s[dist:][same]
            a, b = a[comp_of_slot[a] != comp_of_slot[b]], b[comp_of_slot[a] != comp_of_slot[b]]
            found.append((np.minimum(a, b).astype(np.uint64) << np.uint64(32)) | np.maximum(a, b).astype(np.uint64))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    uniq, count = np.unique(np.concatenate(found), return_counts=True)
    keep = count >= MIN_SHARED_SLOTS
    uniq, count = uniq[keep], count[keep]
    a = (uniq >> np.uint64(32)).astype(np.int64)
    b = (uniq & np.uint64(0xFFFFFFFF)).astype(np.int64)
    short = np.where((nchars[a] < nchars[b]) | ((nchars[a] == nchars[b]) & (a < b)), a, b)
    long = np.where(short == a, b, a)
    j = count / K
    na, nb = np.maximum(nchars[short], 1), nchars[long]
    estimate = j * (na + nb) / ((1 + j) * na)
    ok = ((estimate >= ESTIMATE_FLOOR) & (nchars[short] >= settings.min_contained_chars)
          & (nchars[long] <= MAX_LENGTH_RATIO * nchars[short]))
    pairs = np.stack([short[ok], long[ok]], axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))] if len(pairs) else pairs


def verify(pairs: np.ndarray, short_sets: dict[int, np.ndarray], long_sets: dict[int, np.ndarray],
           settings: DedupSettings) -> np.ndarray:
    """(short, long, containment) rows of `pairs` whose exact containment passes the threshold,
    given the shingle sets of both sides (keyed as the pairs are). Not yet one per shorter text:
    see `best`."""
    out = []
    for a, b in pairs.tolist():
        sa = short_sets[a]
        if len(sa) + settings.shingle_size - 1 < settings.min_contained_chars:
            continue
        c = containment(sa, long_sets[b])
        if c >= settings.containment_threshold - 1e-9:
            out.append((a, b, c))
    return np.array(out, dtype=np.float64).reshape(-1, 3)


def best(verified: np.ndarray) -> np.ndarray:
    """One longer text per shorter one: the highest containment, then the smallest row. A brief
    whose paragraph also sits in an unrelated article must not bridge the two stories (copies of
    one article are near duplicates of each other, already in one cluster)."""
    if not len(verified):
        return verified
    order = np.lexsort((verified[:, 1], -verified[:, 2], verified[:, 0]))
    v = verified[order]
    first = np.ones(len(v), dtype=bool)
    first[1:] = v[1:, 0] != v[:-1, 0]
    return v[first]


def verify_texts(pairs: np.ndarray, text_of, settings: DedupSettings) -> np.ndarray:
    """`verify` for a caller that holds the texts: `text_of(row)` gives each row's text."""
    sets = {r: shingle_set(text_of(r), settings) for r in np.unique(pairs).tolist()}
    return best(verify(pairs, sets, sets, settings))
