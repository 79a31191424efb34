"""Boilerplate rules, kept as data: one TOML file per site, so a new site is a few lines.

A rule file (see builder/rules/*.toml) has:
- `name`, `description`;
- `[match]`: when the rules apply (any listed substring of the feed, the author, the source
  path or the raw body); a file without `[match]` applies to every article;
- `[drop]`: `tags`, `classes`, `ids` of elements removed before text is taken;
- `[[strip]]`: regexes whose matches are cut from the raw body before parsing (blocks that
  only comments delimit, such as `<!-- 开户二维码 --> … <!-- 开户二维码 -->`);
- `[[raw]]`: regexes over the raw body (comments included) whose named groups become
  metadata, e.g. stock codes from `<!-- news_keyword_pub,stock,sz002024&sh603885 -->`;
- `[[paragraph]]`: regexes over each clean paragraph. A match removes the paragraph and its
  named groups become metadata (`editor`, `source`, `original_title`, `url`, ...); a group
  named `keep` is what stays of the paragraph (for a trailing `（央视新闻）`, say).
- `placeholder_images`: substrings of image URLs that are placeholders, not metadata.
The first value found for a field wins; list fields (`stock_codes`) collect every value.
"""
from __future__ import annotations

import re
import tomllib
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import RuleError

BUILTIN_DIR = Path(__file__).with_name("rules")
FIELDS = ("editor", "source", "original_title", "url", "author", "stock_codes")
LIST_FIELDS = ("stock_codes",)
_LIST_SPLIT = re.compile(r"[&,;\s]+")
_KEYS = ("name", "description", "match", "drop", "strip", "raw", "paragraph", "placeholder_images")


@dataclass(frozen=True)
class RuleSet:
    name: str
    match_feed: tuple[str, ...] = ()
    match_author: tuple[str, ...] = ()
    match_path: tuple[str, ...] = ()
    match_body: tuple[str, ...] = ()
    drop_tags: tuple[str, ...] = ()
    drop_classes: tuple[str, ...] = ()
    drop_ids: tuple[str, ...] = ()
    raw: tuple[re.Pattern, ...] = ()
    strip: tuple[re.Pattern, ...] = ()
    paragraph: tuple[tuple[re.Pattern, int], ...] = ()  # (pattern, max paragraph length)
    placeholder_images: tuple[str, ...] = ()

    @property
    def universal(self) -> bool:
        return not (self.match_feed or self.match_author or self.match_path or self.match_body)

    def applies(self, *, feed: str, author: str, path: str, body: str) -> bool:
        return (self.universal or any(s in feed for s in self.match_feed)
                or any(s in author for s in self.match_author)
                or any(s in path for s in self.match_path) or any(s in body for s in self.match_body))


