"""Output folders: which may be replaced, one writer at a time, and an atomic swap.

- A folder is replaced only when it is absent, empty, or a dataset this tool wrote, known by
  the MARKER file every dataset folder gets; anything else (a person's notes, code, a `.git`,
  the current folder) is refused before anything is read or written.
- One build (or split) writes a given output at a time: `output_lock` holds an flock on a file
  beside it for the whole run. Scratch folders beside the output are removed only under that
  lock, so a live build's are never taken for a killed one's.
- The new folder is written beside the target (same file system, so renames are atomic) and
  swapped in at the end: with renameat2(RENAME_EXCHANGE) on Linux the swap is one atomic step;
  elsewhere two renames, with the old folder restored on the next run if a crash fell between
  them. A failed build removes its temporary folder and leaves the target as it was.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import BusyError, CorpusError, OutputError, StorageError

# Written into every dataset folder this tool writes: the only sign that a folder may be replaced.
# A hidden file, so it is not part of a release (publish skips hidden files).
MARKER = ".corpus-builder"
_MARKER_TEXT = "This folder was written by corpus-builder; the next build or split into it replaces it whole.\n"

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
    """The absolute target, once its parent exists and takes new files and the target may be
    replaced (absent, empty, or a dataset this tool wrote); OutputError naming the path otherwise."""
    target = Path(target).absolute()
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {str(parent)!r}: {exc.strerror}; choose another -o") from None
    if target.exists() and not target.is_dir():
        raise OutputError(f"output {str(target)!r} exists and is not a folder; choose another -o")
    try:  # access() says yes to root on read-only file systems such as /proc: try it
        os.rmdir(tempfile.mkdtemp(prefix=f".{target.name}.probe-", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write in {str(parent)!r} ({exc.strerror}); choose another -o") from None
    check_replaceable(target)
    return target


def check_replaceable(target: Path) -> None:
    """Refuse to replace a folder that holds anything but a dataset this tool wrote."""
    try:
        names = sorted(os.listdir(target))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot read output folder {str(target)!r} ({exc.strerror}); choose another -o") from None
    if names and not (target / MARKER).is_file():
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise OutputError(f"output folder {str(target)!r} holds files this tool did not write ({shown}); a build "
                          "replaces its output whole, so it writes only into an empty folder or a dataset it "
                          "wrote: choose another -o (or empty that folder yourself)")


@contextmanager
def output_lock(target: str | os.PathLike, doing: str = "build") -> Iterator[Path]:
    """Hold the output's lock for the whole run, after checking the target; BusyError naming the
    running build when another holds it. The lock is an flock on `.NAME.lock` beside the output,
    removed when released (a lock taken on a file another run had just removed is taken again)."""
    target = check_target(target)
    lock = target.parent / f".{target.name}.lock"
    fh = _locked(lock, target)
    try:
        fh.truncate(0)
        fh.write(f"a corpus {doing} (pid {os.getpid()})\n")
        fh.flush()
        yield target
    finally:
        lock.unlink(missing_ok=True)
        fh.close()


def _locked(lock: Path, target: Path):
    try:
        fh = try_lock(lock, "a+")
    except OSError as exc:
        raise OutputError(f"cannot create the lock file {str(lock)!r} ({exc.strerror}); choose another -o") from None
    if fh is None:
        try:
            holder = lock.read_text(encoding="utf-8").strip()
        except OSError:
            holder = ""
        raise BusyError(f"output {str(target)!r} is being written by {holder or 'another process'}; wait for it to "
                        "finish, or choose another -o")
    return fh


def try_lock(path: Path, mode: str = "a+b"):
    """An exclusive flock on the file at `path`, held for as long as the returned file is open;
    None if another process holds it. Where there is no fcntl (Windows) every caller gets it.
    The file may be deleted by its holder as it releases it: a lock taken on a file no longer
    at `path` is taken again on the one there. Raises OSError when the file cannot be opened."""
    encoding = None if "b" in mode else "utf-8"
    try:
        import fcntl
    except ImportError:
        return open(path, mode, encoding=encoding)
    while True:
        fh = open(path, mode, encoding=encoding)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return None
        try:
            here = os.stat(path)
        except FileNotFoundError:
            here = None
        mine = os.fstat(fh.fileno())
        if here is not None and (here.st_ino, here.st_dev) == (mine.st_ino, mine.st_dev):
            return fh
        fh.close()  # its holder deleted it as we took it: take the one at `path` now


@contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder (holding the MARKER); on success it replaces `target` in
    one step. The caller holds `output_lock(target)`: stale scratch folders are removed here."""
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
        (tmp / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
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


@contextmanager
def storage_errors(target: str | os.PathLike) -> Iterator[None]:
    """Turn what the machine refuses (a full disk, a read-only or vanished folder, a permission
    error) into one StorageError line naming the path and the cause."""
    try:
        yield
    except CorpusError:
        raise
    except OSError as exc:
        where = f" (at {str(exc.filename)!r})" if exc.filename else ""
        cause = exc.strerror or str(exc).split("Detail:")[-1].strip() or type(exc).__name__
        raise StorageError(f"cannot finish writing {str(target)!r}: {cause}{where}; the previous output is "
                           "unchanged: free some space or fix the folder, then build again") from None


def check_apart(src: Path, out: Path) -> None:
    """The output is swapped in whole and its old folder deleted: an output that is or holds the
    source would delete the articles (`-o data` for `data/articles`), and one inside the source
    would be read as articles by the next build (its README.md becomes a row)."""
    s, o = src.resolve(), out.resolve()
    if o == s or s.is_relative_to(o):
        raise OutputError(f"output {str(out)!r} is or holds the source folder {str(src)!r}: the build "
                          "replaces the output whole, which would delete the articles; choose another folder")
    if o.is_relative_to(s):
        raise OutputError(f"output {str(out)!r} is inside the source folder {str(src)!r}: the next build "
                          "would read the dataset as articles; choose a folder outside it")
