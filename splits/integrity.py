"""Whether a published folder's shards are the files it lists, before anyone trusts their rows.

A dataset carries two manifests: croissant.json lists every shard with its sha256, and
splits.json counts the rows of each split. `damaged_file` names the first shard that is
missing, unlisted, not readable Parquet or not the bytes croissant.json lists;
`miscounted_split` the first split whose shards hold another number of rows than
splits.json counts. A folder without croissant.json (downloaded Parquet, say) is checked
for readable Parquet only. `verify_published` checks the files first, then recomputes the
splits. Standard library and pyarrow (imported when a shard is read).
"""
from __future__ import annotations

import hashlib
import json
from os import PathLike
from pathlib import Path

from .manifest import manifest_spec, verify
from .published import (MANIFEST_NAME, SHARD_NAME, STORED_COLUMNS, read_manifest, read_published,
                        shard_paths)

CROISSANT_NAME = "croissant.json"
FIX = "rebuild the dataset or download it again"


def file_sha256(path: str | PathLike) -> str:
    """sha256 (hex) of the file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def parquet_problem(path: str | PathLike) -> str | None:
    """Why the file is not readable Parquet (every row group decoded, every string valid
    UTF-8), or None when it is."""
    import pyarrow as pa  # heavy import: only where Parquet is read
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as shard:
            for batch in shard.iter_batches():
                batch.validate(full=True)
    except (OSError, pa.ArrowException) as e:
        return (str(e).splitlines() or [type(e).__name__])[0]
    return None


def listed_files(out: str | PathLike) -> dict[str, str | None] | None:
    """The local files croissant.json lists ('/'-separated path within OUT -> sha256, None
    when it gives none), or None when OUT has no croissant.json. Raises ValueError when it
    is not valid JSON."""
    path = Path(out) / CROISSANT_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    entries = doc.get("distribution", []) if isinstance(doc, dict) else []
    files = {}
    for entry in entries:
        if isinstance(entry, dict) and entry.get("@type") == "cr:FileObject":
            url = str(entry.get("contentUrl") or entry.get("@id") or "")
            if "://" in url:  # a release's download link: the file within OUT is its @id
                url = str(entry.get("@id") or "")
            if url and "://" not in url and ".." not in url.split("/") and not url.startswith("/"):
                files[url] = entry.get("sha256")  # a file within OUT (not a download link)
    return files


def damaged_file(out: str | PathLike, *, shown: str | None = None) -> str | None:
    """The first shard of OUT that is missing, unlisted, not readable Parquet or not the bytes
    croissant.json lists, as one line naming it and the fix; None when every shard is sound.

    The shards are OUT/data/*.parquet (and OUT/data/<subset>/*.parquet) named {split}-{i:05d}-of-{n:05d}.parquet, and every file
    croissant.json lists. A shard with the listed sha256 is not decoded (the build wrote
    valid Parquet); any other is, so that a damaged one is named as unreadable when it is.
    `shown` is how OUT is named in the message (default: OUT).
    """
    out = Path(out)
    shown = (shown or str(out)).rstrip("/")
    try:
        listed = listed_files(out)
    except (OSError, ValueError) as e:
        return f"{shown + '/' + CROISSANT_NAME!r} is damaged: it cannot be read as JSON ({e}): {FIX}"
    present = {p.relative_to(out).as_posix() for p in shard_paths(out)}
    if listed is not None:
        for rel in sorted(set(listed) - present):
            if not (out / rel).is_file():
                return f"{shown + '/' + rel!r} is missing, though {CROISSANT_NAME} lists it: {FIX}"
        unlisted = sorted(present - set(listed))
        if unlisted:
            return (f"{shown + '/' + unlisted[0]!r} is not listed in {CROISSANT_NAME}, so it is not part of the "
                    "dataset: delete it, or rebuild the dataset")
    shards = {rel for rel in present if SHARD_NAME.match(rel.rsplit("/", 1)[-1])}
    for rel in sorted(shards | set(listed or ())):
        expected = (listed or {}).get(rel)
        actual = file_sha256(out / rel) if expected is not None else None
        if expected is not None and actual == expected:
            continue  # the bytes the build wrote: no need to decode them
        if rel.endswith(".parquet") and (problem := parquet_problem(out / rel)) is not None:
            return f"{shown + '/' + rel!r} is damaged: it is not readable Parquet ({problem}): {FIX}"
        if actual is not None:
            return (f"{shown + '/' + rel!r} is damaged: its sha256 is {actual[:12]}..., {CROISSANT_NAME} lists "
                    f"{expected[:12]}...: {FIX}")
    return None


def miscounted_split(out: str | PathLike, *, shown: str | None = None) -> str | None:
    """The first split whose shards (OUT/data/{split}-*.parquet) hold another number of rows
    than splits.json counts, as one line naming them and the fix; None when every count
    matches or OUT has no readable splits.json. Reads the shards' footers only: run it
    after `damaged_file`."""
    import pyarrow.parquet as pq  # heavy import: only where Parquet is read

    out = Path(out)
    shown = (shown or str(out)).rstrip("/")
    try:
        counts = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8")).get("counts")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(counts, dict):
        return None
    rows: dict[str, int] = dict.fromkeys(counts, 0)
    for path in shard_paths(out):
        match = SHARD_NAME.match(path.name)
        if match:
            rows[match["split"]] = rows.get(match["split"], 0) + pq.ParquetFile(path).metadata.num_rows
    for split, n in rows.items():
        expected = counts.get(split, 0)
        if n != expected:
            where = "/data/*/" if any(p.parent.name != "data" for p in shard_paths(out)) else "/data/"
            return (f"the {split!r} shards ({shown + where + split + '-*.parquet'!r}) hold {n:,} rows, "
                    f"{MANIFEST_NAME} counts {expected!r}: {FIX}")
    return None


def find_damage(out: str | PathLike, *, shown: str | None = None) -> str | None:
    """The first way OUT's shards differ from its manifests (`damaged_file`, then
    `miscounted_split`), as one line naming the file and the fix; None when they agree."""
    return damaged_file(out, shown=shown) or miscounted_split(out, shown=shown)


def verify_published(out: str | PathLike) -> list[str]:
    """Check a published folder's shards against the files its croissant.json lists (one line
    naming the first damaged, missing or extra shard), then recompute its splits from its
    manifest; differences, empty when nothing moved. Split counts are compared by the
    recomputation, which names the rows that moved."""
    manifest = read_manifest(out)
    damage = damaged_file(out)
    if damage is not None:
        return [damage]  # rows read from a damaged shard cannot be trusted: nothing to recompute
    spec = manifest_spec(manifest)
    wanted = ["id", spec.group, spec.stratify, spec.time_column if spec.strategy == "time" else None, *STORED_COLUMNS]
    columns, problems = read_published(out, [name for name in dict.fromkeys(wanted) if name])
    return problems + verify(manifest, columns)