def load_rule_file(path: Path) -> RuleSet:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RuleError(f"rule file {path}: {exc}") from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise RuleError(f"rule file {path}: unknown key(s) {unknown}; known: {', '.join(_KEYS)}")
    match, drop = data.get("match", {}), data.get("drop", {})
    for table, keys in (("match", ("feed", "author", "path", "body")), ("drop", ("tags", "classes", "ids"))):
        for key, value in data.get(table, {}).items():
            if key not in keys:
                raise RuleError(f"rule file {path}: unknown key {key!r} in [{table}]; known: {', '.join(keys)}")
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise RuleError(f"rule file {path}: [{table}] {key} must be a list of strings, "
                                f"such as {key} = [\"...\"], got {value!r}")
    for kind in ("raw", "strip", "paragraph"):
        entries = data.get(kind, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise RuleError(f"rule file {path}: {kind} must be written as [[{kind}]] tables with a pattern")
        for e in entries:
            if not isinstance(e.get("max_chars", 200), int):
                raise RuleError(f"rule file {path}: [[{kind}]] max_chars must be a whole number, "
                                f"got {e['max_chars']!r}")

    def pattern(entry: dict, kind: str) -> re.Pattern:
        try:
            rx = re.compile(entry["pattern"], re.S)
        except (KeyError, re.error) as exc:
            raise RuleError(f"rule file {path}: bad [[{kind}]] pattern: {exc}") from None
        unknown = set(rx.groupindex) - set(FIELDS) - {"keep"}
        if unknown:
            raise RuleError(f"rule file {path}: pattern {entry['pattern']!r} names unknown fields "
                            f"{sorted(unknown)}; known: {', '.join(FIELDS)}, keep")
        return rx

    return RuleSet(
        name=str(data.get("name", path.stem)),
        match_feed=tuple(match.get("feed", ())), match_author=tuple(match.get("author", ())),
        match_path=tuple(match.get("path", ())), match_body=tuple(match.get("body", ())),
        drop_tags=tuple(drop.get("tags", ())), drop_classes=tuple(drop.get("classes", ())),
        drop_ids=tuple(drop.get("ids", ())),
        raw=tuple(pattern(e, "raw") for e in data.get("raw", ())),
        strip=tuple(pattern(e, "strip") for e in data.get("strip", ())),
        paragraph=tuple((pattern(e, "paragraph"), int(e.get("max_chars", 200))) for e in data.get("paragraph", ())),
        placeholder_images=tuple(data.get("placeholder_images", ())),
    )


@lru_cache(maxsize=16)
def load_rules(extra_dirs: tuple[str, ...] = ()) -> tuple[RuleSet, ...]:
    """The built-in rule files, then those in `extra_dirs`, each folder in name order."""
    sets = []
    for d in (str(BUILTIN_DIR), *extra_dirs):
        folder = Path(d)
        if not folder.is_dir():
            raise RuleError(f"rules folder {d!r} does not exist or is not a folder: check the --rules path")
        files = sorted(folder.glob("*.toml"))
        if not files:
            raise RuleError(f"rules folder {d!r} holds no *.toml rule files: check the --rules path")
        sets += [load_rule_file(p) for p in files]
    return tuple(sets)


def select(rules: tuple[RuleSet, ...], *, feed: str, author: str, path: str, body: str) -> tuple[RuleSet, ...]:
    return tuple(rs for rs in rules if rs.applies(feed=feed, author=author, path=path, body=body))


def _record(meta: dict, groups: dict[str, str | None]) -> None:
    for name, value in groups.items():
        if name == "keep" or value is None or not value.strip():
            continue
        value = " ".join(value.split())
        if name in LIST_FIELDS:
            bucket = meta.setdefault(name, [])
            bucket.extend(v for v in _LIST_SPLIT.split(value) if v and v not in bucket)
        else:
            meta.setdefault(name, value)


def apply_raw_rules(body: str, rules: tuple[RuleSet, ...], meta: dict) -> None:
    for rs in rules:
        for rx in rs.raw:
            for m in rx.finditer(body):
                _record(meta, m.groupdict())


def apply_strip_rules(body: str, rules: tuple[RuleSet, ...]) -> str:
    for rs in rules:
        for rx in rs.strip:
            body = rx.sub("\n", body)
    return body


def apply_paragraph_rules(paragraphs: list[str], rules: tuple[RuleSet, ...], meta: dict) -> list[str]:
    patterns = [p for rs in rules for p in rs.paragraph]
    if not patterns:
        return paragraphs
    limits, screens = _screens(rules)
    longest = limits[-1]
    out = []
    for para in paragraphs:
        # Most paragraphs are story text: longer than every rule's limit, or matched by none
        # of the rules that allow their length (one regex match at the start instead of one
        # search per rule; a long paragraph is not tried against the short lines' rules).
        n = len(para)
        if n > longest:
            out.append(para)
            continue
        screen = screens[bisect_left(limits, n)]
        if screen is not None and not screen.match(para):
            out.append(para)
            continue
        for rx, max_chars in patterns:
            if len(para) > max_chars:
                continue
            m = rx.search(para)
            if m:
                _record(meta, m.groupdict())
                para = (m.groupdict().get("keep") or "").strip()
                if not para:
                    break
        if para:
            out.append(para)
    return out


_NAMED_GROUP = re.compile(r"(?<!\\)((?:\\\\)*)\(\?P<[A-Za-z_]\w*>")


@lru_cache(maxsize=64)
def _screens(rules: tuple[RuleSet, ...]) -> tuple[tuple[int, ...], tuple[re.Pattern | None, ...]]:
    """The rules' distinct `max_chars` limits, ascending, and for each limit the screen of the
    rules that allow a paragraph that long: a paragraph of n characters takes the screen of the
    first limit >= n (bisect)."""
    patterns = [p for rs in rules for p in rs.paragraph]
    limits = tuple(sorted({max_chars for _, max_chars in patterns}))
    return limits, tuple(_screen(tuple(rx for rx, m in patterns if m >= limit)) for limit in limits)


def _screen(patterns: tuple[re.Pattern, ...]) -> re.Pattern | None:
    """One pattern a paragraph must match at its start for any of `patterns` to match it, or
    None when they do not allow one: every pattern anchored with '^' (no MULTILINE), its
    named groups turned into plain ones (checked: the same number of groups go)."""
    parts = []
    for rx in patterns:
        if not rx.pattern.startswith("^") or rx.flags & re.M:
            return None
        body, n = _NAMED_GROUP.subn(lambda m: m.group(1) + "(?:", rx.pattern[1:])
        if n != len(rx.groupindex):
            return None
        try:
            plain = re.compile(body, rx.flags)
        except re.error:
            return None
        if plain.groups != rx.groups - n:
            return None
        parts.append(f"(?:{body})")
    try:
        return re.compile("|".join(parts), re.S) if parts else None
    except re.error:
        return None


def is_placeholder_image(url: str, rules: tuple[RuleSet, ...]) -> bool:
    return any(s in url for rs in rules for s in rs.placeholder_images)
