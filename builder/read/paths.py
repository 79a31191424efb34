"""The article list: paths in path order, front-coded in a byte buffer (spooled to a file as it
grows), and the runs of it that read tasks are given (PathBlock)."""
from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass


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
