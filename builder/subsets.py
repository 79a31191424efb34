"""Subsets (`--subset-by COLUMN`): one Hub config per value of a column, its shards under
data/<name>/, plus `default` over every row.

A value never chooses a path by itself: its folder (and config) name keeps the characters
[a-z0-9_-] (a first one [a-z0-9]: `datasets` skips `__x` folders) and writes every other
byte of its UTF-8 as `~` and two hex digits, so the name
is a plain relative folder name (no '/', '.', '..', upper case or glob character) on every
file system, and two values never share a name (case-insensitive file systems included).
A null value is `~null`, an empty one `~empty`; a value spelt like a reserved name
(`default`, the config over everything; Windows' `con`, `nul`, ...) has its first letter
encoded; a name past 96 characters is cut and ends with `~~` and 16 hex digits of the value's
sha256. The same value always gives the same name; build_summary.json and the card map each
name to its value.
"""
from __future__ import annotations

import hashlib
import re

import pyarrow as pa


DEFAULT_CONFIG = "default"
NULL_NAME = "~null"
EMPTY_NAME = "~empty"
MAX_NAME = 96
_PLAIN = re.compile(r"[a-z0-9_-]")
_RESERVED = frozenset({DEFAULT_CONFIG, "con", "prn", "aux", "nul",
                       *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})
# A summary of a subset build: build_summary.json["subsets"] = {"column": ..., "subsets": [...]}.
SUMMARY_KEY = "subsets"


def subset_name(value: str | None) -> str:
    """The folder and config name of a value of the subset column (see the module's doc)."""
    if value is None:
        return NULL_NAME
    if value == "":
        return EMPTY_NAME
    out = []
    for k, ch in enumerate(value):
        if _PLAIN.fullmatch(ch) and not (k == 0 and (value in _RESERVED or ch in "_-")):
            out.append(ch)
        else:
            out.append("".join(f"~{b:02x}" for b in ch.encode("utf-8")))
    name = "".join(out)
    if len(name) > MAX_NAME:
        head = name[:MAX_NAME - 18]
        cut = head.rfind("~", len(head) - 2)  # no escape cut in half
        head = head[:cut] if cut >= 0 else head
        name = f"{head}~~{hashlib.sha256(value.encode('utf-8')).hexdigest()[:16]}"
    return name


def check_subset_column(column: str | None, schema: pa.Schema) -> None:
    """--subset-by names a column of `schema` with one value per row (a list column would put
    a row in several subsets)."""
    if column is not None:
        from .checks import check_one_value_column  # checks imports the settings; this module stays light

        check_one_value_column("--subset-by", column, schema, "a subset needs one value per row, such as language "
                               "or feed")


def subsets_summary(column: str, counts: dict[str | None, dict[str, int]], split_names: list[str]) -> dict:
    """build_summary.json's record of a subset build: the column, and per subset (by name) its
    value and rows per split, in name order."""
    by_name = sorted((subset_name(v), v, c) for v, c in counts.items())
    return {"column": column,
            "subsets": [{"name": name, "value": value, "rows": {s: c.get(s, 0) for s in split_names}}
                        for name, value, c in by_name]}


def subsets_of(summary: dict | None) -> tuple[str, list[dict]] | None:
    """(column, [{name, value, rows}]) of a subset build's summary; None for a flat build."""
    record = (summary or {}).get(SUMMARY_KEY)
    if not isinstance(record, dict) or not isinstance(record.get("subsets"), list):
        return None
    return str(record.get("column")), [s for s in record["subsets"] if isinstance(s, dict) and "name" in s]
