"""Find the files of a source folder: articles by suffix, the rest counted as ignored.

The walk is recursive and sorted at every level, so its order never depends on the file
system; symbolic links are followed only while they stay inside the source root (a link that
leaves it is reported, never read), and a folder reached twice through links is walked once.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Reject


@dataclass
class Discovered:
    articles: list[tuple[str, str]] = field(default_factory=list)  # (relative path, absolute path)
    ignored: Counter = field(default_factory=Counter)                # suffix -> count
    rejects: list[Reject] = field(default_factory=list)

    @property
    def n_found(self) -> int:
        return len(self.articles) + sum(self.ignored.values()) + len(self.rejects)


def display_path(rel: str) -> str:
    """A relative path as text that always encodes: undecodable bytes of a file name become
    backslash escapes rather than breaking the Parquet and JSON writers."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def discover(root: str | os.PathLike, suffixes: tuple[str, ...]) -> Discovered:
    root_real = os.path.realpath(root)
    out = Discovered()
    seen_dirs = {root_real}
    stack = [(root_real, "")]
    found: list[tuple[str, str]] = []
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            out.rejects.append(Reject(display_path(prefix or "."), "unreadable", f"cannot list folder: {exc.strerror}"))
            continue
        subdirs = []
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            shown = display_path(rel)
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if target != root_real and not target.startswith(root_real + os.sep):
                        out.rejects.append(Reject(shown, "outside_root", f"links to {display_path(target)}, outside the source root"))
                        continue
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError as exc:
                out.rejects.append(Reject(shown, "unreadable", f"cannot stat: {exc.strerror}"))
                continue
            if is_dir:
                real = os.path.realpath(entry.path)
                if real not in seen_dirs:
                    seen_dirs.add(real)
                    subdirs.append((entry.path, rel + "/"))
            elif is_file:
                # A dot file such as .DS_Store has no suffix to pathlib; its name says what it is.
                suffix = Path(entry.name).suffix.lower() or (entry.name.lower() if entry.name[0] == "." else "")
                if suffix in suffixes:
                    found.append((shown, entry.path))
                else:
                    out.ignored[suffix or "(none)"] += 1
            else:
                out.rejects.append(Reject(shown, "unreadable", "not a regular file (a broken link, a socket, ...)"))
        stack.extend(reversed(subdirs))
    out.articles = sorted(found)
    return out
