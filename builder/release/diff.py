"""The diff between two releases' rows (by id, from their Parquet shards), for the bump rule and the changelog.

Parquet is read through what the caller hands over (a path, or a function that opens a file
object, e.g. a ranged reader on the Hub), and only the columns the diff needs are read.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Mapping, Union

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import VersionError

# A Parquet file to read: a path, or a function returning a fresh readable, seekable file object.
ParquetSource = Union[str, os.PathLike, Callable[[], BinaryIO]]

# data/{split}-... or, in a subset build (--subset-by), data/{subset}/{split}-...
_SHARD = re.compile(r"^data/(?:[^/]+/)?(?P<split>[^/]+?)-\d{5}-of-\d{5}\.parquet$")
KEY = "id"
# Split bookkeeping, derived from the split spec: what matters of it is reported as moves, not
# as changed rows (a new salt would otherwise "change" every row).
_NOT_COMPARED = {"split_group", "split_bucket"}


@dataclass
class SchemaChange:
    added: list[tuple[str, str]] = field(default_factory=list)  # (column, type)
    removed: list[tuple[str, str]] = field(default_factory=list)
    retyped: list[tuple[str, str, str]] = field(default_factory=list)  # (column, old type, new type)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.retyped)


@dataclass
class ReleaseDiff:
    """What changed between two releases' rows, by id."""

    rows_before: dict[str, int]  # split -> rows
    rows_after: dict[str, int]
    added: list[str] = field(default_factory=list)  # ids, sorted
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    changed_columns: dict[str, int] = field(default_factory=dict)  # column -> rows whose value changed
    moved: list[tuple[str, str, str]] = field(default_factory=list)  # (id, old split, new split)
    schema: SchemaChange = field(default_factory=SchemaChange)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved) and self.schema.empty

    @property
    def breaking(self) -> bool:
        return bool(self.moved or self.schema.removed or self.schema.retyped)

    def breaking_reasons(self) -> list[str]:
        reasons = []
        if self.moved:
            rid, old, new = self.moved[0]
            reasons.append(f"moves {len(self.moved):,} existing row{'s' * (len(self.moved) != 1)} to another split "
                           f"(e.g. id {rid} from {old} to {new})")
        if self.schema.removed:
            reasons.append("removes the column" + "s" * (len(self.schema.removed) > 1) + " "
                           + ", ".join(name for name, _ in self.schema.removed))
        if self.schema.retyped:
            reasons.append("changes the type of " + ", ".join(f"{n} ({a} -> {b})" for n, a, b in self.schema.retyped))
        return reasons


def split_of(path: str) -> str | None:
    """The split a dataset file holds (`data/{split}-00000-of-00001.parquet`, or a subset's
    `data/{subset}/{split}-...`), or None."""
    m = _SHARD.match(path)
    return m.group("split") if m else None


def diff_releases(old: Mapping[str, ParquetSource], new: Mapping[str, ParquetSource]) -> ReleaseDiff:
    """The diff between two releases, each given as {path in the dataset: Parquet source} (only
    `data/{split}-*.parquet` paths count). Rows are matched by id; a row changed when a compared
    column differs (the text through content_sha256; not the split bookkeeping columns).
    Column-wise: both releases' compared columns are held in memory, the text never is."""
    old_schema, new_schema = _schema(old), _schema(new)
    schema = _schema_change(old_schema, new_schema)
    compared = [name for name in new_schema.names
                if name in old_schema.names and name != KEY and name not in _NOT_COMPARED
                and _plain(old_schema.field(name).type) == _plain(new_schema.field(name).type)]
    if "content_sha256" in compared and "text" in compared:
        compared.remove("text")  # the hash stands for it: no need to read the largest column
    before, after = _read_side(old, compared), _read_side(new, compared)
    diff = ReleaseDiff(rows_before=_counts(before), rows_after=_counts(after), schema=schema)
    if before is None or after is None:
        diff.added = sorted(after.column(KEY).to_pylist()) if after is not None else []
        diff.removed = sorted(before.column(KEY).to_pylist()) if before is not None else []
        return diff
    old_ids, new_ids = before.column(KEY), after.column(KEY)
    in_old = pc.is_in(new_ids, value_set=old_ids)
    in_new = pc.is_in(old_ids, value_set=new_ids)
    diff.added = after.filter(pc.invert(in_old)).column(KEY).to_pylist()
    diff.removed = before.filter(pc.invert(in_new)).column(KEY).to_pylist()
    # Both sides sorted by id and cut to the common ids: row i is the same id on both sides.
    a, b = before.filter(in_new).combine_chunks(), after.filter(in_old).combine_chunks()
    ids = a.column(KEY)
    moved = pc.not_equal(a.column("_split"), b.column("_split"))
    diff.moved = list(zip(ids.filter(moved).to_pylist(), a.column("_split").filter(moved).to_pylist(),
                          b.column("_split").filter(moved).to_pylist()))
    any_change = None
    for name in compared:
        differs = _differs(a.column(name), b.column(name))
        n = pc.sum(differs).as_py() or 0
        if n:
            diff.changed_columns["text" if name == "content_sha256" else name] = n
            any_change = differs if any_change is None else pc.or_(any_change, differs)
    diff.changed = ids.filter(any_change).to_pylist() if any_change is not None else []
    return diff


