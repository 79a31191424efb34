"""Exact and near-duplicate detection: which rows repeat another, and which one of each group to keep.

Exact duplicates share `content_sha256`, the sha256 of `normalize_text(text)`. Near duplicates
are found with MinHash over character shingles (no word segmentation: Chinese has no spaces),
LSH banding for candidate pairs, a check of every candidate's estimated Jaccard similarity
against the threshold, and union-find over the pairs that pass. Pure: standard library and
numpy only; the state kept per row is a few numbers, and one signature per distinct text.

INVARIANTS (changing any of them moves rows between clusters, so it is a major version):
- `normalize_text` (NORMALIZATION_VERSION): the content hash and the shingles both read it.
- `signature` (ALGORITHM): shingle hashing, bin choice and densification, all keyed by `seed`.
- The kept member of a cluster: the earliest `date` (rows without a date come after every
  dated row), then the longest text (`n_chars`), then the smallest `id` (string order).
"""
from __future__ import annotations

import hashlib
import math
import mmap
import os
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ConfigError

NORMALIZATION_VERSION = 1
# One-permutation MinHash (Li, Owen & Zhang 2012) with optimal densification (Shrivastava 2017):
# one hash per shingle instead of num_perm of them, so signing costs O(shingles + num_perm).
ALGORITHM = "oph-minhash-v1"

EMPTY = np.uint32(0xFFFFFFFF)  # a bin no shingle fell into; real values are clamped below it

# Every character `str.isspace()` accepts, plus the invisible ones that editors leave behind.
_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
               "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
