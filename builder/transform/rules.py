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

import re._constants as _C
import re._parser as _sre_parse

from ..errors import RuleError

BUILTIN_DIR = Path(__file__).parent.parent / "rules"  # builder/rules/*.toml
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

    def __hash__(self) -> int:
        # Computed once: the rule sets of a file key several caches, and the dataclass's own
        # hash walked every field (every pattern) on each lookup.
        try:
            return self.__dict__["_hash"]
        except KeyError:
            h = hash(tuple(getattr(self, f) for f in self.__dataclass_fields__))
            object.__setattr__(self, "_hash", h)
            return h

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
    # A rule runs only over a body that holds one of its literals (see _literals): a substring
    # search skips along the body, where the regex engine steps through it a character at a
    # time (a rule that starts with `：` stopped at every colon of a Chinese body).
    held: dict[frozenset[str], bool] = {}  # rules often share their literals (`](http`): searched once
    for rx, lits in _raw_needs(rules):
        if lits is not None:
            found = held.get(lits)
            if found is None:
                found = held[lits] = any(lit in body for lit in lits)
            if not found:
                continue
        for m in rx.finditer(body):
            _record(meta, m.groupdict())


@lru_cache(maxsize=64)
def _raw_needs(rules: tuple[RuleSet, ...]) -> tuple[tuple[re.Pattern, frozenset[str] | None], ...]:
    """The raw rules in order, each with the literals one of which its every match holds (or None)."""
    return tuple((rx, _literals(rx)) for rs in rules for rx in rs.raw)


def apply_strip_rules(body: str, rules: tuple[RuleSet, ...]) -> str:
    for rs in rules:
        for rx in rs.strip:
            body = rx.sub("\n", body)
    return body


def apply_paragraph_rules(paragraphs: list[str], rules: tuple[RuleSet, ...], meta: dict) -> list[str]:
    every, always, gated, (limits, screens), orders = _needs(rules)
    if not every:
        return paragraphs
    # A rule whose every match holds one of a few literals (`二维码`, `未经`: see _literals)
    # applies only when the text holds one: one search over the whole text. Those that apply
    # are tried on each paragraph they allow (they start loosely: a screen would be no cheaper);
    # the other rules are screened.
    top = limits[-1] if limits else -1  # the longest paragraph a screened rule allows
    patterns, tried, longest = orders[()], (), top
    if gated:
        text = "\n".join(paragraphs)
        on = []
        for k, (_, lits) in enumerate(gated):
            for lit in lits:
                if lit in text:
                    on.append(k)
                    break
        if on:
            patterns = _ordered(every, always, gated, orders, tuple(on))
            tried = tuple(every[gated[k][0]] for k in on)
            longest = max(top, *(max_chars for _, max_chars in tried))
    if not patterns:
        return list(paragraphs)
    out = []
    for para in paragraphs:
        # Most paragraphs are story text: longer than every rule's limit, or matched by none
        # of the rules that allow their length (one regex match at the start instead of one
        # search per rule; a long paragraph is not tried against the short lines' rules).
        n = len(para)
        if n > longest:
            out.append(para)
            continue
        if n <= top:
            screen = screens[bisect_left(limits, n)]
            hit = screen is None or screen.match(para) is not None
        else:
            hit = False
        if not hit and tried:
            hit = any(n <= max_chars and rx.search(para) for rx, max_chars in tried)
        if not hit:
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


def _ordered(every: tuple, always: tuple[int, ...], gated: tuple, orders: dict, on: tuple[int, ...]) -> tuple:
    """The rules that apply, in order: those always applied and the gated ones in `on`."""
    try:
        return orders[on]
    except KeyError:
        orders[on] = tuple(every[i] for i in sorted(always + tuple(gated[k][0] for k in on)))
        return orders[on]


@lru_cache(maxsize=64)
def _needs(rules: tuple[RuleSet, ...]) -> tuple:
    """(the paragraph rules in order, the indexes of those that always apply, the others' indexes
    with their literals, the always-applied rules' limits and screens (`_limit_screens`), and a
    cache of the rules in order by which gated ones apply). A rule is gated by its literals (see
    _literals) only when its start is costly to screen (`^.{0,30}…`: the screen tries the rest at
    each of 31 places); a rule that starts with a literal fails the screen at once, cheaper than
    a search for its literal. The screens do not depend on which gated rules apply: they are
    compiled once for the rule sets, not once for each mix of literals a text holds."""
    patterns = tuple(p for rs in rules for p in rs.paragraph)
    always, gated = [], []
    for i, (rx, _) in enumerate(patterns):
        lits = _literals(rx) if _loose_start(rx) else None
        (always.append(i) if lits is None else gated.append((i, lits)))
    always_screens = _limit_screens(tuple(patterns[i] for i in always))
    return patterns, tuple(always), tuple(gated), always_screens, {(): tuple(patterns[i] for i in always)}


