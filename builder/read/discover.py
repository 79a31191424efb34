"""Find the files of a source folder: articles by suffix, the rest counted as ignored.

A local folder is walked; a folder on object storage (builder.read.sources) is listed, to the same result.

The walk is recursive and sorted at every level, so its order never depends on the file
system; symbolic links are followed only while they stay inside the source root (a link that
leaves it is reported, never read), and a folder reached twice through links is walked once.
"""
from __future__ import annotations

import bisect
import fnmatch
import heapq
import os
import stat
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import sources
from .paths import ArticleList
from ..errors import Reject


@dataclass
class Discovered:
    articles: ArticleList                                            # (shown path, file path), in path order
    ignored: Counter = field(default_factory=Counter)                # suffix -> count
    rejects: list[Reject] = field(default_factory=list)
    sizes: array | None = None  # of a remote source's articles, in their order, from the listing

    @property
    def n_found(self) -> int:
        return len(self.articles) + sum(self.ignored.values()) + len(self.rejects)


def display_path(rel: str) -> str:
    """A relative path as text that always encodes: undecodable bytes of a file name become
    backslash escapes rather than breaking the Parquet and JSON writers."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def discover(root: str | os.PathLike, suffixes: tuple[str, ...], *, spool: str | os.PathLike | None = None,
             exclude: tuple[str, ...] = ()) -> Discovered:
    """Every file under `root`, articles in path order (the order of their shown paths). With
    `spool` (a scratch folder), the list of articles is kept in a file there (close it).
    A file whose path within `root` matches an `exclude` glob (fnmatch: `SOURCES.md`,
    `docs/*`, `*/README.md`; a pattern without '/' also matches a file's name, a leading '/'
    anchors it at the root) is counted in
    `ignored` under "excluded", never read. A remote `root` (a URL: builder.read.sources) is listed
    instead of walked, each article's size kept in `sizes`."""
    if sources.is_remote(root):
        return _discover_listed(root, suffixes, spool, exclude)
    root_real = os.path.realpath(root)
    out = Discovered(ArticleList(root_real, spool))
    seen_dirs = {root_real}
    # A depth-first walk that finishes a folder before the entries after it, each folder's
    # entries sorted with a folder keyed by its name plus '/': it meets the files in the order
    # of their whole paths, so no list of every path is held and sorted at the end.
    stack = [(_entries(root_real, "", out), root_real, "")]
    while stack:
        item = next(stack[-1][0], None)
        if item is None:
            stack.pop()
            continue
        _, kind, name = item
        folder, prefix = stack[-1][1], stack[-1][2]
        if kind == _FILES:
            _take_files(prefix, name, suffixes, exclude, out)
            continue
        rel = f"{prefix}{name}"
        path = os.path.join(folder, name) if kind != _FILE else ""  # a plain file needs only rel
        if kind == _OTHER:  # a link, an undecodable name, a type unknown to the listing: asked here
            try:
                if os.path.islink(path):
                    target = os.path.realpath(path)
                    if target != root_real and not target.startswith(root_real + os.sep):
                        out.rejects.append(Reject(display_path(rel), "outside_root",
                                                  f"links to {display_path(target)}, outside the source root"))
                        continue
                st = os.stat(path)
                kind = _DIR if stat.S_ISDIR(st.st_mode) else _FILE if stat.S_ISREG(st.st_mode) else _OTHER
            except FileNotFoundError:  # a broken link: not a regular file, said below
                pass
            except OSError as exc:
                out.rejects.append(Reject(display_path(rel), "unreadable", f"cannot stat: {exc.strerror}"))
                continue
        if kind == _DIR:
            real = os.path.realpath(path)
            if real not in seen_dirs:
                seen_dirs.add(real)
                stack.append((_entries(path, rel + "/", out), path, rel + "/"))
        elif kind == _FILE:  # (a link to a file too: its suffix is its own name's)
            suffix = _suffix(name)
            if exclude and _excluded(rel, name, exclude):
                out.ignored[EXCLUDED] += 1
            elif suffix in suffixes:
                out.articles.append(rel)
            else:
                out.ignored[suffix or "(none)"] += 1
        else:
            out.rejects.append(Reject(display_path(rel), "unreadable",
                                      "not a regular file (a broken link, a socket, ...)"))
    return out


