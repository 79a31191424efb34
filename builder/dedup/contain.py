"""Contained copies: a short text (a brief) whose shingles nearly all sit inside a longer one.

Jaccard similarity cannot see them (a 200-character brief inside a 3,000-character article has
J ~ 0.07), so they get their own candidates and an exact check:

- Candidates come from the MinHash signatures already computed: two texts whose signatures hold
  the same value in at least `MIN_SHARED_SLOTS` of the num_perm slots share shingles (32-bit
  values rarely collide by chance). A task searches SLOTS_PER_TASK slots, reading those
  slots from the signature file's column copy (store.ColumnReader), and sorts one slot's
  values a part at a time (store.value_parts). A value held by more than `MAX_BUCKET` texts
  is a shingle frequent across the corpus (boilerplate, a standard sentence): it proposes
  nothing. A loose estimate of the containment from the shared slots and the lengths
  (J * (|A| + |B|) / ((1 + J) |A|)) drops pairs that share a paragraph only.
- Every candidate is verified exactly, within a window: the largest share of the shorter
  text's distinct shingles (`shingle_set`: the same normalisation and shingles as the
  signatures) found in any stretch of the longer text `WINDOW` times the shorter one's length
  (`windowed_containment`). A brief retells one passage, so its shingles sit together; the
  same sentences scattered over a long article are standard phrases, not a copy. That lets
  `containment_threshold` be low enough for a reworded brief (a few words inserted or cut)
  without merging articles that share sentences. The shorter text needs
  `min_contained_chars` normalised characters: a one-line standard sentence is not a copy.
- One story per brief (`choose`): the longer text with the highest containment, unless a
  text of another story (near-duplicate component) comes within `AMBIGUOUS_MARGIN` of it: a
  passage found as much in two stories is a standard one, and joining it to either would
  bridge or mislabel them.

Pure functions over arrays and texts, and the candidate search as two phases of tasks that
a caller runs (`candidate_pairs`'s `run`); the caller brings the texts of the candidate rows
(the build's verification tasks read them from its partitions).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .minhash import EMPTY, _shingle_hashes, _short_hash
from .normalize import _codepoints, _normalized_codepoints
from .store import (ColumnReader, PartFile, PartReader, Run, SignatureFile, compact, pair_file_bounds,
                    remove_part_file, value_parts)

if TYPE_CHECKING:
    from .settings import DedupSettings

MIN_SHARED_SLOTS = 2  # chance collisions of two 32-bit slot values are ~n^2 * K^2 / 2^64: none
MAX_BUCKET = 64       # texts holding one slot value before it counts as a frequent shingle
ESTIMATE_FLOOR = 0.45  # estimated containment below this is not verified (noisy: true pairs at 0.7 from 0.48)
MAX_LENGTH_RATIO = 200  # a text 200 times longer than the shorter is a digest or a dump, not its article
PAIR_FILE_TEXTS = 8192  # texts per file of shared-value pairs (by the pair's smaller text)
MIN_PAIR_FILES = 64     # at least: a small corpus that reuses sentences still shares values in millions of pairs
SLOTS_PER_TASK = 8      # signature slots a phase-one task searches (it reads those slots of every text)
FILES_PER_TASK = 8      # pair files a phase-two task counts
WINDOW = 1.5           # the stretch of the longer text a brief must sit in, in brief lengths
AMBIGUOUS_MARGIN = 0.15  # another story this close to the best one: a standard passage, no copy
_REPEAT_CELLS = 1 << 22  # bound on the repeat matrix of windowed_containment before it loops instead


def shingle_seq(text: str, settings: DedupSettings) -> np.ndarray:
    """64-bit hashes of the text's shingles in text order, repeats kept (normalised as for
    signatures): the longer side of `windowed_containment`."""
    cps, _ = _normalized_codepoints(_codepoints(text))
    k = settings.shingle_size
    if len(cps) == 0:
        return np.empty(0, np.uint64)
    if len(cps) < k:
        return np.array([_short_hash(cps, settings.seed)], np.uint64)
    return _shingle_hashes(cps, np.array([len(cps)], np.int64), k, settings.seed)[0]


def shingle_set(text: str, settings: DedupSettings) -> np.ndarray:
    """Sorted distinct 64-bit hashes of the text's shingles (normalised as for signatures)."""
    return np.unique(shingle_seq(text, settings))


def containment(short: np.ndarray, long: np.ndarray) -> float:
    """Share of `short`'s shingles (a shingle_set) found in `long`'s."""
    if not len(short):
        return 0.0
    return float(np.count_nonzero(np.isin(short, long, assume_unique=True))) / len(short)


