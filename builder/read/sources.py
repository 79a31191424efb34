"""Where the articles are: a local folder, or a folder on object storage read through fsspec.

A source given as a URL (`s3://bucket/archive`, `gs://...`, `hf://datasets/owner/name/dir`)
is listed once, in the order of its paths (the order a local folder is walked in), each
object with its size, so the size limit is checked before a byte is read; its files are
then read whole by the workers. Paths within it, and so ids and `source_path`, are what
they would be for the same files in a local folder. Object storage has no stat a later
build could trust: the cache knows its files by their bytes' sha256. Credentials and
endpoints are fsspec's (`AWS_*` variables, `FSSPEC_S3_ENDPOINT_URL` for an S3-compatible
store, `HF_TOKEN`).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator

from ..errors import ConfigError, SourceError

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")  # two letters at least: not a drive (C:\)

# The package fsspec needs for a protocol, for the message when it is missing.
_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}


def is_remote(source: str | os.PathLike) -> bool:
    """A URL of a file system other than this machine's (file:// is a local path)."""
    m = _SCHEME.match(str(source)) if isinstance(source, str) else None
    return m is not None and m.group(1).lower() != "file"


def root(source: str) -> str:
    """The URL of a remote source in one spelling (no trailing '/'), for messages and cache keys."""
    return source.rstrip("/")


def _fs(url: str):
    """(file system, path within it) of a URL; ConfigError if its fsspec package is missing."""
    import fsspec.core

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:  # fsspec: "Protocol not known" / "Install s3fs to access S3"
        scheme = _SCHEME.match(url).group(1).lower()
        package = _PACKAGES.get(scheme)
        fix = "pip install 'corpus-builder[ray]'" if package == "s3fs" else (
            f"pip install {package}" if package else "use a local folder or s3://, gs://, hf://")
        raise ConfigError(f"cannot read {url!r}: {str(exc).splitlines()[0]}; {fix}") from None


def check_folder(source: str) -> None:
    """SourceError unless the remote `source` is a folder (a prefix holding objects)."""
    fs, path = _fs(root(source))
    try:
        ok = fs.isdir(path)
    except OSError as exc:
        raise SourceError(f"source folder {source!r} cannot be listed: {exc}") from None
    if not ok:
        raise SourceError(f"source folder {source!r} does not exist or is not a folder")


def listing(source: str) -> Iterator[tuple[str, int]]:
    """(path within `source`, size in bytes) of every file under the remote `source`, in path
    order: as a sorted walk of a local folder meets them, whatever order the store lists in."""
    fs, base = _fs(root(source))
    base = base.rstrip("/")
    try:
        found = fs.find(base, detail=True)
    except OSError as exc:
        raise SourceError(f"source folder {source!r} cannot be listed: {exc}") from None
    files = []
    for path, info in found.items():
        path = path.rstrip("/")
        if info.get("type") != "file" or not path.startswith(base + "/"):
            continue  # a folder marker, or the root itself
        files.append((path[len(base) + 1:], int(info.get("size") or 0)))
    files.sort()
    return iter(files)


def read_bytes(url: str, max_bytes: int, size: int | None = None) -> tuple[int, bytes | None]:
    """(size, bytes) of the remote file `url`; no bytes (None) if it is over `max_bytes`,
    decided from `size` (the listing's) when given, else from the store's metadata, before
    anything is read. A file that is gone or forbidden raises OSError (the file's reject); a
    store that cannot be reached raises SourceError, which stops the build: a network
    error must not make a dataset with rows missing."""
    fs, path = _fs(url)
    try:
        if size is None:
            size = int(fs.size(path))
        if size > max_bytes:
            return size, None
        data = fs.cat_file(path)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as exc:  # noqa: BLE001: fsspec back ends raise their own types
        raise SourceError(f"cannot read {url!r} ({type(exc).__name__}: {str(exc)[:200]}); the build stopped "
                          "and the previous output is unchanged") from None
    if len(data) > max_bytes:  # grown since it was listed
        return len(data), None
    return len(data), data
