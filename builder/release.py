"""Releases, the pure parts: semver versions and the bump rule, the diff between two releases'
Parquet, the changelog entry that records it, and the card edits a release makes.

Nothing here talks to a target. Parquet is read through what the caller hands over (a path, or
a function that opens a file object, e.g. a ranged reader on the Hub), and only the columns
the diff needs are read.

The bump rule, an invariant users rely on when they pin `revision="v1.2.0"` and upgrade
within a major version: a release that moves an existing row to another split, or removes or
retypes a column, is a major version. Adding, removing or changing rows, or adding columns,
may be any bump.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Mapping, Union

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from .errors import VersionError

# A Parquet file to read: a path, or a function returning a fresh readable, seekable file object.
ParquetSource = Union[str, os.PathLike, Callable[[], BinaryIO]]

_SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
# data/{split}-... or, in a subset build (--subset-by), data/{subset}/{split}-...
_SHARD = re.compile(r"^data/(?:[^/]+/)?(?P<split>[^/]+?)-\d{5}-of-\d{5}\.parquet$")
KEY = "id"
# Split bookkeeping, derived from the split spec: what matters of it is reported as moves, not
# as changed rows (a new salt would otherwise "change" every row).
_NOT_COMPARED = {"split_group", "split_bucket"}
LISTED_IDS = 10  # ids named per kind of change in a changelog entry; the rest are counted


# ------------------------------------------------------------------------------ versions


@dataclass(frozen=True, order=True)
class Version:
    """A release version: MAJOR.MINOR.PATCH, tagged `vMAJOR.MINOR.PATCH`."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str | Version) -> Version:
        if isinstance(text, Version):
            return text
        m = _SEMVER.match(str(text).strip())
        if not m:
            raise VersionError(f"version {str(text)!r} is not MAJOR.MINOR.PATCH (e.g. 1.2.0)")
        return cls(*(int(g) for g in m.groups()))

    @classmethod
    def from_tag(cls, tag: str) -> Version | None:
        """The version a tag names (`v1.2.0`), or None for a tag that is not a release."""
        if not tag.startswith("v"):
            return None
        try:
            return cls.parse(tag)
        except VersionError:
            return None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def tag(self) -> str:
        return f"v{self}"

    def bump_from(self, previous: Version) -> str:
        """"major", "minor" or "patch": what kind of step this is from `previous` (which it must exceed)."""
        if self <= previous:
            raise VersionError(f"{self} is not greater than {previous}")
        if self.major != previous.major:
            return "major"
        return "minor" if self.minor != previous.minor else "patch"

    def next(self, kind: str) -> Version:
        if kind == "major":
            return Version(self.major + 1, 0, 0)
        if kind == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)


def check_version(version: Version, *, latest: Version | None, diff: ReleaseDiff | None) -> None:
    """Refuse a new release `version` that does not go up from `latest` or that breaks users
    without a major bump (see the module docstring). `latest` None: the first release."""
    if latest is None:
        return
    if version <= latest:
        raise VersionError(
            f"version {version} is not greater than the latest release {latest.tag}: versions only go up; "
            f"publish {latest.next('patch')}, {latest.next('minor')} or {latest.next('major')}")
    kind = version.bump_from(latest)
    if diff is not None and diff.breaking and kind != "major":
        raise VersionError(
            f"{version} is a {kind} release, but compared with {latest.tag} it "
            + "; ".join(diff.breaking_reasons())
            + f": that breaks users of {latest.tag} and needs a major version: publish {latest.next('major')}")


# ------------------------------------------------------------------------------ the diff


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


# ------------------------------------------------------------------------------ the changelog