@dataclass(frozen=True)
class SlotTask:
    """Phase one of the candidate search, in a task: the slots `slots` of the distinct texts'
    signatures (read from the index's column file beside `signatures`), whose pairs sharing a
    value go to `n_files` files of pairs by their smaller text: parts of one store.PartFile in
    `folder` (`pair_file`). `arrays`: an .npz of each distinct text's row (reps), length
    (nchars) and near-duplicate component (comp)."""

    signatures: str
    arrays: str
    folder: str
    task: int
    slots: range
    n_files: int
    settings: DedupSettings


def slot_pairs(task: SlotTask) -> int:
    """Write the task's pairs of distinct texts that share a slot value held by at most
    MAX_BUCKET texts, lie in different components, and pass the length rules; returns how
    many were written."""
    settings = task.settings
    store = SignatureFile.reader(task.signatures, settings.num_perm)
    with np.load(task.arrays) as arrays:
        rep_row, nchars, comp_of_slot = arrays["reps"], arrays["nchars"], arrays["comp"]
    n_slots = len(rep_row)
    columns = ColumnReader(store, rep_row)  # a slot's values at a time, of each distinct text
    slots = compact(np.arange(n_slots))
    del rep_row
    out = PartFile(pair_file(task.folder, task.task), pair_file_bounds(task.n_files, n_slots))
    written = 0
    try:
        for column in task.slots:
            vals = columns.read(range(column, column + 1))[:, 0]
            for at in value_parts(vals):  # a part of the values at a time: see store.value_parts
                keys = _shared_value_pairs(vals[at], slots[at], nchars, comp_of_slot, settings)
                out.write(keys)
                written += len(keys)
    finally:
        out.close()
    return written


def pair_file(folder: str, task: int) -> Path:
    """The file of a phase-one task's pairs (a store.PartFile: a part per file of pairs)."""
    return Path(folder) / f"pairs-{task:04d}.u64"


@dataclass(frozen=True)
class CountTask:
    """Phase two, in a task: the pair files `files` (every phase-one task's share of each)."""

    arrays: str
    folder: str
    files: range
    n_tasks: int
    settings: DedupSettings


def counted_pairs(task: CountTask) -> np.ndarray:
    """(short, long) slots of the pairs in the task's files that share MIN_SHARED_SLOTS values and
    whose estimated containment passes ESTIMATE_FLOOR."""
    with np.load(task.arrays) as arrays:
        nchars = arrays["nchars"]
    readers = [PartReader(pair_file(task.folder, t)) for t in range(task.n_tasks)]
    passing = []
    for i in task.files:  # a file of pairs at a time: every phase-one task's share of it
        found = [run for reader in readers for run in reader.part(i)]
        uniq, count = np.unique(np.concatenate(found) if found else np.empty(0, np.uint64), return_counts=True)
        del found
        keep = count >= MIN_SHARED_SLOTS
        passing.append(_estimated(uniq[keep], count[keep], nchars, task.settings))
    for reader in readers:
        reader.close()
    return np.concatenate(passing) if passing else np.empty((0, 2), np.int64)


def candidate_pairs(store: SignatureFile, rep_row: np.ndarray, comp_of_slot: np.ndarray, nchars: np.ndarray,
                    settings: DedupSettings, *, folder: Path, run: Run) -> np.ndarray:
    """(short slot, long slot) pairs to verify, sorted: distinct texts in different near-duplicate
    components that share slot values, the shorter one long enough to count, and whose
    estimated containment passes ESTIMATE_FLOOR. `nchars[slot]`: the text's length.

    Two phases of tasks run by `run`: SlotTask (a few signature slots each) writes the pairs
    sharing a value to files by their smaller text, CountTask counts each file's pairs: a corpus
    that reuses sentences shares values in millions of pairs (21 million at 100,000
    make_corpus files), and no process holds them all."""
    store.flush()
    n_slots = len(rep_row)
    arrays = folder / "contain.npz"
    # The lengths stay 64-bit: MAX_LENGTH_RATIO times a long text overflows an int32.
    np.savez(arrays, reps=compact(rep_row), nchars=nchars, comp=compact(comp_of_slot))
    n_files = max(MIN_PAIR_FILES, n_slots // PAIR_FILE_TEXTS)
    K = settings.num_perm
    slot_tasks = [SlotTask(str(store.path), str(arrays), str(folder), t, range(c, min(c + SLOTS_PER_TASK, K)), n_files,
                           settings) for t, c in enumerate(range(0, K, SLOTS_PER_TASK))]
    for _ in run(slot_pairs, slot_tasks):
        pass
    count_tasks = [CountTask(str(arrays), str(folder), range(i, min(i + FILES_PER_TASK, n_files)), len(slot_tasks),
                             settings) for i in range(0, n_files, FILES_PER_TASK)]
    passing = list(run(counted_pairs, count_tasks))
    for t in range(len(slot_tasks)):
        remove_part_file(pair_file(str(folder), t))
    arrays.unlink()
    pairs = np.concatenate(passing) if passing else np.empty((0, 2), np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))] if len(pairs) else pairs


