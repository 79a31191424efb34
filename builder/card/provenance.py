"""The input manifest: the sha256 over a build's input files (path and content), recorded in
build_summary.json and named by the card, so a dataset says exactly what it was built from."""
from __future__ import annotations

import hashlib
from json.encoder import encode_basestring as _json_str  # json.dumps's own string encoder (C)
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ESCAPED = r'[\x00-\x1f"\\]'  # what json's encoder writes as an escape (ensure_ascii=False)


def input_manifest_hash(pairs: Iterable[tuple[str, str]]) -> str:
    """sha256 of a build's inputs: over the sorted (source_path, file sha256) pairs, one JSON
    array per line (`["a/b.md", "<hex>"]\\n`, UTF-8), so any added, removed, renamed or edited
    input file changes it, and file-system order does not."""
    hasher = InputManifest()
    for path, digest in sorted(pairs):
        hasher.add(path, digest)
    return hasher.hexdigest()


class InputManifest:
    """input_manifest_hash, fed one pair at a time in path order (as a build reads its files),
    so a build of a million files need not hold the pairs."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self._last: str | None = None

    def add(self, path: str, digest: str) -> None:
        self.add_many(((path, digest),))

    def add_many(self, pairs: Iterable[tuple[str, str]]) -> None:
        """The pairs, in path order after those added before, hashed in one update."""
        last, lines = self._last, []
        for path, digest in pairs:
            if last is not None and path <= last:
                raise ValueError(f"input manifest paths must come sorted: {path!r} after {last!r}")
            last = path
            # json.dumps([path, digest], ensure_ascii=False), three times faster (its own encoder).
            lines.append(f"[{_json_str(path)}, {_json_str(digest)}]\n")
        self._last = last
        self._h.update("".join(lines).encode("utf-8"))

    def add_columns(self, paths: pa.Array | pa.ChunkedArray, digests: pa.Array | pa.ChunkedArray) -> None:
        """`add_many` for pairs given as two string columns."""
        if len(paths):
            self.add_lines(paths[0].as_py(), paths[-1].as_py(), manifest_lines(paths, digests))

    def add_lines(self, first: str, last: str, lines: bytes) -> None:
        """A run of pairs, from `first` to `last` path, as `manifest_lines` made them (a read task
        makes its own; here they are only hashed)."""
        if self._last is not None and first <= self._last:
            raise ValueError(f"input manifest paths must come sorted: {first!r} after {self._last!r}")
        self._last = last
        self._h.update(lines)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def manifest_lines(paths: pa.Array | pa.ChunkedArray, digests: pa.Array | pa.ChunkedArray) -> bytes:
    """The manifest's lines of pairs given as two string columns, sorted by path (ValueError
    if not): made by Arrow, a Python string only for a path JSON must escape."""
    paths, digests = (c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in (paths, digests))
    if not len(paths):
        return b""
    if len(paths) > 1 and pc.any(pc.less_equal(paths[1:], paths[:-1])).as_py():
        raise ValueError(f"input manifest paths must come sorted: {paths.to_pylist()[:3]!r}...")
    lines = pc.binary_join_element_wise("[", _quoted(paths), ", ", _quoted(digests), "]\n", "")
    first, last = np.frombuffer(lines.buffers()[1], np.int32)[[lines.offset, lines.offset + len(lines)]]
    return bytes(memoryview(lines.buffers()[2])[first:last])


def _quoted(values: pa.Array) -> pa.Array:
    """Each string as a JSON string, as `_json_str` writes it: quotes around, escapes only where needed."""
    quoted = pc.binary_join_element_wise('"', values, '"', "")
    escape = pc.match_substring_regex(values, _ESCAPED).to_numpy(zero_copy_only=False)
    if not escape.any():
        return quoted
    at = np.flatnonzero(escape)
    fixed = pa.array([_json_str(v) for v in values.take(pa.array(at)).to_pylist()], pa.string())
    return pc.replace_with_mask(quoted, pa.array(escape), fixed)
