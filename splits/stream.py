"""Split assignment and manifest for rows that arrive in batches, in id order.

A build of millions of rows cannot hold every row's id, group and text hash as Python
objects just to assign splits: about 300 bytes a row. The hash strategy does not need
them: a row's split depends on its own group key alone, so each batch is assigned as it
comes (`assign` over the batch is `assign` over all rows, restricted to the batch), and the
manifest needs only running figures: the rows per split, a running sha256 of each split's
id list (ids arrive sorted, so the list is hashed as it grows), and for the leak checks a
64-bit digest of each row's group key and text hash (9 bytes a row, in compact arrays).
`StreamingSplit(spec).manifest()` equals `build_manifest` over the same rows.

The time strategy needs every group's dates before it can place one (quantile cutoffs,
groups spanning a boundary): use `assign` and `build_manifest` for it.
"""
from __future__ import annotations

import hashlib
import re
from array import array
from collections.abc import Mapping, Sequence

from .assign import Assignment, _check_columns, _group_keys, _split_table
from .audit import EXAMPLES, strata_counts, strata_report
from .errors import SpecError
from .hashing import buckets_of
from .manifest import FORMAT
from .spec import SplitSpec

_LOWER_HEX = re.compile("[0-9a-f]*")


class StreamingSplit:
    """Feed batches of rows with `add` (ids increasing across and within batches); read the
    manifest with `manifest()`. Stdlib only, like the rest of the package."""

    def __init__(self, spec: SplitSpec, *, text_hash_column: str | None = "content_sha256") -> None:
        if spec.strategy != "hash":
            raise SpecError(f"a streaming split needs the hash strategy, not {spec.strategy!r}: "
                            "use assign() and build_manifest()")
        self.spec = spec
        self.text_hash_column = text_hash_column
        self._table = _split_table(spec.names, spec.ratios)
        self._index = {name: i for i, name in enumerate(spec.names)}
        self._id_hash = {name: hashlib.sha256() for name in spec.names}
        self._counts = dict.fromkeys(spec.names, 0)
        self._last_id: str | None = None
        self._group_digest, self._group_split = array("Q"), array("B")
        self._text_digest, self._text_split = array("Q"), array("B")
        self._named: dict[int, str] = {}  # digest -> key, for keys that are not hex digests
        self._long_keys = {"group": False, "text": False}  # saw 64-digit keys: examples end in '…'
        self._strata: dict = {}

    def add(self, columns: Mapping[str, Sequence]) -> Assignment:
        """Assign a batch (columns as for `assign`); returns its Assignment."""
        spec = self.spec
        ids = _check_columns(columns, spec)
        if any(a >= b for a, b in zip(ids, ids[1:])) or (ids and self._last_id is not None and ids[0] <= self._last_id):
            raise SpecError("a streaming split takes rows in increasing id order (each batch sorted, "
                            "batches in order)")
        if not ids:
            return Assignment(spec=spec, split=[], bucket=[], group=[])
        self._last_id = ids[-1]
        keys = _group_keys(columns, spec, ids)
        try:
            buckets = buckets_of(keys, spec.salt)
        except TypeError as e:
            raise SpecError(f"group column {spec.group!r} must hold strings: {e}") from None
        split = list(map(self._table.__getitem__, buckets))
        index = list(map(self._index.__getitem__, split))
        mine: dict[str, list[str]] = {}
        for row_id, name in zip(ids, split):
            mine.setdefault(name, []).append(row_id)
        for name, split_ids in mine.items():  # each split's ids, newline-separated, hashed in one update
            text = "\n".join(split_ids)
            self._id_hash[name].update((text if not self._counts[name] else "\n" + text).encode("utf-8"))
            self._counts[name] += len(split_ids)
        self._group_digest.extend(self._digests(keys))
        self._long_keys["group"] |= len(keys[0]) == 64
        self._group_split.extend(index)
        if self.text_hash_column is not None:
            if self.text_hash_column not in columns:
                raise SpecError(f"column {self.text_hash_column!r} (text hashes, for the leak check) is missing")
            texts = columns[self.text_hash_column]
            kept = [(t, i) for t, i in zip(texts, index) if t is not None]
            self._long_keys["text"] |= bool(kept) and len(kept[0][0]) == 64
            self._text_digest.extend(self._digests([t for t, _ in kept]))
            self._text_split.extend(i for _, i in kept)
        if spec.stratify is not None:
            strata_counts(columns[spec.stratify], split, spec.names, self._strata)
        return Assignment(spec=spec, split=split, bucket=buckets, group=keys)

    def _digests(self, keys: Sequence[str]) -> list[int]:
        """`_digest` of each key; for a batch of row ids or sha256 digests (16 or 64 lowercase
        hex digits, the build's keys) one check over the batch and an int() per key."""
        heads = [key[:16] for key in keys]
        if all(len(key) in (16, 64) for key in keys) and _LOWER_HEX.fullmatch("".join(heads)):
            return [int(head, 16) for head in heads]
        return [self._digest(key) for key in keys]

    def _digest(self, key: str) -> int:
        """64 bits standing for a key. A 16-hex-digit key (a row id) is its own number; a
        64-hex-digit key (a sha256, such as content_sha256) its first 16 digits, and an
        example names it by them followed by '…'; any other key is hashed and remembered
        for the examples (such keys, a feed or a source, repeat: few distinct values)."""
        n = len(key)
        if n == 16 or n == 64:
            try:
                value = int(key[:16], 16)
                if f"{value:016x}" == key[:16]:
                    return value
            except ValueError:
                pass
        value = int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:8], "big")
        self._named.setdefault(value, key)
        return value

    def _key(self, digest: int, long: bool = False) -> str:
        if digest in self._named:
            return self._named[digest]
        return f"{digest:016x}…" if long else f"{digest:016x}"

    def _spread(self, digests: array, splits: array, long: bool) -> list[str]:
        """Keys (sorted) whose rows sit in more than one split: the digests sorted, then runs
        of one digest with two split indexes. A 64-bit digest of a long key (a text hash)
        stands for it in the examples by its first 16 hex digits."""
        try:
            spread = _spread_numpy(digests, splits)
        except ImportError:  # stdlib only: a Python int and a list slot a row (~100 MB at a million rows)
            order = sorted(range(len(digests)), key=digests.__getitem__)
            spread = set()
            for a, b in zip(order, order[1:]):
                if digests[a] == digests[b] and splits[a] != splits[b]:
                    spread.add(digests[a])
        return sorted(self._key(d, long) for d in spread)

    def manifest(self) -> dict:
        """The manifest, as `build_manifest` would give over every row added."""
        spec = self.spec
        straddling = self._spread(self._group_digest, self._group_split, self._long_keys["group"])
        report: dict = {
            "counts": dict(self._counts),
            "dropped": {"embargo": 0, "crossing": 0},
            "group_straddles": len(straddling),
            "group_straddle_examples": straddling[:EXAMPLES],
            "duplicate_texts_across_splits": None,
            "duplicate_text_examples": [],
        }
        if self.text_hash_column is not None:
            duplicated = self._spread(self._text_digest, self._text_split, self._long_keys["text"])
            report["duplicate_texts_across_splits"] = len(duplicated)
            report["duplicate_text_examples"] = duplicated[:EXAMPLES]
        if spec.stratify is not None:
            report["strata"] = strata_report(self._strata, spec)
        report["ok"] = not straddling and not report["duplicate_texts_across_splits"]
        return {
            "format": FORMAT,
            "spec": spec.to_dict(),
            "pinned_spec": spec.to_dict(),
            "counts": dict(self._counts),
            "id_sha256": {name: h.hexdigest() for name, h in self._id_hash.items()},
            "dropped": {"embargo": 0, "crossing": 0},
            "audit": report,
        }


def _spread_numpy(digests: array, splits: array) -> set[int]:
    """StreamingSplit._spread's digests with numpy where it is installed (the package needs only
    the stdlib): the arrays read in place, 17 bytes a row of scratch, no Python object a row."""
    import numpy as np

    if len(digests) < 2:
        return set()
    d = np.frombuffer(digests, dtype=np.uint64)
    order = np.argsort(d, kind="stable")
    d, k = d[order], np.frombuffer(splits, dtype=np.uint8)[order]
    same = (d[1:] == d[:-1]) & (k[1:] != k[:-1])
    return set(d[1:][same].tolist())