def _take_files(prefix: str, names: list[str], suffixes: tuple[str, ...], exclude: tuple[str, ...],
                out: Discovered) -> None:
    """A run of a folder's plain files (in order) into the articles, or counted as ignored."""
    if exclude:
        kept = []
        for name in names:
            if _excluded(prefix + name, name, exclude):
                out.ignored[EXCLUDED] += 1
            else:
                kept.append(name)
        names = kept
    articles = []
    for name in names:
        suffix = _suffix(name)
        if suffix in suffixes:
            articles.append(name)
        else:
            out.ignored[suffix or "(none)"] += 1
    out.articles.extend(prefix, articles)


def _discover_listed(url: str, suffixes: tuple[str, ...], spool, exclude: tuple[str, ...]) -> Discovered:
    """discover() of a remote folder, from its listing: the same articles, order, ignored and
    excluded counts as for the same files in a local folder (object storage has no links)."""
    out = Discovered(ArticleList(sources.root(url), spool), sizes=array("Q"))
    for rel, size in sources.listing(url):
        name = rel.rpartition("/")[2]
        suffix = _suffix(name)
        if exclude and _excluded(rel, name, exclude):
            out.ignored[EXCLUDED] += 1
        elif suffix in suffixes:
            out.articles.append(rel)
            out.sizes.append(size)
        else:
            out.ignored[suffix or "(none)"] += 1
    return out


EXCLUDED = "excluded"


def _excluded(rel: str, name: str, patterns: tuple[str, ...]) -> bool:
    """As in .gitignore: a pattern without '/' matches a name anywhere, one with a '/' the path
    within the root, and a leading '/' anchors it at the root (`/SOURCES.md`: that file only)."""
    shown = display_path(rel)
    return any(fnmatch.fnmatchcase(shown, p[1:]) if p.startswith("/")
               else fnmatch.fnmatchcase(shown, p) or ("/" not in p and fnmatch.fnmatchcase(display_path(name), p))
               for p in patterns)


def _suffix(name: str) -> str:
    """pathlib's suffix, lower case (none for a name ending in '.'), without building a Path
    per file; a dot file such as .DS_Store has no suffix to pathlib: its name says what it is."""
    i = name.rfind(".")
    ext = name[i:].lower() if 0 < i < len(name) - 1 else ""  # PurePath.suffix's rule
    return ext or (name.lower() if name[0] == "." else "")


_FILE, _DIR, _OTHER, _FILES = 0, 1, 2, 3


def _entries(folder: str, prefix: str, out: Discovered) -> Iterator[tuple[str, int, object]]:
    """A folder's entries as (sort key, kind, name), sorted by key: the shown name, plus '/'
    for a folder; a run of plain files between them as one (key, _FILES, their names). A folder
    of 400,000 files is held as their names alone (os.DirEntry objects, each with its full path,
    and a key each held ~450 bytes a file, 200 MB for that folder: the peak of a million-file
    build): plain files and folders sorted as they are, the rare rest (links, undecodable names,
    other types) with computed keys, merged as read."""
    files: list[str] = []
    dirs: list[str] = []
    other: list[tuple[str, int, str]] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                name = entry.name
                try:
                    kind = (_OTHER if entry.is_symlink() else _FILE if entry.is_file(follow_symlinks=False)
                            else _DIR if entry.is_dir(follow_symlinks=False) else _OTHER)
                except OSError:
                    kind = _OTHER
                if kind != _OTHER and not _plain(name):
                    kind = _OTHER
                if kind == _FILE:
                    files.append(name)
                elif kind == _DIR:
                    dirs.append(name)
                else:  # keyed as the walk will see it: a link to a folder is a folder
                    is_dir = os.path.isdir(os.path.join(folder, name))
                    other.append((display_path(name) + ("/" if is_dir else ""), _OTHER, name))
    except OSError as exc:
        out.rejects.append(Reject(display_path(prefix or "."), "unreadable",
                                  f"cannot list folder: {exc.strerror}"))
        return iter(())
    files.sort()
    dirs.sort(key=lambda d: d + "/")
    other.sort()
    # The folders and the rest, in key order, each after the run of files before it: a run of
    # plain files is one item (_FILES, its names), taken together by the walk.
    runs: list[tuple[str, int, object]] = []
    at = 0
    for key, kind, name in heapq.merge(((d + "/", _DIR, d) for d in dirs), other):
        end = bisect.bisect_right(files, key, at)
        if end > at:
            runs.append((files[at], _FILES, files[at:end]))
        runs.append((key, kind, name))
        at = end
    if at < len(files):
        runs.append((files[at], _FILES, files[at:] if at else files))
    return iter(runs)


def _plain(name: str) -> bool:
    """A name that is its own shown form (no undecodable bytes): sorted as it is."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False