def changelog_entry(version: Version, diff: ReleaseDiff, *, date: str, previous: Version | None = None) -> str:
    """The Markdown changelog entry (a `### vX.Y.Z (date)` block) for a release."""
    rows = sum(diff.rows_after.values())
    head = f"### {version.tag} ({date})"
    split_counts = ", ".join(f"{name} {n:,}" for name, n in diff.rows_after.items())
    if previous is None:
        return f"{head}\n\nFirst release: {rows:,} rows ({split_counts or 'no rows'})."
    lines = [head, "", f"Compared with {previous.tag}:", "",
             f"- Rows: {sum(diff.rows_before.values()):,} -> {rows:,} ({split_counts or 'no rows'})."]
    lines.append(_ids_line("Added", diff.added))
    lines.append(_ids_line("Removed", diff.removed))
    by_column = ", ".join(f"{name} {n:,}" for name, n in sorted(diff.changed_columns.items()))
    lines.append(_ids_line("Changed", diff.changed, f" (by column: {by_column})" if by_column else ""))
    if diff.moved:
        moves: dict[tuple[str, str], int] = {}
        for _, old, new in diff.moved:
            moves[(old, new)] = moves.get((old, new), 0) + 1
        how = ", ".join(f"{old} -> {new} {n:,}" for (old, new), n in sorted(moves.items()))
        lines.append(_ids_line("Moved split", [i for i, _, _ in diff.moved], f" ({how})"))
    else:
        lines.append("- Moved split: none.")
    s = diff.schema
    if s.empty:
        lines.append("- Schema: unchanged.")
    else:
        parts = ([f"added {', '.join(f'`{n}` ({t})' for n, t in s.added)}"] if s.added else []) + \
                ([f"removed {', '.join(f'`{n}`' for n, _ in s.removed)}"] if s.removed else []) + \
                ([f"retyped {', '.join(f'`{n}` ({a} -> {b})' for n, a, b in s.retyped)}"] if s.retyped else [])
        lines.append("- Schema: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def _ids_line(what: str, ids: list[str], detail: str = "") -> str:
    if not ids:
        return f"- {what}: none."
    shown = ", ".join(f"`{i}`" for i in ids[:LISTED_IDS])
    more = f" and {len(ids) - LISTED_IDS:,} more" if len(ids) > LISTED_IDS else ""
    return f"- {what}: {len(ids):,} row{'s' * (len(ids) != 1)}{detail}: {shown}{more}."


# ------------------------------------------------------------------------------ the card

CHANGELOG_HEADING = "## Changelog"
# What builder/card.py writes into a card before any release: the changelog section's
# placeholder and the version sentence. A release replaces both (and release_identity removes
# both, so that cards of the same content compare equal whatever their versions).
UNRELEASED_CHANGELOG = "No releases yet."
# The markers builder/card.py writes around the changelog's value (see card.template_from_card).
_CHANGELOG_MARKS = ("<!-- corpus:changelog -->", "<!-- /corpus:changelog -->")
_VERSION_SENTENCE = re.compile(
    r"^(?:Unreleased build \(no version yet\)\.|Version \d+\.\d+\.\d+ \((?:tag `v\d+\.\d+\.\d+`|on the branch "
    r"`[^`\n]+`, untagged: tags are made on main only)\)\.)[ \t]*$", re.M)
_FRONT = re.compile(r"\A(---[ \t]*\r?\n)(.*?^)(---[ \t]*(?:\r?\n|\Z))", re.S | re.M)
_VERSION_LINE = re.compile(r"^version:[^\n]*\n?", re.M)
_ENTRY_VERSION = re.compile(r"^###\s+v?(\d+\.\d+\.\d+)\b")


def card_version(card_text: str) -> str | None:
    """The `version:` the card's YAML states, or None."""
    m = _FRONT.match(card_text)
    if not m:
        return None
    try:
        meta = yaml.safe_load(m.group(2)) or {}
    except yaml.YAMLError:
        return None
    value = meta.get("version") if isinstance(meta, dict) else None
    return None if value is None else str(value)


def apply_release(card_text: str, *, version: Version | str, entry: str, previous_card: str | None = None,
                  branch: str | None = None) -> str:
    """The card of a release: `version:` set in the YAML, `entry` at the top of the `## Changelog`
    section (created at the end when missing), then the older entries: those already in the
    section and those of `previous_card` (the previous release's card) not already there, so the
    changelog accumulates from release to release. An older entry for this same version is
    replaced, so applying a release twice gives the same card. `branch`: a release committed to
    that branch, which is not tagged (tags are made on main only); the card says so."""
    version = Version.parse(version)
    text = _set_version(card_text, str(version))
    where = f"on the branch `{branch}`, untagged: tags are made on main only" if branch else f"tag `{version.tag}`"
    text = _edit_body(text, lambda body: _VERSION_SENTENCE.sub(f"Version {version} ({where}).", body, count=1))
    before, intro, entries, after = _changelog_parts(text)
    if intro == UNRELEASED_CHANGELOG:
        intro = ""
    if before is None:
        before, intro, entries, after = text.rstrip("\n") + "\n\n", "", [], ""
    if previous_card is not None:
        known = {_entry_version(e) for e in entries}
        entries += [e for e in _changelog_parts(previous_card)[2] if _entry_version(e) not in known]
    entries = [entry.strip()] + [e for e in entries if _entry_version(e) != str(version)]
    body = "\n\n".join(([intro] if intro else []) + entries)
    start, end = _CHANGELOG_MARKS
    section = f"{CHANGELOG_HEADING}\n\n{start}\n\n{body}\n\n{end}\n"
    return before + section + ("\n" + after if after else "")


def release_identity(card_text: str) -> str:
    """The card without what a release sets (the `version:` line and the changelog section):
    two releases of the same content have the same identity, whatever their versions and dates
    (the release's tag, named in how to load it, counts as the version)."""
    version = card_version(card_text)
    m = _FRONT.match(card_text)
    if m:
        card_text = m.group(1) + _VERSION_LINE.sub("", m.group(2)) + m.group(3) + card_text[m.end():]
    before, _, _, after = _changelog_parts(card_text)
    if before is not None:
        card_text = before + after
    card_text = _edit_body(card_text, lambda body: _VERSION_SENTENCE.sub("", body, count=1))
    if version is not None:
        card_text = re.sub(rf"\bv{re.escape(version)}\b", "v<version>", card_text)
    return card_text.strip() + "\n"


def _edit_body(card_text: str, edit: Callable[[str], str]) -> str:
    """`card_text` with `edit` applied to what follows its YAML front matter."""
    m = _FRONT.match(card_text)
    cut = m.end() if m else 0
    return card_text[:cut] + edit(card_text[cut:])


def _set_version(card_text: str, version: str) -> str:
    line = f"version: {version}\n"
    m = _FRONT.match(card_text)
    if not m:
        return f"---\n{line}---\n\n{card_text.lstrip()}"
    meta = m.group(2)
    meta = _VERSION_LINE.sub(line, meta, count=1) if _VERSION_LINE.search(meta) else meta + line
    return m.group(1) + meta + m.group(3) + card_text[m.end():]


def _changelog_parts(text: str) -> tuple[str | None, str, list[str], str]:
    """(text before the section, its intro, its `###` entries, text after it); before is None
    when the card has no changelog section. Headings inside code fences do not count."""
    lines = text.splitlines(keepends=True)
    start = end = None
    fenced = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if fenced:
            continue
        if start is None and line.strip().lower() == CHANGELOG_HEADING.lower():
            start = i
        elif start is not None and re.match(r"^#{1,2}\s", line):
            end = i
            break
    if start is None:
        return None, "", [], ""
    end = len(lines) if end is None else end
    intro, entries, current = [], [], None
    for line in lines[start + 1:end]:
        if line.strip() in _CHANGELOG_MARKS:
            continue
        if line.startswith("### "):
            current = [line]
            entries.append(current)
        elif current is not None:
            current.append(line)
        else:
            intro.append(line)
    return ("".join(lines[:start]), "".join(intro).strip(), ["".join(e).strip() for e in entries],
            "".join(lines[end:]))


def changelog_entries(text: str) -> list[str]:
    """The `### vX.Y.Z` entries of a changelog section's text, newest first as written."""
    return _changelog_parts(f"{CHANGELOG_HEADING}\n\n{text}\n")[2]


def _entry_version(entry: str) -> str | None:
    m = _ENTRY_VERSION.match(entry)
    return m.group(1) if m else None