def _shared_value_pairs(vals: np.ndarray, slots: np.ndarray, nchars: np.ndarray, comp_of_slot: np.ndarray,
                        settings: DedupSettings) -> np.ndarray:
    """The pairs (smaller slot << 32 | larger, sorted) of texts holding one value of `vals` (one
    signature slot's values of the texts `slots`) that is held by at most MAX_BUCKET texts,
    in different components, passing the length rules."""
    # By value, ties in position order (a stable argsort's order): one sort of value << 32 | position
    packed = np.sort((vals.astype(np.uint64) << np.uint64(32)) | np.arange(len(vals), dtype=np.uint64))
    v, s = (packed >> np.uint64(32)).astype(np.uint32), slots[(packed & np.uint64(0xFFFFFFFF)).astype(np.int64)]
    del packed
    starts = np.flatnonzero(np.concatenate([[True], v[1:] != v[:-1]]))
    sizes = np.diff(np.append(starts, len(v)))
    size_of = np.repeat(sizes, sizes)
    usable = (size_of >= 2) & (size_of <= MAX_BUCKET) & (v != EMPTY)
    v, s = v[usable], s[usable]  # most values are held by one text: compare the rest only
    a, b = _bucket_pairs(v)
    a, b = s[a], s[b]
    short, long = np.minimum(nchars[a], nchars[b]), np.maximum(nchars[a], nchars[b])
    ok = ((comp_of_slot[a] != comp_of_slot[b]) & (short >= settings.min_contained_chars)
          & (long <= MAX_LENGTH_RATIO * short))
    a, b = a[ok], b[ok]
    return np.sort((np.minimum(a, b).astype(np.uint64) << np.uint64(32)) | np.maximum(a, b).astype(np.uint64))


def _bucket_pairs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j), i < j, of every two positions holding the same value in sorted `v`: as many steps
    as pairs, not a pass over `v` per distance."""
    n = len(v)
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    bound = np.flatnonzero(np.concatenate([[True], v[1:] != v[:-1], [True]]))  # run starts, then n
    end = np.repeat(bound[1:], np.diff(bound))      # where each position's run ends
    later = end - np.arange(1, n + 1)               # the positions after it in its run
    i = np.repeat(np.arange(n), later)
    j = np.arange(len(i)) - np.repeat(np.cumsum(later) - later, later) + i + 1
    return i, j


def _estimated(uniq: np.ndarray, count: np.ndarray, nchars: np.ndarray, settings: DedupSettings) -> np.ndarray:
    """(short, long) of the pairs (packed lo << 32 | hi, sharing `count` slot values) whose
    estimated containment passes ESTIMATE_FLOOR (their lengths were checked as they were found)."""
    a = (uniq >> np.uint64(32)).astype(np.int64)
    b = (uniq & np.uint64(0xFFFFFFFF)).astype(np.int64)
    short = np.where((nchars[a] < nchars[b]) | ((nchars[a] == nchars[b]) & (a < b)), a, b)
    long = np.where(short == a, b, a)
    j = count / settings.num_perm
    na, nb = np.maximum(nchars[short], 1), nchars[long]
    estimate = j * (na + nb) / ((1 + j) * na)
    ok = estimate >= ESTIMATE_FLOOR
    return np.stack([short[ok], long[ok]], axis=1)


def windowed_containment(short: np.ndarray, long_seq: np.ndarray, window: int, at_least: float = 0.0) -> float:
    """The largest share of `short`'s shingles (a shingle_set) found among the shingles starting
    in any `window` consecutive positions of `long_seq` (a shingle_seq). A shingle counts once
    per window however often it repeats there. Exact when the result is >= `at_least`; below
    it, a cheaper upper bound may come back (the caller only needs to know it is below)."""
    if not len(short) or not len(long_seq):
        return 0.0
    at = np.minimum(np.searchsorted(short, long_seq), len(short) - 1)
    pos = np.flatnonzero(short[at] == long_seq)           # positions holding one of short's shingles
    need = at_least * len(short) - 1e-9
    if not len(pos) or len(pos) < need:
        return len(pos) / len(short)
    h = at[pos]
    found = np.count_nonzero(np.bincount(h, minlength=len(short)))  # the whole text: an upper bound
    if found < need:
        return found / len(short)
    # Matches in the window starting at each match, repeats counted: an upper bound. Only the
    # windows whose bound reaches `need` are counted exactly.
    bound = np.searchsorted(pos, pos + window) - np.arange(len(pos))
    starts = np.flatnonzero(bound >= need)
    if not len(starts):
        return float(bound.max()) / len(short)
    # A match is a repeat in a window when its shingle comes again inside it (the later one
    # counts): `nxt`, the next position of the same shingle, finds those.
    by_shingle = np.argsort(h, kind="stable")             # pos is sorted, so positions stay in order
    nxt = np.full(len(pos), np.iinfo(np.int64).max, dtype=np.int64)
    same = h[by_shingle][1:] == h[by_shingle][:-1]
    nxt[by_shingle[:-1][same]] = pos[by_shingle[1:][same]]
    rep = np.flatnonzero(nxt - pos < window)
    counts = bound[starts]
    if len(rep) and len(starts) * len(rep) > _REPEAT_CELLS:
        return _distinct_in_windows(pos.tolist(), h.tolist(), window) / len(short)
    if len(rep):
        s = pos[starts][:, None]
        counts = counts - np.count_nonzero((pos[rep][None, :] >= s) & (nxt[rep][None, :] < s + window), axis=1)
    return float(counts.max()) / len(short)


def _distinct_in_windows(pos: list[int], h: list[int], window: int) -> int:
    """Most distinct values of `h` in a window of positions: a plain loop, for the rare long text
    that repeats the brief's shingles thousands of times (the matrix above would not fit)."""
    best, start, seen = 0, 0, {}
    for p, x in zip(pos, h):
        seen[x] = seen.get(x, 0) + 1
        while p - pos[start] >= window:
            y = h[start]
            seen[y] -= 1
            if not seen[y]:
                del seen[y]
            start += 1
        best = max(best, len(seen))
    return best


