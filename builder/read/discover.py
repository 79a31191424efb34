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
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from . import sources
from ..errors import Reject


class ArticleList(Sequence):
    """(shown path, file path) of each article, in path order, stored compactly: the relative
    paths front-coded in one byte buffer (each as the length it shares with the one before
    plus the rest, the whole path every 32nd entry so any entry decodes from a restart
    point). Paths in path order share most of their bytes (`source/_posts/金融/新浪财经/国内/`):
    36 bytes a file on make_corpus.py's mix of feeds, against ~75 for the paths themselves
    and 560 for a list of tuples. With `spool` (a folder), the buffer goes to a scratch file
    there as it grows, 1 MB at a time: memory then holds 8 bytes per 32 files (36 MB of
    paths at a million files were the largest thing a build held while reading)."""

    _RESTART = 32
    _SPOOL_AT = 2**20

    def __init__(self, root: str, spool: str | os.PathLike | None = None) -> None:
        self.root = root
        self._prefix = os.path.join(root, "")  # root and one separator
        self._blob = bytearray()  # the entries after the first `_spooled` bytes
        self._spooled = 0
        self._file = tempfile.TemporaryFile(dir=spool, prefix="paths-") if spool is not None else None
        self._restarts = array("Q")
        self._n = 0
        self._last = b""

    def append(self, rel: str) -> None:
        data = rel.encode("utf-8", "surrogateescape")
        shared = 0
        if self._n % self._RESTART == 0:
            self._restarts.append(self._spooled + len(self._blob))
        else:
            shared = _common_prefix(data, self._last)
        rest = len(data) - shared
        if shared < 0x80 and rest < 0x80:  # two one-byte varints: most paths
            self._blob += bytes((shared, rest))
        else:
            _put_varint(self._blob, shared)
            _put_varint(self._blob, rest)
        self._blob += data[shared:]
        self._last = data
        self._n += 1
        if self._file is not None and len(self._blob) >= self._SPOOL_AT:
            self._file.seek(self._spooled)
            self._file.write(self._blob)
            self._spooled += len(self._blob)
            self._blob = bytearray()

    def extend(self, prefix: str, names: list[str]) -> None:
        """append(prefix + name) for each of a folder's names, in order: the folder's prefix is
        encoded once, and each name compared with the one before it only."""
        if not names:
            return
        pre = prefix.encode("utf-8", "surrogateescape")
        self.append(prefix + names[0])
        last, blob, restart = names[0].encode("utf-8", "surrogateescape"), self._blob, self._RESTART
        for name in names[1:]:
            if self._n % restart == 0 or self._file is not None and len(blob) >= self._SPOOL_AT:
                self._last = pre + last
                self.append(prefix + name)  # a restart point, or a spill to the file: the general way
                blob, last = self._blob, name.encode("utf-8", "surrogateescape")
                continue
            data = name.encode("utf-8", "surrogateescape")
            n = min(len(data), len(last))
            x = int.from_bytes(data[:n], "big") ^ int.from_bytes(last[:n], "big")
            same = n - (x.bit_length() + 7) // 8
            shared, rest = len(pre) + same, len(data) - same
            if shared < 0x80 and rest < 0x80:
                blob += bytes((shared, rest))
            else:
                _put_varint(blob, shared)
                _put_varint(blob, rest)
            blob += data[same:]
            last = data
            self._n += 1
        self._last = pre + last

    def _bytes(self, start: int, stop: int) -> bytes:
        """Bytes start..stop-1 of the whole buffer, spooled or not."""
        out = b""
        if start < self._spooled:
            self._file.seek(start)
            out = self._file.read(min(stop, self._spooled) - start)
        return out + bytes(self._blob[max(0, start - self._spooled):max(0, stop - self._spooled)])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __len__(self) -> int:
        return self._n

    def _decode(self, start: int, stop: int) -> list[bytes]:
        """The relative paths of entries start..stop-1 as bytes, decoded from start's restart point."""
        return self.block(start, stop).paths()

    def block(self, start: int, stop: int) -> "PathBlock":
        """Entries start..stop-1 as a PathBlock: their stretch of the buffer, which a read task
        decodes itself (a few bytes a path to send, nothing decoded here)."""
        if start >= stop:
            return PathBlock(self._prefix, b"", 0, 0)
        k = start - start % self._RESTART
        first, last = k // self._RESTART, (stop - 1) // self._RESTART + 1
        end = self._restarts[last] if last < len(self._restarts) else self._spooled + len(self._blob)
        return PathBlock(self._prefix, self._bytes(self._restarts[first], end), start - k, stop - start)

    def _item(self, data: bytes) -> tuple[str, str]:
        return _item(self._prefix, data)

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step == 1:
                return list(map(self._item, self._decode(start, stop)))
            return [self[k] for k in range(start, stop, step)]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._item(self._decode(i, i + 1)[0])


@dataclass(frozen=True)
class PathBlock:
    """A run of an ArticleList's entries as its front-coded bytes: `blob` starts at a restart
    point, `skip` entries before the run's first one; `n` entries. What a read task is given
    for its files (a few bytes a path; the driver decodes none of them)."""

    prefix: str   # the source root and one separator
    blob: bytes
    skip: int
    n: int

    def __len__(self) -> int:
        return self.n

    def paths(self) -> list[bytes]:
        """The relative paths, as bytes."""
        out: list[bytes] = []
        blob, at, prev = self.blob, 0, b""
        for k in range(self.skip + self.n):
            shared = blob[at]  # two one-byte varints, for most paths
            if shared < 0x80:
                at += 1
            else:
                shared, at = _get_varint(blob, at)
            length = blob[at]
            if length < 0x80:
                at += 1
            else:
                length, at = _get_varint(blob, at)
            prev = prev[:shared] + blob[at:at + length]
            at += length
            if k >= self.skip:
                out.append(prev)
        return out

    def items(self) -> list[tuple[str, str]]:
        """(shown path, file path) of each entry."""
        return [_item(self.prefix, data) for data in self.paths()]


def _item(prefix: str, data: bytes) -> tuple[str, str]:
    """(shown path, file path) of a relative path's bytes."""
    try:
        rel = shown = data.decode("utf-8")
    except UnicodeDecodeError:  # a name that is not UTF-8: shown with escapes, opened by its bytes
        rel, shown = data.decode("utf-8", "surrogateescape"), data.decode("utf-8", "backslashreplace")
    return shown, prefix + rel


def _common_prefix(a: bytes, b: bytes) -> int:
    """The length of the longest common prefix: the two as big numbers XORed, so the first
    differing byte is found by C code (a byte-by-byte loop made 100 Python steps a path)."""
    n = min(len(a), len(b))
    x = int.from_bytes(a[:n], "big") ^ int.from_bytes(b[:n], "big")
    return n - (x.bit_length() + 7) // 8


def _put_varint(buf: bytearray, value: int) -> None:
    while value >= 0x80:
        buf.append((value & 0x7F) | 0x80)
        value >>= 7
    buf.append(value)


def _get_varint(buf: bytearray, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


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
    for a folder; a run of plain files between them as one (key, _FILES, their names). A folder of 400,000 files is held as their names alone (os.DirEntry objects,
    each with its full path, and a key each held ~450 bytes a file, 200 MB for that folder: the
    peak of a million-file build): plain files and folders sorted as they are, the rare rest
    (links, undecodable names, other types) with computed keys, the three merged as read."""
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
