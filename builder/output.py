"""Atomic replacement of an output folder.

The new folder is written beside the target (same file system, so renames are atomic) and
swapped in at the end: with renameat2(RENAME_EXCHANGE) on Linux the swap is one atomic step;
elsewhere two renames, with the old folder restored on the next run if a crash fell between
them. A failed build removes its temporary folder and leaves the target as it was.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import OutputError

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _libc():
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return lib if hasattr(lib, "renameat2") else None
    except OSError:
        return None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths; False when the platform cannot."""
    lib = _libc()
    if lib is None:
        return False
    rc = lib.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def recover(target: Path) -> None:
    """Undo a swap that a crash cut between its two renames: put the old folder back."""
    if target.exists():
        return
    olds = sorted(target.parent.glob(f".{target.name}.old-*"))
    if olds:
        olds[-1].rename(target)


def check_target(target: str | os.PathLike) -> Path:
    """The absolute target, once its parent exists and is writable and the target is a folder
    or absent; OutputError naming the path otherwise."""
    target = Path(target).absolute()
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {str(parent)!r}: {exc.strerror}") from None
    if target.exists() and not target.is_dir():
        raise OutputError(f"output {str(target)!r} exists and is not a folder")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"output folder {str(parent)!r} is not writable")
    return target


@contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces `target` in one step."""
    target = check_target(target)
    parent = target.parent
    recover(target)
    # Left by a build that was killed: temporary folders, and old folders whose removal was cut
    # short (kept, a later recover() could restore one of those rather than the latest).
    for stale in [*parent.glob(f".{target.name}.tmp-*"), *parent.glob(f".{target.name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    tmp = parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        if target.exists():
            if _exchange(tmp, target):
                shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder
            else:
                old = parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
        _fsync_dir(parent)  # the swap itself
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fsync_tree(folder: Path) -> None:
    """Flush the new files to disk before they become the output: a power cut after the swap
    must not leave a folder of empty files, nor one missing its files (a file's name is in its
    folder, which is flushed too)."""
    for dirpath, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(dirpath)


def _fsync_dir(path: str | os.PathLike) -> None:
    """Best effort: some file systems cannot flush a folder, and the files are flushed already."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