def window_of(short: np.ndarray, settings: DedupSettings) -> int:
    """The stretch of a longer text, in shingle positions, a brief with these shingles must sit in."""
    return int(WINDOW * (len(short) + settings.shingle_size - 1))


def verify(pairs: np.ndarray, short_sets: dict[int, np.ndarray], long_seqs: dict[int, np.ndarray],
           settings: DedupSettings) -> np.ndarray:
    """(short, long, containment) rows of `pairs` whose windowed containment passes the threshold,
    given the shorter sides' shingle sets and the longer sides' shingle sequences (keyed as the
    pairs are). Every one that passes: `choose` picks one story per brief."""
    out = []
    for a, b in pairs.tolist():
        sa = short_sets[a]
        if len(sa) + settings.shingle_size - 1 < settings.min_contained_chars:
            continue
        c = windowed_containment(sa, long_seqs[b], window_of(sa, settings), settings.containment_threshold)
        if c >= settings.containment_threshold - 1e-9:
            out.append((a, b, c))
    return np.array(out, dtype=np.float64).reshape(-1, 3)


def choose(verified: np.ndarray, story: np.ndarray) -> tuple[np.ndarray, int]:
    """(one row of `verified` per brief, briefs left alone as ambiguous). `story[row]`: the
    longer text's story (near-duplicate component). The brief joins the story of its highest
    containment (ties: the smallest row), unless another story comes within AMBIGUOUS_MARGIN:
    a passage found as much in two stories is a standard one, not a copy of either, and a
    brief must never bridge two stories (copies of one article are already one component)."""
    if not len(verified):
        return verified, 0
    order = np.lexsort((verified[:, 1], -verified[:, 2], verified[:, 0]))
    v = verified[order]
    first = np.ones(len(v), dtype=bool)
    first[1:] = v[1:, 0] != v[:-1, 0]
    brief = np.cumsum(first) - 1                       # which brief each row belongs to
    best = np.flatnonzero(first)[brief]                # the row of that brief's best story
    st = story[v[:, 1].astype(np.int64)]
    other = st != st[best]
    runner_up = np.full(int(brief[-1]) + 1, -1.0)     # the best containment in another story
    np.maximum.at(runner_up, brief[other], v[other, 2])
    clear = v[first, 2] - runner_up >= AMBIGUOUS_MARGIN - 1e-9
    return v[first][clear], int(np.count_nonzero(~clear))


def verify_texts(pairs: np.ndarray, text_of, settings: DedupSettings) -> np.ndarray:
    """`verify` for a caller that holds the texts: `text_of(row)` gives each row's text."""
    rows = np.unique(pairs).tolist()
    seqs = {r: shingle_seq(text_of(r), settings) for r in rows}
    return verify(pairs, {r: np.unique(seqs[r]) for r in np.unique(pairs[:, 0]).tolist()} if len(pairs) else {},
                  seqs, settings)
