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
from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache

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
_NO_DATE = 2 ** 62  # after every real date


def _date_key(date: datetime | None) -> int:
    if date is None:
        return _NO_DATE
    if date.tzinfo is None:  # the schema's dates are UTC; a naive one is read as UTC
        date = date.replace(tzinfo=timezone.utc)
    return (date - _EPOCH) // timedelta(microseconds=1)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        p = self.parent
        root = x
        while p[root] != root:
            root = p[root]
        while p[x] != root:
            p[x], x = root, p[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller root wins: the result does not depend on edge order
            self.parent[max(ra, rb)] = min(ra, rb)


class DedupIndex:
    """Collects (id, text hash, signature, date, n_chars) in any order; `results()` clusters them.

    State: one signature per distinct text hash, and per row its id, date and length; never
    the texts. The outcome does not depend on the order rows were added: distinct texts are
    ranked by hash, LSH buckets are read in that rank order, and the kept member is chosen by
    a total order (see the module docstring).

    Clusters are transitive: a cluster is a connected component of the graph whose edges are
    exact matches and LSH candidate pairs whose estimated Jaccard similarity is >= threshold
    (union-find). So A~B and B~C put A, B, C together even when A and C are less similar.
    Why: copies are made from an original, and the kept member is often a copy (the earliest
    date wins), so two copies of one original may each pass only against the original; star
    clusters around the kept member would keep both. The risk is a chain bridging two
    different stories; the verification threshold keeps it rare, and `stats()["largest_cluster"]`
    makes a bridged mega-cluster visible. In an LSH bucket larger than `bucket_window`,
    only members within that distance (in hash rank order) are compared, so one template
    repeated 100,000 times costs O(n * window) comparisons rather than O(n^2).
    """

    def __init__(self, settings: DedupSettings, *, bucket_window: int = 64) -> None:
        self.settings = settings
        self.bucket_window = bucket_window
        self._hash_index: dict[str, int] = {}  # text hash -> slot
        self._hashes: list[str] = []
        self._sigs = np.empty((0, settings.num_perm), dtype=np.uint32)
        self._ids: list[str] = []
        self._slot = array("q")    # compact: 8 bytes a row, not a Python int object
        self._date = array("q")
        self._nchars = array("q")
        self._seen_ids: set[str] = set()
        self._stats: dict = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, id: str) -> bool:
        return id in self._seen_ids

    def has_signature(self, text_hash: str) -> bool:
        """True when this text was seen: add() needs no signature for it."""
        return text_hash in self._hash_index

    def add(self, id: str, text_hash: str, signature: np.ndarray | None = None, *,
            date: datetime | None = None, n_chars: int = 0) -> None:
        """Record one row. `signature` may be None only when has_signature(text_hash)."""
        if id in self._seen_ids:
            raise ValueError(f"duplicate row id {id!r} given to DedupIndex (ids must be unique)")
        slot = self._hash_index.get(text_hash)
        if slot is None:
            if signature is None:
                raise ValueError(f"no signature for new text hash {text_hash!r} (row {id!r})")
            if signature.shape != (self.settings.num_perm,):
                raise ValueError(f"signature shape {signature.shape} != ({self.settings.num_perm},)")
            slot = len(self._hashes)
            if slot == len(self._sigs):  # grow by doubling: amortised O(1) appends
                grown = np.empty((max(1024, 2 * slot), self.settings.num_perm), dtype=np.uint32)
                grown[:slot] = self._sigs[:slot]
                self._sigs = grown
            self._sigs[slot] = signature
            self._hash_index[text_hash] = slot
            self._hashes.append(text_hash)
        self._seen_ids.add(id)
        self._ids.append(id)
        self._slot.append(slot)
        self._date.append(_date_key(date))
        self._nchars.append(int(n_chars))

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

    def _candidate_pairs(self, sigs: np.ndarray) -> np.ndarray:
        """Unique (i, j), i < j, of rows sharing an LSH band: int64 array (P, 2)."""
        keys = self._band_keys(sigs)
        found = []
        for b in range(keys.shape[1]):
            order = np.argsort(keys[:, b], kind="stable")  # stable: ties stay in rank order
            ks = keys[order, b]
            for dist in range(1, self.bucket_window + 1):
                same = ks[:-dist] == ks[dist:]
                if not same.any():
                    break
                found.append(np.stack([order[:-dist][same], order[dist:][same]], axis=1))
        if not found:
            return np.empty((0, 2), dtype=np.int64)
        pairs = np.sort(np.concatenate(found), axis=1)
        return np.unique(pairs, axis=0)

    def _verified_pairs(self, sigs: np.ndarray, pairs: np.ndarray, chunk: int = 1 << 16
                        ) -> tuple[np.ndarray, np.ndarray]:
        sims = np.empty(len(pairs))
        for a in range(0, len(pairs), chunk):
            p = pairs[a:a + chunk]
            sims[a:a + chunk] = np.count_nonzero(sigs[p[:, 0]] == sigs[p[:, 1]], axis=1)
        sims /= sigs.shape[1]
        ok = sims >= self.settings.threshold - 1e-9
        return pairs[ok], sims[ok]

    def results(self) -> list[DupResult]:
        """One DupResult per row added, sorted by id."""
        n_slots = len(self._hashes)
        rank_order = sorted(range(n_slots), key=self._hashes.__getitem__)  # canonical: by hash
        rank = np.empty(n_slots, dtype=np.int64)
        rank[rank_order] = np.arange(n_slots)
        sigs = self._sigs[:n_slots][rank_order]
        uf = _UnionFind(n_slots)
        n_candidates = n_verified = 0
        if self.settings.near and n_slots > 1:
            live = np.flatnonzero(~(sigs == EMPTY).all(1))  # empty texts match exactly or not at all
            pairs = live[self._candidate_pairs(sigs[live])]
            n_candidates = len(pairs)
            edges, _ = self._verified_pairs(sigs, pairs)
            n_verified = len(edges)
            for a, b in edges.tolist():
                uf.union(a, b)
        comp = [uf.find(r) for r in range(n_slots)]
        row_rank = rank[np.asarray(self._slot, dtype=np.int64)].tolist() if self._ids else []
        members: dict[int, list[int]] = {}
        for row, r in enumerate(row_rank):
            members.setdefault(comp[r], []).append(row)
        out: list[DupResult] = []
        n_exact = n_near = largest = 0
        for rows in members.values():
            largest = max(largest, len(rows))
            kept = min(rows, key=lambda i: (self._date[i], -self._nchars[i], self._ids[i]))
            kid, krank = self._ids[kept], row_rank[kept]
            for i in rows:
                if i == kept:
                    out.append(DupResult(kid, kid, True))
                    continue
                exact = row_rank[i] == krank
                sim = 1.0 if exact else similarity(sigs[row_rank[i]], sigs[krank])
                n_exact += exact
                n_near += not exact
                out.append(DupResult(self._ids[i], kid, self.settings.keep_duplicates,
                                     "duplicate" if exact else "near_duplicate", kid, sim))
        out.sort(key=lambda r: r.id)
        self._stats = dict(rows=len(self._ids), distinct_texts=n_slots, clusters=len(members),
                           duplicates=n_exact, near_duplicates=n_near, candidate_pairs=n_candidates,
                           verified_pairs=n_verified, largest_cluster=largest)
        return out

    def stats(self) -> dict:
        """Counts from the last results(): rows, distinct_texts, clusters, duplicates, ..."""
        return dict(self._stats)


