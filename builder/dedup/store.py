"""Compact per-row storage for the index: text-hash digests, row ids, signatures on disk."""
from __future__ import annotations

import hashlib
import mmap
import os
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .minhash import EMPTY


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
        """Rank of each id in string order (int32 when it fits: see compact), and checks that ids
        are unique."""
        if self._hex is not None:
            keys = np.frombuffer(self._hex, dtype=np.uint64) if len(self._hex) else np.empty(0, np.uint64)
            if np.all(keys[1:] > keys[:-1]):  # added in id order, as a build adds them: ranks are places
                return compact(np.arange(len(keys)))
            order = np.argsort(keys, kind="stable")
            dup = np.flatnonzero(keys[order][1:] == keys[order][:-1])
        else:
            order = np.array(sorted(range(len(self._str)), key=self._str.__getitem__), dtype=np.int64)
            dup = [k for k in range(len(order) - 1) if self._str[order[k]] == self._str[order[k + 1]]]
        if len(dup):
            raise ValueError(f"duplicate row id {self[int(order[dup[0]])]!r} given to DedupIndex (ids must be unique)")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return compact(rank)


# How the index runs its tasks: run(fn, tasks) gives fn(task) for each task, in task order
# (the build passes its executor's map; `serial` runs them here).
Run = Callable[[Callable[[Any], Any], list], Iterable[Any]]


def serial(fn: Callable[[Any], Any], tasks: list) -> Iterator[Any]:
    return map(fn, tasks)


_GATHER_ROWS = 256  # rows gathered between drops of the signature map's pages


class SignatureFile:
    """One signature per row, appended to a file: the index's memory does not grow with the
    signatures (512 bytes a row at num_perm=128). Read back in chunks, never mapped whole.

    Beside it, the same signatures column by column (read by ColumnReader): a block of at least
    _BLOCK_ROWS rows at a time, each block's slots one after another, so a candidate search
    that needs a few slots of every text reads those, not every slot. And a flag per row: its
    signature is all EMPTY (an empty text)."""

    def __init__(self, folder: Path, num_perm: int) -> None:
        self.path = folder / "signatures.u32"
        self.num_perm = num_perm
        self.n = 0
        self._fh = open(self.path, "wb")
        self._cols = open(_beside(self.path, ".cols"), "wb")
        self._empty = open(_beside(self.path, ".empty"), "wb")
        self._blocks: list[int] = []        # rows in each block of the column file
        self._pending: list[np.ndarray] = []  # rows not yet in a block
        self._pending_rows = 0

    @classmethod
    def reader(cls, path: str | os.PathLike, num_perm: int) -> "SignatureFile":
        """A file another process wrote, to read (a dedup task's view of the index's file)."""
        store = cls.__new__(cls)
        store.path, store.num_perm, store._fh = Path(path), num_perm, None
        store.n = store.path.stat().st_size // (4 * num_perm)
        return store

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            self._block()
            self._cols.flush()
            self._empty.flush()
            np.save(_beside(self.path, ".blocks.npy"), np.array(self._blocks, dtype=np.int64))

    def append(self, sigs: np.ndarray) -> None:
        sigs = np.ascontiguousarray(sigs, dtype=np.uint32)
        self._fh.write(sigs.tobytes())
        self._empty.write((sigs == EMPTY).all(1).astype(np.uint8).tobytes())
        self._pending.append(sigs)
        self._pending_rows += len(sigs)
        self.n += len(sigs)
        if self._pending_rows >= _BLOCK_ROWS:
            self._block()

    def _block(self) -> None:
        if self._pending:
            rows = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending, self._pending_rows = [], 0
            self._cols.write(np.ascontiguousarray(rows.T).tobytes())
            self._blocks.append(len(rows))

    def empty_rows(self) -> np.ndarray:
        """Whether each row's signature is all EMPTY (an empty text: no band keys)."""
        return np.fromfile(_beside(self.path, ".empty"), dtype=np.uint8).astype(bool)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Signatures of `rows` (any order, repeats allowed), read in row order through a memory
        map whose pages are dropped from the process every _GATHER_ROWS rows. A row maps more
        than its 512 bytes (the kernel maps the page cache's whole large folio around it, ~110
        KB a row in a million-file build: 4,096 rows between drops put 450 MB in the RSS), so
        the runs are short; the RSS never holds the file. A pread per row, as before, cost ~3
        µs a row: 4 million candidate pairs took 12 s more. Where the system lacks madvise, a
        pread per row."""
        self.flush()
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

    def equal_slots(self, rows_a: np.ndarray, rows_b: np.ndarray, chunk: int = 1 << 14) -> np.ndarray:
        """How many slots the signatures of rows_a[i] and rows_b[i] hold the same value in (int64).
        Each signature is read once per slice of pairs: a text in a big bucket is in many pairs
        (one read per pair cost 8 million reads, 22 s, at a million files)."""
        out = np.empty(len(rows_a), dtype=np.int64)
        for a in range(0, len(rows_a), chunk):
            both = np.concatenate([rows_a[a:a + chunk], rows_b[a:a + chunk]])
            rows, where = np.unique(both, return_inverse=True)
            sigs = self.gather(rows)
            m = len(both) // 2
            out[a:a + chunk] = np.count_nonzero(sigs[where[:m]] == sigs[where[m:]], axis=1)
        return out

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._cols.close()
            self._empty.close()

    def unlink(self) -> None:
        """Delete the file and those beside it."""
        for path in (self.path, *(_beside(self.path, end) for end in (".cols", ".empty", ".blocks.npy"))):
            path.unlink(missing_ok=True)


_BLOCK_ROWS = 4096  # rows at least in a block of the column file (the last may hold fewer)


def _beside(path: Path, end: str) -> Path:
    return path.with_name(path.name + end)


def compact(values: np.ndarray) -> np.ndarray:
    """Integer `values` as int32 when they all fit (the rows, slots and components of any corpus
    below two billion texts): each candidate-search task holds several such arrays of every
    distinct text, half the bytes so."""
    values = np.asarray(values)
    if len(values) and (values.min() < -2**31 or values.max() >= 2**31):
        return values
    return values.astype(np.int32, copy=False)


def pair_file_bounds(n_files: int, n_slots: int) -> np.ndarray:
    """Where each of `n_files` files of packed pairs (smaller slot << 32 | larger) starts, and
    one past the last: file i holds the pairs whose smaller slot s has s * n_files // n_slots
    == i, so a search's pairs are spread over files a task can count apart."""
    first = (np.arange(n_files + 1, dtype=np.uint64) * np.uint64(n_slots) + np.uint64(n_files - 1)) \
        // np.uint64(n_files)
    return first << np.uint64(32)