# CJK punctuation that has a plain ASCII twin outside U+FF01-FF5E (PUNCT_SWAP-style edits:
# '。' vs '.', curly vs straight quotes). Marks with no ASCII twin (、《》「」…) stay as they are.
_PUNCT_FOLD = {"\u3002": ".", "\uff61": ".", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"}
_REMOVE = 0xFFFFFFFF  # marker in the lookup table: drop the character


@lru_cache(maxsize=1)
def _fold_table() -> np.ndarray:
    """Code point -> normalised code point (or _REMOVE), for all of Unicode: one gather per text."""
    lut = np.arange(0x110000, dtype=np.uint32)
    lut[0xFF01:0xFF5F] -= 0xFEE0  # full-width ASCII -> ASCII; NOT NFKC (see FORMATS.md)
    for ch, to in _PUNCT_FOLD.items():
        lut[ord(ch)] = ord(to)
    for ch in _WHITESPACE + _INVISIBLE:
        lut[ord(ch)] = _REMOVE
    return lut


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _normalized_codepoints(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(normalised code points, keep mask over the input)."""
    mapped = _fold_table()[cps]
    keep = mapped != _REMOVE
    return mapped[keep], keep


def normalize_text(text: str) -> str:
    """The text exact duplicates are compared on: whitespace removed, punctuation width folded.

    Folds only full-width ASCII (U+FF01-FF5E, e.g. '，' -> ',', 'Ａ' -> 'A') and the few CJK
    marks with an ASCII twin ('。' -> '.', curly quotes -> straight), and removes every
    whitespace and zero-width character (U+3000 included): Chinese needs no spaces, and
    re-flowed or re-indented copies are the same article. Not NFKC: that would also turn
    '①' into '1' and 'm²' into 'm2'. Case is kept.
    """
    if not text:
        return ""
    return _normalized_codepoints(_codepoints(text))[0].tobytes().decode("utf-32-le", "surrogatepass")


def content_sha256(text: str) -> str:
    """sha256 (hex) of the UTF-8 of `normalize_text(text)`: the `content_sha256` column."""
    return hashlib.sha256(normalize_text(text).encode("utf-8", "surrogatepass")).hexdigest()


# ---- settings ----------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class DedupSettings:
    """How duplicates are found; `to_dict()` is what a build records.

    threshold: estimated Jaccard similarity of shingle sets at or above which two texts are
      near duplicates. shingle_size: characters per shingle (after normalisation).
    num_perm: MinHash slots per signature (memory: 4 bytes each per distinct text).
    bands/rows: LSH banding; None derives them from threshold and num_perm (`optimal_bands`).
    seed: keys every hash; part of signature_key. near: False finds exact duplicates only.
    keep_duplicates: keep every row (flagged through dup_cluster) instead of dropping copies.

    The defaults were measured with bench/score_dedup.py on make_corpus.py corpora: reposts
    with a paragraph or two changed and 3-10% of characters edited mostly keep a Jaccard
    similarity of 0.55-0.8 on 5-character shingles, unrelated articles stay below 0.45.
    Shorter shingles saturate on long texts (two unrelated multi-MB articles reached 0.7 on
    3-character shingles); longer ones lose the edited reposts.
    """

    threshold: float = 0.5
    shingle_size: int = 5
    num_perm: int = 128
    bands: int | None = None
    rows: int | None = None
    seed: int = 1
    near: bool = True
    keep_duplicates: bool = False
    lsh_bands: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"dedup threshold {self.threshold!r} must be in (0, 1]; 0.5 is a good start")
        if not 1 <= self.shingle_size <= 32:
            raise ConfigError(f"dedup shingle_size {self.shingle_size!r} must be 1-32 characters; try 5")
        if not 8 <= self.num_perm <= 4096:
            raise ConfigError(f"dedup num_perm {self.num_perm!r} must be 8-4096; try 128")
        if not 0 <= self.seed < 2 ** 63:
            raise ConfigError(f"dedup seed {self.seed!r} must be a non-negative 63-bit integer")
        if (self.bands is None) != (self.rows is None):
            raise ConfigError("set both dedup bands and rows, or neither (they are derived from the threshold)")
        if self.bands is None:
            lsh = optimal_bands(self.threshold, self.num_perm)
        elif self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ConfigError(f"dedup bands*rows = {self.bands}*{self.rows} must be between 1 and "
                              f"num_perm={self.num_perm}")
        else:
            lsh = (self.bands, self.rows)
        object.__setattr__(self, "lsh_bands", lsh)

    def signature_key(self) -> str:
        """What a signature depends on (not threshold, bands, keep_duplicates), as recorded."""
        return (f"{ALGORITHM}-n{NORMALIZATION_VERSION}-k{self.shingle_size}-p{self.num_perm}"
                f"-s{self.seed}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("lsh_bands")
        d["bands"], d["rows"] = self.lsh_bands
        d.update(algorithm=ALGORITHM, normalization_version=NORMALIZATION_VERSION,
                 signature_key=self.signature_key(),
                 kept_member="earliest date, then longest text, then smallest id")
        return d


# ---- signatures ---------------------------------------------------------------------------------

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


_CHARS_PER_CHUNK = 4_000_000


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
    n = len(texts)
    if n > 1 and sum(map(len, texts)) > _CHARS_PER_CHUNK:  # bound the temporary arrays (8 bytes a char)
        out, start, size = [], 0, 0
        for i, t in enumerate(texts):
            if size and size + len(t) > _CHARS_PER_CHUNK:
                out.append(signatures(texts[start:i], settings))
                start, size = i, 0
            size += len(t)
        out.append(signatures(texts[start:], settings))
        return np.concatenate(out)
    K, k, seed = settings.num_perm, settings.shingle_size, settings.seed
    sig = np.full(n * K, EMPTY, dtype=np.uint32)
    if n == 0:
        return sig.reshape(0, K)
    cps, keep = _normalized_codepoints(_codepoints("".join(texts)))
    raw_ends = np.cumsum(np.fromiter((len(t) for t in texts), dtype=np.int64, count=n))
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    ends = kept_before[raw_ends]  # where each normalised document ends in `cps`
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
    return sig


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


# ---- clustering ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DupResult:
    """The verdict for one row.

    dup_cluster: id of the cluster's kept member (the row's own id when unique or kept).
    keep: write the row (False: drop it and write a reject with `reason` and `duplicate_of`).
    reason: None for a kept member, else "duplicate" (same normalised text as the kept member)
      or "near_duplicate"; still set when keep_duplicates keeps the row.
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


def _digest64(text_hash: str) -> int:
    """64 bits standing for a text hash: its first 16 hex digits when it is a hex digest
    (content_sha256), so the order of digests is the order of the hashes; else a sha256 of it."""
    if len(text_hash) == 64:
        try:
            return int(text_hash[:16], 16)
        except ValueError:
            pass
    return _sha64(text_hash)


def _sha64(s: str) -> int:
    return int.from_bytes(hashlib.sha256(s.encode("utf-8", "surrogatepass")).digest()[:8], "big")


class _Ids:
    """Row ids, compactly: 8 bytes each while every id is 16 lowercase hex digits (the
    build's ids), else a list of strings."""

    def __init__(self) -> None:
        self._hex: array | None = array("Q")
        self._str: list[str] | None = None

    def __len__(self) -> int:
        return len(self._hex) if self._hex is not None else len(self._str)

    def extend(self, ids: Sequence[str]) -> None:
        if self._hex is not None:
            try:
                # Converted whole before extending: a bad id must not leave the batch half-added.
                values = [int(i, 16) for i in ids if len(i) == 16 and i == i.lower()]
            except (ValueError, TypeError):
                values = None
            if values is not None and len(values) == len(ids):
                self._hex.extend(values)
                return
            self._str = [f"{v:016x}" for v in self._hex]
            self._hex = None
        self._str.extend(ids)

    def __getitem__(self, i: int) -> str:
        return f"{self._hex[i]:016x}" if self._hex is not None else self._str[i]

    def order(self) -> np.ndarray:
        """Rank of each id in string order (int64), and checks that ids are unique."""
        if self._hex is not None:
            keys = np.frombuffer(self._hex, dtype=np.uint64) if len(self._hex) else np.empty(0, np.uint64)
            order = np.argsort(keys, kind="stable")
            dup = np.flatnonzero(keys[order][1:] == keys[order][:-1])
        else:
            order = np.array(sorted(range(len(self._str)), key=self._str.__getitem__), dtype=np.int64)
            dup = [k for k in range(len(order) - 1) if self._str[order[k]] == self._str[order[k + 1]]]
        if len(dup):
            raise ValueError(f"duplicate row id {self[int(order[dup[0]])]!r} given to DedupIndex (ids must be unique)")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return rank


_GATHER_ROWS = 256  # rows gathered between drops of the signature map's pages


class _SignatureFile:
    """One signature per row, appended to a file: the index's memory does not grow with the
    signatures (512 bytes a row at num_perm=128). Read back in chunks, never mapped whole."""

    def __init__(self, folder: Path, num_perm: int) -> None:
        self.path = folder / "signatures.u32"
        self.num_perm = num_perm
        self.n = 0
        self._fh = open(self.path, "wb")

    def append(self, sigs: np.ndarray) -> None:
        self._fh.write(np.ascontiguousarray(sigs, dtype=np.uint32).tobytes())
        self.n += len(sigs)

    def chunks(self, rows: int = 1 << 15) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, signatures) of consecutive chunks, in row order."""
        self._fh.flush()
        with open(self.path, "rb") as fh:
            for start in range(0, self.n, rows):
                count = min(rows, self.n - start)
                yield start, np.fromfile(fh, dtype=np.uint32, count=count * self.num_perm).reshape(count, -1)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Signatures of `rows` (any order, repeats allowed), read in row order through a memory
        map whose pages are dropped from the process every _GATHER_ROWS rows. A row maps more
        than its 512 bytes (the kernel maps the page cache's whole large folio around it, ~110
        KB a row in a million-file build: 4,096 rows between drops put 450 MB in the RSS), so
        the runs are short; the RSS never holds the file. A pread per row, as before, cost ~3
        µs a row: 4 million candidate pairs took 12 s more. Where the system lacks madvise, a
        pread per row."""
        self._fh.flush()
        out = np.empty((len(rows), self.num_perm), dtype=np.uint32)
        if not len(rows):
            return out
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        in_order = rows[order]
        with open(self.path, "rb") as fh:
            if not hasattr(mmap, "MADV_DONTNEED") or not hasattr(mmap, "MADV_RANDOM"):
                width, fd = self.num_perm * 4, fh.fileno()
                for k, row in zip(order.tolist(), in_order.tolist()):
                    out[k] = np.frombuffer(os.pread(fd, width, row * width), dtype=np.uint32)
                return out
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                mapped.madvise(mmap.MADV_RANDOM)
                sigs = np.frombuffer(mapped, dtype=np.uint32, count=self.n * self.num_perm).reshape(self.n, -1)
                try:
                    for start in range(0, len(rows), _GATHER_ROWS):
                        out[order[start:start + _GATHER_ROWS]] = sigs[in_order[start:start + _GATHER_ROWS]]
                        mapped.madvise(mmap.MADV_DONTNEED)  # the pages leave the RSS (not the page cache)
                finally:
                    del sigs  # the map cannot close while an array views it
        return out

    def close(self) -> None:
        self._fh.close()


