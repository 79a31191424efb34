"""The changelog entry that records a release's diff, and the edits a release makes to the dataset card.

The card edits: the YAML `version:`, the version sentence under the title and the
`## Changelog` section; `release_identity` is the card without them, so that the cards of two
releases of the same content compare equal.
"""
from __future__ import annotations

import re
from typing import Callable

import yaml

from .diff import ReleaseDiff
from .version import Version

LISTED_IDS = 10  # ids named per kind of change in a changelog entry; the rest are counted


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
# Where a release's card names its own tag: how to load it and how to check its splits
# (`revision="v1.2.0"`, `--revision v1.2.0`; a registry's `corpus checkout path/to/registry
# v1.2.0 -o release-v1.2.0` and `load_dataset("release-v1.2.0")`). Only there is the tag the
# release's identity; a `v1.2.0` anywhere else is the owner's text and compared as written.
_TAG_SPOT = (r'(?:(?<=revision=")|(?<=--revision )|(?<=corpus checkout path/to/registry )'
             r'|(?<![\w-]release-)(?<=release-)){tag}(?![\w.+-])')


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
    """The card without what a release sets (the `version:` line, the version sentence and the
    changelog section): two releases of the same content have the same identity, whatever their
    versions and dates. The release's tag where the card names it to load the release (see
    _TAG_SPOT) counts as the version; elsewhere it is text like any other."""
    version = card_version(card_text)
    m = _FRONT.match(card_text)
    if m:
        card_text = m.group(1) + _VERSION_LINE.sub("", m.group(2)) + m.group(3) + card_text[m.end():]
    before, _, _, after = _changelog_parts(card_text)
    if before is not None:
        card_text = before + after
    card_text = _edit_body(card_text, lambda body: _VERSION_SENTENCE.sub("", body, count=1))
    if version is not None:
        card_text = re.sub(_TAG_SPOT.format(tag=re.escape(f"v{version}")), "v<version>", card_text)
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
