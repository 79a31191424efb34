"""A release's files: those staged from the built folder, and those a target lists for a commit.

A file is compared by its hashes, never its bytes: the git blob id (what git and the Hub list
for a regular file) and the sha256 (what the Hub lists for an LFS file).
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from ..errors import PublishError

CARD = "README.md"
CROISSANT = "croissant.json"
# Files a target keeps for itself: the Hub's .gitattributes (which paths go through LFS) is
# neither published by us nor deleted.
TARGET_OWNED = {".gitattributes"}


@dataclass(frozen=True)
class RemoteFile:
    """A file of a target's commit, as its listing describes it."""

    path: str
    size: int
    blob_id: str  # git blob id (for an LFS file: of its pointer)
    sha256: str | None = None  # LFS files only

    def same_as(self, staged: StagedFile) -> bool:
        return staged.sha256 == self.sha256 if self.sha256 else staged.blob_id == self.blob_id


@dataclass(frozen=True)
class StagedFile:
    """A file of the release: its path in the target, hashes, and where its bytes are."""

    path: str
    size: int
    sha256: str
    blob_id: str  # git blob id, what the Hub and git list for a regular file
    source: Path | bytes

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> StagedFile:
        return cls(path, len(data), hashlib.sha256(data).hexdigest(), _git_blob_id(data), data)

    @classmethod
    def from_file(cls, path: str, file: Path) -> StagedFile:
        size = file.stat().st_size
        sha256, sha1 = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha256.update(chunk)
                sha1.update(chunk)
        return cls(path, size, sha256.hexdigest(), sha1.hexdigest(), file)

    def data(self) -> bytes:
        return self.source if isinstance(self.source, bytes) else self.source.read_bytes()

    def opener(self) -> Callable[[], BinaryIO]:
        return lambda: io.BytesIO(self.source) if isinstance(self.source, bytes) else open(self.source, "rb")


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def stage_folder(folder: str | os.PathLike) -> tuple[list[StagedFile], str]:
    """The files of a built dataset folder (the card apart) and the card's text. Hidden files and
    folders (caches, editor files) are not part of a release."""
    folder = Path(folder)
    if not (folder / CARD).is_file() or not any((folder / "data").rglob("*.parquet")):
        raise PublishError(f"{str(folder)!r} is not a built dataset folder (no {CARD} or data/*.parquet): "
                           "run `corpus build` first")
    staged = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        if path.is_symlink():
            raise PublishError(f"{rel} in {str(folder)!r} is a symbolic link: a release holds regular files only")
        if path.is_file() and rel != CARD:
            staged.append(StagedFile.from_file(rel, path))
    return staged, (folder / CARD).read_text(encoding="utf-8")