class PartFile:
    """Sorted packed pairs (smaller slot << 32 | larger) appended to one file, each run tagged
    with its part (pair_file_bounds), so a reader takes a part's pairs and only those. One file
    a writer, not one a part: creating, opening and deleting files cost ~0.2 ms each, and a
    search made thousands of them."""

    def __init__(self, path: str | os.PathLike, bounds: np.ndarray) -> None:
        self.path, self.bounds = Path(path), bounds
        self._fh = open(self.path, "wb")
        self._runs: list[tuple[int, int, int]] = []  # (part, first pair, pairs)
        self._at = 0

    def write(self, pairs: np.ndarray) -> None:
        at = np.searchsorted(pairs, self.bounds)
        for i in np.flatnonzero(np.diff(at)).tolist():
            lo, hi = int(at[i]), int(at[i + 1])
            self._fh.write(pairs[lo:hi].tobytes())
            self._runs.append((i, self._at, hi - lo))
            self._at += hi - lo

    def close(self) -> None:
        self._fh.close()
        np.save(_beside(self.path, ".runs.npy"), np.array(self._runs, dtype=np.int64).reshape(-1, 3))


class PartReader:
    """A PartFile's pairs, a part at a time."""

    def __init__(self, path: str | os.PathLike) -> None:
        runs = np.load(_beside(Path(path), ".runs.npy"))
        self._runs = runs[np.argsort(runs[:, 0], kind="stable")]
        self._fh = open(path, "rb")

    def part(self, i: int) -> list[np.ndarray]:
        lo, hi = np.searchsorted(self._runs[:, 0], [i, i + 1])
        out = []
        for _, first, count in self._runs[lo:hi].tolist():
            self._fh.seek(first * 8)
            out.append(np.fromfile(self._fh, dtype=np.uint64, count=count))
        return out

    def close(self) -> None:
        self._fh.close()


def remove_part_file(path: str | os.PathLike) -> None:
    Path(path).unlink(missing_ok=True)
    _beside(Path(path), ".runs.npy").unlink(missing_ok=True)


PART_ROWS = 1 << 17  # values a candidate search sorts at a time


class ColumnReader:
    """A few slots at a time of the signatures of `rows` (any order, repeats allowed), from a
    SignatureFile's column file: one read a block, and only `rows` kept. A search reads its
    slots in turn, each into (len(rows), slots) and dropped before the next: a task holds a
    few slots of the texts it searches, not all its slots at once."""

    def __init__(self, store: SignatureFile, rows: np.ndarray) -> None:
        self.path, self.num_perm = _beside(store.path, ".cols"), store.num_perm
        self.blocks = np.load(_beside(store.path, ".blocks.npy")).tolist()
        self.n = len(rows)
        self.order = np.argsort(rows, kind="stable")
        self.in_order = np.asarray(rows)[self.order]

    def read(self, cols: range) -> np.ndarray:
        out = np.empty((self.n, len(cols)), dtype=np.uint32)
        order, in_order = self.order, self.in_order
        first = offset = 0
        with open(self.path, "rb") as fh:
            for m in self.blocks:
                lo, hi = np.searchsorted(in_order, [first, first + m])
                if hi > lo:
                    fh.seek((offset + cols.start * m) * 4)
                    block = np.fromfile(fh, dtype=np.uint32, count=len(cols) * m).reshape(len(cols), m)
                    out[order[lo:hi]] = block[:, in_order[lo:hi] - first].T
                first, offset = first + m, offset + self.num_perm * m
        return out


def value_parts(values: np.ndarray) -> Iterator[np.ndarray]:
    """The positions of `values` (unsigned hashes: slot values, band keys) in parts of about
    PART_ROWS, ascending within each part: a part is a range of the values' low bits, so equal
    values always share one. A search that sorts each part in turn finds the same buckets as
    one sort of them all, and holds a part's sort, not every text's (at a million texts the
    whole sort's arrays were most of a search task's memory)."""
    n_parts = 1
    while n_parts * PART_ROWS < len(values):
        n_parts *= 2
    if n_parts == 1:
        yield np.arange(len(values))
        return
    low = (values & values.dtype.type(n_parts - 1)).astype(np.uint32)
    for part in range(n_parts):
        yield np.flatnonzero(low == part)