def _open(source: ParquetSource):
    return source() if callable(source) else open(source, "rb")


def _shards(files: Mapping[str, ParquetSource]) -> list[tuple[str, str, ParquetSource]]:
    out = [(path, split_of(path), src) for path, src in sorted(files.items())]
    return [(path, split, src) for path, split, src in out if split is not None]


def _schema(files: Mapping[str, ParquetSource]) -> pa.Schema:
    """The release's row schema: its first shard's (every shard of a release shares it)."""
    shards = _shards(files)
    if not shards:
        return pa.schema([])
    with _open(shards[0][2]) as fh:
        return pq.ParquetFile(fh).schema_arrow.remove_metadata()


def _schema_change(old: pa.Schema, new: pa.Schema) -> SchemaChange:
    change = SchemaChange()
    if not old.names or not new.names:
        return change  # no rows on one side: nothing to compare a schema with
    for f in new:
        if f.name not in old.names:
            change.added.append((f.name, str(_plain(f.type))))
        elif _plain(old.field(f.name).type) != _plain(f.type):
            change.retyped.append((f.name, str(_plain(old.field(f.name).type)), str(_plain(f.type))))
    change.removed = [(f.name, str(_plain(f.type))) for f in old if f.name not in new.names]
    return change


def _plain(typ: pa.DataType) -> pa.DataType:
    """The type without the name of its list items, which Parquet writers spell differently
    ("item", "element") for the same column type."""
    if pa.types.is_list(typ):
        return pa.list_(_plain(typ.value_type))
    if pa.types.is_large_list(typ):
        return pa.large_list(_plain(typ.value_type))
    if pa.types.is_struct(typ):
        return pa.struct([pa.field(f.name, _plain(f.type), f.nullable) for f in typ])
    return typ


def _read_side(files: Mapping[str, ParquetSource], compared: list[str]) -> pa.Table | None:
    """id, the compared columns and `_split` of every row of a release, sorted by id."""
    tables = []
    for path, split, src in _shards(files):
        with _open(src) as fh:
            pf = pq.ParquetFile(fh)
            names = [KEY] + [c for c in compared if c in pf.schema_arrow.names]
            table = pf.read(columns=names).replace_schema_metadata(None)
        tables.append(table.append_column("_split", pa.array([split] * table.num_rows, pa.string())))
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="default")
    if pc.count_distinct(table.column(KEY)).as_py() != table.num_rows:
        raise VersionError("a release holds the same id twice: ids must be unique across its splits")
    return table.sort_by(KEY)


_SPLIT_ORDER = ("train", "validation", "test")


def _counts(table: pa.Table | None) -> dict[str, int]:
    """Rows per split, train, validation and test first (the order people read them in)."""
    if table is None:
        return {}
    counts = {c["values"]: c["counts"] for c in pc.value_counts(table.column("_split")).to_pylist()}
    order = sorted(counts, key=lambda s: (_SPLIT_ORDER.index(s) if s in _SPLIT_ORDER else len(_SPLIT_ORDER), s))
    return {name: counts[name] for name in order}


def _differs(a: pa.ChunkedArray, b: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Row-wise "a != b", with null equal to null only."""
    typ = a.type
    if (pa.types.is_list(typ) or pa.types.is_large_list(typ)) and \
            (pa.types.is_string(typ.value_type) or pa.types.is_large_string(typ.value_type)):
        # Lists of strings compare as their joined text plus their length ([] vs [""]); a list
        # holding a null joins to null, and such rows are compared in Python.
        ne = pc.or_(pc.not_equal(pc.binary_join(a, "\x1f"), pc.binary_join(b, "\x1f")),
                    pc.not_equal(pc.list_value_length(a), pc.list_value_length(b)))
        unknown = pc.and_(pc.is_null(ne), pc.invert(pc.or_(pc.is_null(a), pc.is_null(b))))
        if pc.any(unknown).as_py():
            rows = pc.indices_nonzero(unknown)
            values = ne.to_pylist()
            for i, x, y in zip(rows.to_pylist(), pc.take(a, rows).to_pylist(), pc.take(b, rows).to_pylist()):
                values[i] = x != y
            ne = pa.array(values, pa.bool_())
        ne = pc.fill_null(ne, False)
    else:
        try:
            ne = pc.fill_null(pc.not_equal(a, b), False)
        except pa.ArrowNotImplementedError:  # other lists, structs, maps: rare, compared in Python
            ne = pa.array([x != y for x, y in zip(a.to_pylist(), b.to_pylist())], pa.bool_())
    one_null = pc.xor(pc.is_null(a), pc.is_null(b))
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    return pc.and_(pc.or_(ne, one_null), pc.invert(both_null))

