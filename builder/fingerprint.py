"""What shapes a row besides the settings: our code, the libraries' versions and the rule files.

A row is a pure function of (the file's path and bytes, the settings, the rule files, the code
that reads it). The settings have their own fingerprint (`BuildSettings.fingerprint`); this
module gives the other two:

- `code_fingerprint()`: the tool's version, a digest of our own source files (`builder/**/*.py`
  and `splits/**/*.py`: an editable install, after a `git pull`, computes rows another way
  while its version stays "0.1.0"), the Python version and the versions of the libraries whose
  output a row keeps (LIBRARIES). Computed once per process; small and JSON-able, so a build
  summary can record it.
- `rules_digest(rules_dirs)`: the name and bytes of every rule file `rules.load_rules` reads
  for these folders, in its order (the settings hold only the folders' paths).

The build cache keys on both (see `builder.cache.cache_key`).
"""
from __future__ import annotations

import hashlib
import os
import platform
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterable

from . import __version__
from .transform import rules

# The libraries whose output becomes part of a row (Arrow's encoding, the HTML and Markdown
# parsers, the front-matter readers, encoding detection, MinHash's arithmetic).
LIBRARIES = ("pyarrow", "lxml", "cmarkgfm", "PyYAML", "python-frontmatter", "beautifulsoup4", "charset-normalizer",
             "numpy")
_HERE = Path(__file__).resolve().parent
PACKAGE_ROOTS = (_HERE, _HERE.parent / "splits")  # installed side by side (pyproject's packages.find)


def code_fingerprint() -> dict:
    """The code that computes rows, as {"tool", "source", "python", "libraries": {name: version}}:
    any change of it may change a row. Computed once per process (~30 ms); a fresh copy each call."""
    code = _code_fingerprint()
    return {**code, "libraries": dict(code["libraries"])}


@lru_cache(maxsize=1)
def _code_fingerprint() -> dict:
    return {"tool": __version__, "source": source_digest(), "python": platform.python_version(),
            "libraries": library_versions()}


def source_digest(roots: Iterable[Path] = PACKAGE_ROOTS) -> str:
    """sha256 over the sorted relative paths and bytes of the `*.py` files under `roots` (a
    root's name leads its paths; a missing root counts as empty). Our own roots are read once
    per process (~40 files, a few ms)."""
    roots = tuple(Path(r) for r in roots)
    return _own_source_digest() if roots == PACKAGE_ROOTS else _digest_of(roots)


@lru_cache(maxsize=1)
def _own_source_digest() -> str:
    return _digest_of(PACKAGE_ROOTS)


def _digest_of(roots: tuple[Path, ...]) -> str:
    files = sorted((f"{root.name}/{p.relative_to(root).as_posix()}", p)
                   for root in roots for p in root.rglob("*.py") if p.is_file())
    h = hashlib.sha256()
    for name, path in files:
        _add(h, name, path.read_bytes())
    return h.hexdigest()


def library_versions(names: Iterable[str] = LIBRARIES) -> dict[str, str]:
    """Each library's installed version ("absent" if it is not installed)."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def rules_digest(rules_dirs: Iterable[str] = ()) -> str:
    """sha256 over the name and bytes of each rule file `rules.load_rules(rules_dirs)` reads, in
    its order: the built-in folder, then each of `rules_dirs`, each in name order. Raises
    nothing: a missing folder or an unreadable file is counted as such (the build reports it).

    It also drops the rules this process parsed before (`load_rules` keeps them for the life of
    a process), so the rows made after this call are made from the bytes it digested."""
    h = hashlib.sha256()
    for folder in (rules.BUILTIN_DIR, *map(Path, rules_dirs)):
        if not folder.is_dir():
            _add(h, "missing folder", os.fsencode(str(folder)))
            continue
        _add(h, "folder", b"")
        for path in sorted(folder.glob("*.toml")):
            try:
                data = path.read_bytes()
            except OSError as exc:
                data = f"unreadable: {exc.strerror}".encode()
            _add(h, path.name, data)
    rules.load_rules.cache_clear()
    return h.hexdigest()


def _add(h, name: str, data: bytes) -> None:
    """One (name, bytes) record, length-prefixed so no two sequences of records hash alike."""
    key = name.encode("utf-8", "surrogateescape")
    h.update(len(key).to_bytes(8, "big") + key + len(data).to_bytes(8, "big"))
    h.update(data)


# Our source is digested when this module is imported, with the reader (builder.pipeline imports
# the cache, and so this): the digest is of the code the process runs, not of files edited under
# it later. (A process that reloads its modules is not seen: restart it.)
_own_source_digest()


def rows_fingerprint(settings_fingerprint: str, rules_dirs: Iterable[str] = ()) -> str:
    """A digest of all that makes rows from a file's bytes, but not where the files are: the
    settings, the rule files' bytes and the code. Equal rows follow from equal files and this."""
    import json

    what = json.dumps({"settings": settings_fingerprint, "rules": rules_digest(rules_dirs),
                       "code": code_fingerprint()}, sort_keys=True)
    return hashlib.sha256(what.encode()).hexdigest()
