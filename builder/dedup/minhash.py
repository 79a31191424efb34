"""MinHash signatures of texts: one-permutation MinHash over character shingles, densified.

INVARIANT (ALGORITHM): shingle hashing, bin choice and densification, all keyed by `seed`;
changing any of them changes signatures, and so clusters: a major version.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .normalize import _codepoints, _content_hashes, _normalized_codepoints

if TYPE_CHECKING:
    from .settings import DedupSettings

# One-permutation MinHash (Li, Owen & Zhang 2012) with optimal densification (Shrivastava 2017):
# one hash per shingle instead of num_perm of them, so signing costs O(shingles + num_perm).
ALGORITHM = "oph-minhash-v1"

EMPTY = np.uint32(0xFFFFFFFF)  # a bin no shingle fell into; real values are clamped below it

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # odd: the shingle polynomial keeps every character's bits
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fast, well-spread 64-bit mix (in place on a fresh array)."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def _seed64(seed: int, salt: int) -> np.uint64:
    return _mix64(np.array([(seed * 0x9E3779B1 + salt) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]


@lru_cache(maxsize=8)
def _probe_table(num_perm: int, seed: int) -> np.ndarray:
    """Row i: the order in which an empty bin i looks for a filled bin to borrow from.

    A fixed pseudo-random order per bin, the same for every text (that is what makes two
    texts' borrowed values comparable). Built from our own hash, not numpy's generators,
    whose streams may change between numpy versions and would silently change signatures.
    """
    ij = np.arange(num_perm * num_perm, dtype=np.uint64) ^ _seed64(seed, 2)
    keys = _mix64(ij).reshape(num_perm, num_perm)
    return np.argsort(keys, axis=1, kind="stable").astype(np.int32)


def _shingle_hashes(cps: np.ndarray, ends: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash, document index) of every k-character shingle lying inside one document;
    `cps` holds the documents back to back, `ends` where each one ends."""
    n = len(cps) - k + 1
    if n <= 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    c = cps.astype(np.uint64)
    x = c[:n].copy()
    for j in range(1, k):
        x *= _GOLDEN
        x += c[j:n + j]
    inside = np.ones(n, dtype=bool)  # a shingle starting in a document's last k-1 characters spans two
    cut = (ends[:, None] - np.arange(1, k)).ravel()
    inside[cut[(cut >= 0) & (cut < n)]] = False
    counts = np.maximum(np.diff(ends, prepend=0) - k + 1, 0)
    x = x[inside]
    x ^= _seed64(seed, 1)
    return _mix64(x), np.repeat(np.arange(len(ends), dtype=np.int64), counts)


def _short_hash(cps: np.ndarray, seed: int) -> np.uint64:
    """A text shorter than one shingle is its own single shingle."""
    x = 0
    for c in cps.tolist():  # the same polynomial as _shingle_hashes, over fewer characters
        x = (x * int(_GOLDEN) + c) & 0xFFFFFFFFFFFFFFFF
    return _mix64(np.array([x], dtype=np.uint64) ^ _seed64(seed, 1))[0]


# Characters signed per numpy pass: a dozen temporaries of 8 bytes a character stay in the CPU's
# caches at this size (2 MB each); at 4 million characters each pass went to memory and a
# 20,000-text batch took 1.6x the CPU (bench/NOTES_dedup.md).
_CHARS_PER_CHUNK = 1 << 18


def signatures(texts: Sequence[str], settings: DedupSettings) -> np.ndarray:
    """MinHash signatures of many texts at once: uint32 array of shape (len(texts), num_perm).

    Texts are normalised (`normalize_text`) and cut into overlapping `shingle_size`-character
    shingles. Each shingle is hashed once to 64 bits: the high half picks one of num_perm bins,
    the low half is its value; each bin keeps its minimum. A bin no shingle fell into borrows
    the value of the first filled bin in its fixed probe order (optimal densification), so
    equal slots still mean "same minimum" with probability = Jaccard. The fraction of equal
    slots of two signatures estimates the Jaccard similarity of their shingle sets. An empty
    text has an all-EMPTY signature. Batching amortises numpy's per-call cost.
    """
    return _sign(texts, settings, False)[1]


def hash_and_sign(texts: Sequence[str], settings: DedupSettings) -> tuple[list[str], np.ndarray]:
    """(`content_sha256` of each text, `signatures(texts)`) from one normalisation of the batch:
    the same values as the two calls, for about half the cost of the hashes (a call per text
    spends more in numpy's fixed costs than in hashing)."""
    return _sign(texts, settings, True)


def _sign(texts: Sequence[str], settings: DedupSettings, hashes: bool) -> tuple[list[str], np.ndarray]:
    n = len(texts)
    if n > 1 and sum(map(len, texts)) > _CHARS_PER_CHUNK:  # bound the temporary arrays (8 bytes a char)
        out, start, size = [], 0, 0
        for i, t in enumerate(texts):
            if size and size + len(t) > _CHARS_PER_CHUNK:
                out.append(_sign(texts[start:i], settings, hashes))
                start, size = i, 0
            size += len(t)
        out.append(_sign(texts[start:], settings, hashes))
        return [h for part, _ in out for h in part], np.concatenate([sig for _, sig in out])
    K, k, seed = settings.num_perm, settings.shingle_size, settings.seed
    sig = np.full(n * K, EMPTY, dtype=np.uint32)
    if n == 0:
        return [], sig.reshape(0, K)
    cps, keep = _normalized_codepoints(_codepoints("".join(texts)))
    raw_ends = np.cumsum(np.fromiter((len(t) for t in texts), dtype=np.int64, count=n))
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    ends = kept_before[raw_ends]  # where each normalised document ends in `cps`
    digests = _content_hashes(cps, ends) if hashes else []
    nlens = np.diff(ends, prepend=0)
    h, d = _shingle_hashes(cps, ends, k, seed)
    for i in np.flatnonzero((nlens > 0) & (nlens < k)):  # rare: shorter than one shingle
        h = np.append(h, _short_hash(cps[ends[i] - nlens[i]:ends[i]], seed))
        d = np.append(d, i)
    bins = ((h >> _S32) * np.uint64(K)) >> _S32  # high half -> bin, unbiased for any K
    vals = np.minimum(h.astype(np.uint32), EMPTY - np.uint32(1))  # low half -> value
    np.minimum.at(sig, d * K + bins.astype(np.int64), vals)
    sig = sig.reshape(n, K)
    _densify(sig, settings)
    return digests, sig


def _densify(sig: np.ndarray, settings: DedupSettings, chunk: int = 1 << 15) -> None:
    """Fill empty bins in place from the first filled bin in each bin's probe order."""
    empty = sig == EMPTY
    filled = ~empty
    rows = np.flatnonzero(empty.any(1) & filled.any(1))
    if not len(rows):
        return
    probe = _probe_table(settings.num_perm, settings.seed)
    src = sig[rows]
    d, i = np.nonzero(empty[rows])
    for a in range(0, len(d), chunk):
        dd, ii = d[a:a + chunk], i[a:a + chunk]
        cand = probe[ii]                                     # (E, K) bins to try, in order
        first = filled[rows[dd][:, None], cand].argmax(1)    # first filled one
        sig[rows[dd], ii] = src[dd, cand[np.arange(len(dd)), first]]


def signature(text: str, settings: DedupSettings) -> np.ndarray:
    """MinHash signature of one text: uint32 array of num_perm slots (see `signatures`)."""
    return signatures([text], settings)[0]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures' shingle sets."""
    return float(np.count_nonzero(a == b)) / len(a)
