"""A published output folder: OUT/splits.json (the manifest) and OUT/data/{split}-{i:05d}-of-{n:05d}.parquet
(a subset build's: OUT/data/{subset}/{split}-..., every subset with its own shards of each split).

pyarrow is imported inside the functions that read Parquet, so `splits` imports without it.
"""
from __future__ import annotations

import json
import re
from os import PathLike
from pathlib import Path

from .errors import PublishedDataError

MANIFEST_NAME = "splits.json"
SHARD_NAME = re.compile(r"^(?P<split>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.parquet$")
# Read when present: the stored outcome of the split, which verify compares row by row.
STORED_COLUMNS = ("split_group", "split_bucket")


def shard_paths(out: str | PathLike) -> list[Path]:
    """The Parquet files of OUT: OUT/data/*.parquet and, in a subset build, OUT/data/*/*.parquet,
    sorted by path."""
    data = Path(out) / "data"
    return sorted([*data.glob("*.parquet"), *data.glob("*/*.parquet")])


def write_manifest(out: str | PathLike, manifest: dict) -> Path:
    """Write `manifest` to OUT/splits.json and return the path."""
    path = Path(out) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_manifest(out: str | PathLike) -> dict:
    """The manifest in OUT/splits.json."""
    path = Path(out) / MANIFEST_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PublishedDataError(f"no manifest at {str(path)!r}; is {str(out)!r} a built output folder?") from None
    except json.JSONDecodeError as e:
        raise PublishedDataError(f"manifest {str(path)!r} is not valid JSON: {e}") from None


def read_published(out: str | PathLike, columns: list[str]) -> tuple[dict[str, list], list[str]]:
    """The named columns (those the shards have) of every row under OUT/data, plus a "split"
    column from each shard's file name; and a list of problems with the set of shards."""
    import pyarrow.parquet as pq  # heavy import: only where Parquet is read

    data = Path(out) / "data"
    shards = shard_paths(out)
    if not shards:
        raise PublishedDataError(f"no Parquet shards in {str(data)!r}; expected data/{{split}}-00000-of-NNNNN.parquet")
    problems, seen = [], {}
    result: dict[str, list] = {"split": []}
    for path in shards:
        match = SHARD_NAME.match(path.name)
        if match is None:
            raise PublishedDataError(f"shard {str(path)!r} is not named {{split}}-{{i:05d}}-of-{{n:05d}}.parquet")
        where = path.parent.relative_to(data).as_posix()  # "." or the subset's folder
        seen.setdefault((where, match["split"], int(match["total"])), set()).add(int(match["index"]))
        shard = pq.ParquetFile(path)
        present = [name for name in columns if name in shard.schema_arrow.names]
        table = shard.read(columns=present)
        for name in present:
            result.setdefault(name, []).extend(table.column(name).to_pylist())
        result["split"].extend([match["split"]] * table.num_rows)
    for (where, split, total), indices in sorted(seen.items()):
        missing = sorted(set(range(total)) - indices)
        if missing:
            subset = f" of subset {where!r}" if where != "." else ""
            problems.append(f"split {split!r}{subset}: shard(s) {missing} of {total} are missing")
    lengths = {name: len(values) for name, values in result.items()}
    if len(set(lengths.values())) > 1:
        raise PublishedDataError(
            f"the shards in {str(data)!r} do not all have the columns {sorted(lengths)}: row counts {lengths}"
        )
    return result, problems