def _loose_start(rx: re.Pattern) -> bool:
    """Whether `rx` is not anchored at its start, or has an optional run of any characters (or of
    a negated class) before its first required item: the screen then tries the rest at many places."""
    try:
        items = list(_sre_parse.parse(rx.pattern, rx.flags))
    except Exception:
        return True
    if not items or items[0] != (_C.AT, _C.AT_BEGINNING) or rx.flags & re.M:
        return True
    return _loose(items[1:])


def _loose(items) -> bool:
    for op, av in items:
        if op is _C.SUBPATTERN:
            return _loose(av[3])
        if op not in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            return False  # a literal, a class, a branch: the screen fails here at once
        lo, _, sub = av
        broad = len(sub) == 1 and (sub[0][0] in (_C.ANY, _C.NOT_LITERAL)
                                   or (sub[0][0] is _C.IN and sub[0][1][:1] == [(_C.NEGATE, None)]))
        if broad or lo:
            return broad
    return False


_MIN_LITERAL = 2  # a one-character literal (`（`, `C`) is in most texts: it would gate nothing
_MAX_LITERALS = 16


def _literals(rx: re.Pattern) -> frozenset[str] | None:
    """Strings one of which every match of `rx` contains (read from its parsed form), or None
    when there are none worth looking for (shorter than _MIN_LITERAL, too many, or the
    pattern ignores case)."""
    if rx.flags & re.I:
        return None
    try:
        lits = _seq_literals(_sre_parse.parse(rx.pattern, rx.flags))
    except Exception:  # a form this reading does not know: the rule always applies
        return None
    if lits is None or min(map(len, lits)) < _MIN_LITERAL or len(lits) > _MAX_LITERALS:
        return None
    return lits


def _seq_literals(items) -> frozenset[str] | None:
    """For a sequence of parsed items: the best set of strings one of which every match holds."""
    candidates, run = [], []
    for op, av in _flat(items):
        if op is _C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append(frozenset(["".join(run)]))
            run = []
        found = _item_literals(op, av)
        if found is not None:
            candidates.append(found)
    if run:
        candidates.append(frozenset(["".join(run)]))
    if not candidates:
        return None
    return max(candidates, key=lambda c: (min(map(len, c)), -len(c)))


def _flat(items):
    """The items, a group's own items in its place (a group matches once: `\\]\\((?P<url>https?`
    holds `](http`), unless it ignores case."""
    for op, av in items:
        if op is _C.SUBPATTERN and not av[1] & re.I:
            yield from _flat(av[3])
        else:
            yield op, av


def _item_literals(op, av) -> frozenset[str] | None:
    if op is _C.SUBPATTERN:
        _, add_flags, _, sub = av
        return None if add_flags & re.I else _seq_literals(sub)
    if op is _C.ATOMIC_GROUP:
        return _seq_literals(av)
    if op is _C.BRANCH:
        sets = [_seq_literals(b) for b in av[1]]
        return None if any(s is None for s in sets) else frozenset().union(*sets)
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
        lo, _, sub = av
        return _seq_literals(sub) if lo >= 1 else None
    if op is _C.IN and av and all(o is _C.LITERAL for o, _ in av) and len(av) <= _MAX_LITERALS:
        return frozenset(chr(c) for _, c in av)
    return None  # anything else (ANY, NOT_LITERAL, a class, a lookaround, a backreference...): no literal


_NAMED_GROUP = re.compile(r"(?<!\\)((?:\\\\)*)\(\?P<[A-Za-z_]\w*>")


@lru_cache(maxsize=64)
def _screens(rules: tuple[RuleSet, ...]) -> tuple[tuple[int, ...], tuple[re.Pattern | None, ...]]:
    """The rules' distinct `max_chars` limits, ascending, and for each limit the screen of the
    rules that allow a paragraph that long: a paragraph of n characters takes the screen of the
    first limit >= n (bisect)."""
    return _limit_screens(tuple(p for rs in rules for p in rs.paragraph))


def _limit_screens(patterns: tuple[tuple[re.Pattern, int], ...]) -> tuple[tuple[int, ...], tuple[re.Pattern | None, ...]]:
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
