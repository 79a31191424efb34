"""The input manifest: the sha256 over a build's input files (path and content), recorded in
build_summary.json and named by the card, so a dataset says exactly what it was built from."""
from __future__ import annotations

import hashlib
from json.encoder import encode_basestring as _json_str  # json.dumps's own string encoder (C)
from typing import Iterable


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

    def hexdigest(self) -> str:
        return self._h.hexdigest()