@dataclass(frozen=True)
class DedupArrays:
    """The verdicts as arrays, one entry per row in the order rows were added.

    kept: index of the row's cluster's kept member (the row itself when unique or kept).
    keep: write the row. reason: 0 kept member, 1 duplicate (same text), 2 near duplicate.
    similarity: estimated Jaccard similarity to the kept member (1.0 for the same text).
    """

    kept: np.ndarray
    keep: np.ndarray
    reason: np.ndarray
    similarity: np.ndarray

    REASONS = (None, "duplicate", "near_duplicate")


class DedupIndex:
    """Collects (id, text hash, signature, date, n_chars) in any order; `results()` clusters them.

    Memory per row is a few numbers (id, a 64-bit digest of the text hash, date, length: 32
    bytes); signatures go to a file in `folder` (a temporary folder by default) and are read
    back in chunks, one LSH band key file per band. The outcome does not depend on the order
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
                 folder: str | os.PathLike | None = None) -> None:
        self.settings = settings
        self.bucket_window = bucket_window
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
        self._sigs = _SignatureFile(self.folder, settings.num_perm)
        self._stats: dict = {}

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
        `date_key` gives them."""
        if signatures.shape != (len(ids), self.settings.num_perm):
            raise ValueError(f"signatures shape {signatures.shape} != ({len(ids)}, {self.settings.num_perm})")
        self._append(ids, [_digest64(h) for h in text_hashes], signatures, date_keys, n_chars,
                     b"\x01" * len(ids))

    def _append(self, ids, digests, sigs, dates, n_chars, signed: bytes) -> None:
        self._ids.extend(ids)
        self._hash.extend(digests)
        self._date.extend(dates)
        self._nchars.extend(n_chars)
        self._signed += signed
        self._sigs.append(sigs)

    # -- near-duplicate pairs --
    def _band_keys(self, sigs: np.ndarray) -> np.ndarray:
        bands, rows = self.settings.lsh_bands
        keys = np.empty((len(sigs), bands), dtype=np.uint64)
        for b in range(bands):
            h = np.full(len(sigs), _seed64(self.settings.seed, 100 + b), dtype=np.uint64)
            for c in sigs[:, b * rows:(b + 1) * rows].T.astype(np.uint64):
                h ^= c
                h = _mix64(h)
            keys[:, b] = h
        return keys

    def _candidate_pairs(self, rep_row: np.ndarray, slot_of_row: np.ndarray) -> np.ndarray:
        """Unique (i, j), i < j, of slots sharing an LSH band, packed as i << 32 | j in a sorted
        uint64 array (see _unpack). The band keys
        are computed in one pass over the signature file and kept on disk, a file per band, so
        memory holds one band's keys at a time. An empty text (all bins EMPTY) has no band
        keys: it matches exactly or not at all."""
        bands = self.settings.lsh_bands[0]
        is_rep = np.zeros(self._sigs.n, dtype=bool)
        is_rep[rep_row] = True
        slot_path = self.folder / "band-slots.i64"
        key_paths = [self.folder / f"band-{b:03d}.u64" for b in range(bands)]
        files = [open(p, "wb") for p in [slot_path, *key_paths]]
        try:
            for start, sigs in self._sigs.chunks():
                take = is_rep[start:start + len(sigs)]
                slots = slot_of_row[start:start + len(sigs)][take]
                reps = sigs[take]
                alive = ~(reps == EMPTY).all(1)
                keys = self._band_keys(reps[alive])
                files[0].write(slots[alive].astype(np.int64).tobytes())
                for b in range(bands):
                    files[1 + b].write(np.ascontiguousarray(keys[:, b]).tobytes())
        finally:
            for fh in files:
                fh.close()
        slots = np.fromfile(slot_path, dtype=np.int64)
        slot_path.unlink()
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
            for dist in range(1, self.bucket_window + 1):
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

    @staticmethod
    def _unpack(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (packed >> np.uint64(32)).astype(np.int64), (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)

    def _similarities(self, rows_a: np.ndarray, rows_b: np.ndarray, chunk: int = 1 << 14) -> np.ndarray:
        sims = np.empty(len(rows_a))
        for a in range(0, len(rows_a), chunk):
            # Each signature read once per slice: a text in a big LSH bucket is in many pairs
            # (one read per pair cost 8 million reads, 22 s, at a million files).
            both = np.concatenate([rows_a[a:a + chunk], rows_b[a:a + chunk]])
            rows, where = np.unique(both, return_inverse=True)
            sigs = self._sigs.gather(rows)
            m = len(both) // 2
            sims[a:a + chunk] = np.count_nonzero(sigs[where[:m]] == sigs[where[m:]], axis=1)
        return sims / self.settings.num_perm

    def results_arrays(self) -> DedupArrays:
        """The verdict of every row added, as arrays in the order rows were added."""
        n = len(self._ids)
        id_rank = self._ids.order()  # also checks that ids are unique
        digests = np.frombuffer(self._hash, dtype=np.uint64) if n else np.empty(0, np.uint64)
        # Slots: distinct texts, ranked by text hash (canonical, whatever the order of adding).
        uniq, slot_of_row = np.unique(digests, return_inverse=True)
        n_slots = len(uniq)
        signed = np.frombuffer(bytes(self._signed), dtype=np.uint8).astype(bool) if n else np.zeros(0, bool)
        rep_row = np.full(n_slots, -1, dtype=np.int64)
        signed_rows = np.flatnonzero(signed)
        rep_row[slot_of_row[signed_rows][::-1]] = signed_rows[::-1]  # the first signed row of each text
        if (rep_row < 0).any():
            row = int(np.flatnonzero(slot_of_row == np.flatnonzero(rep_row < 0)[0])[0])
            raise ValueError(f"no signature for the text of row {self._ids[row]!r} (no row with its text hash "
                             "came with one)")
        n_candidates = n_verified = 0
        edges = np.empty((0, 2), dtype=np.int64)
        if self.settings.near and n_slots > 1:
            pairs = self._candidate_pairs(rep_row, slot_of_row)
            n_candidates = len(pairs)
            verified = []
            for start in range(0, n_candidates, 1 << 18):  # a bounded slice of the pairs at a time
                a, b = self._unpack(pairs[start:start + (1 << 18)])
                sims = self._similarities(rep_row[a], rep_row[b])
                ok = sims >= self.settings.threshold - 1e-9
                verified.append(np.stack([a[ok], b[ok]], axis=1))
            del pairs
            if verified:
                edges = np.concatenate(verified)
            n_verified = len(edges)
        comp_of_slot = _components(n_slots, edges)
        comp = comp_of_slot[slot_of_row]
        # The kept member of each component: earliest date, then longest text, then smallest id.
        date = np.frombuffer(self._date, dtype=np.int64) if n else np.empty(0, np.int64)
        nchars = np.frombuffer(self._nchars, dtype=np.int64) if n else np.empty(0, np.int64)
        order = np.lexsort((id_rank, -nchars, date, comp))
        first = np.ones(n, dtype=bool)
        first[1:] = comp[order][1:] != comp[order][:-1]
        kept_of_comp = np.empty(n_slots, dtype=np.int64)
        kept_of_comp[comp[order][first]] = order[first]
        kept = kept_of_comp[comp]
        rows = np.arange(n)
        keep = kept == rows
        exact = slot_of_row == slot_of_row[kept]
        reason = np.where(keep, 0, np.where(exact, 1, 2)).astype(np.int8)
        similarity = np.ones(n, dtype=np.float32)
        near = np.flatnonzero(reason == 2)
        if len(near):
            similarity[near] = self._similarities(rep_row[slot_of_row[near]], rep_row[slot_of_row[kept[near]]])
        if self.settings.keep_duplicates:
            keep = np.ones(n, dtype=bool)
        sizes = np.bincount(comp, minlength=n_slots) if n else np.zeros(1, np.int64)
        self._stats = dict(rows=n, distinct_texts=n_slots, clusters=int(np.count_nonzero(sizes)),
                           duplicates=int(np.count_nonzero(reason == 1)), near_duplicates=len(near),
                           candidate_pairs=n_candidates, verified_pairs=n_verified,
                           largest_cluster=int(sizes.max()) if n else 0)
        return DedupArrays(kept=kept, keep=keep, reason=reason, similarity=similarity)

    def id(self, row: int) -> str:
        """The id of the row added `row`-th."""
        return self._ids[row]

    def results(self) -> list[DupResult]:
        """One DupResult per row added, sorted by id."""
        a = self.results_arrays()
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
        self._sigs.path.unlink(missing_ok=True)
        if self._tmp is not None:
            self._tmp.cleanup()


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
        if len(self._pending) >= self.batch_size or self._pending_chars >= _CHARS_PER_CHUNK:
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

    def results(self) -> list[DupResult]:
        self.flush()
        return self.index.results()

    def stats(self) -> dict:
        s = self.index.stats()
        s["signed"] = self.signed
        return s