class Deduplicator:
    """Texts in, verdicts out: content hashes, batched signatures, the index (for callers that
    hold texts, such as bench/score_dedup.py; the build signs in its workers and feeds
    DedupIndex directly, and its per-file result cache spares a rebuild the signing).

    add() keeps a text only until its batch is signed (batch_size distinct texts at most); a
    text whose hash was seen before is never signed again.
    """

    def __init__(self, settings: DedupSettings, *, batch_size: int = 512) -> None:
        self.settings = settings
        self.index = DedupIndex(settings)
        self.batch_size = batch_size
        self.signed = 0  # signatures computed
        self._pending: dict[str, str] = {}  # text hash -> text, waiting to be signed
        self._rows: list[tuple] = []        # rows whose text is pending
        self._row_ids: set[str] = set()
        self._pending_chars = 0             # a few huge texts also make a batch

    def add(self, id: str, text: str, *, date: datetime | None = None, n_chars: int | None = None,
            text_hash: str | None = None) -> str:
        """Record one row; returns its content hash (`content_sha256(text)` unless given)."""
        h = text_hash or content_sha256(text)
        n = len(text) if n_chars is None else n_chars
        if self.index.has_signature(h):
            if id in self._row_ids:
                raise ValueError(f"duplicate row id {id!r} given to Deduplicator (ids must be unique)")
            self.index.add(id, h, date=date, n_chars=n)
            return h
        if id in self._row_ids or id in self.index:
            raise ValueError(f"duplicate row id {id!r} given to Deduplicator (ids must be unique)")
        if h not in self._pending:
            self._pending[h] = text
            self._pending_chars += len(text)
        self._rows.append((id, h, date, n))
        self._row_ids.add(id)
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
            self.index.add(id, h, None if self.index.has_signature(h) else found[h], date=date, n_chars=n)
        self._pending.clear()
        self._rows.clear()
        self._row_ids.clear()
        self._pending_chars = 0

    def results(self) -> list[DupResult]:
        self.flush()
        return self.index.results()

    def stats(self) -> dict:
        s = self.index.stats()
        s["signed"] = self.signed
        return s

