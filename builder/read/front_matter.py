"""Front matter -> a dict of strings (and lists/dicts of strings), plus the body.

python-frontmatter's handlers find and split the YAML (`---`), TOML (`+++`) and JSON
(`{ … }`) blocks. YAML is then loaded with PyYAML's BaseLoader, so every scalar stays the
string the author wrote (no `000001`->1, `0700`->448, `no`->False, naive datetimes), and
columns are coerced against our schema later. The archive's older variant is often not
YAML at all; a lenient line reader recovers it and the file gets a warning, not a reject.
"""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

import yaml
from frontmatter.default_handlers import BaseHandler, JSONHandler, YAMLHandler

_YAML_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # libyaml when present: ~10x faster
# A key: an identifier, or any run without markup characters (some archives use CJK keys).
# Possessive runs and greedy values (callers strip them): a lazy group followed by `[ \t]*`
# backtracks quadratically, and a 256 KiB line of spaces then took minutes.
_KEY_LINE = re.compile(r"^([A-Za-z_][\w.-]*|[^\s:#'\"\-\[{<>!&*|][^:<>]*+)[ \t]*:(?:[ \t]++(.*))?$")
_INDENTED_KEY = re.compile(r"^[ \t]+([\w.-]+)[ \t]*:(?:[ \t]++(.*))?$")
_LIST_ITEM = re.compile(r"^[ \t]*-(?:[ \t]++(.*))?$")


class _TOMLHandler(BaseHandler):
    """TOML front matter between `+++` lines, read with the standard library's tomllib."""

    FM_BOUNDARY = re.compile(r"^\+{3,}\s*$", re.MULTILINE)
    START_DELIMITER = END_DELIMITER = "+++"

    def load(self, fm: str, **kwargs: object) -> Any:
        return tomllib.loads(fm)


_HANDLERS = (("yaml", YAMLHandler()), ("toml", _TOMLHandler()), ("json", JSONHandler()))


class FrontMatterTooLarge(Exception):
    pass


@dataclass
class FrontMatter:
    meta: dict[str, Any]
    body: str
    format: str  # yaml | toml | json | lenient | none
    warnings: list[str] = field(default_factory=list)


def parse(text: str, *, max_bytes: int = 256 * 1024, max_alias_nodes: int = 10_000) -> FrontMatter:
    """Split `text` into front matter and body. Never raises on bad front matter, except
    FrontMatterTooLarge when the block exceeds `max_bytes` (a reject, not a warning)."""
    stripped = text.lstrip("\ufeff \t\n")  # the archive puts a blank line before `---`
    for name, handler in _HANDLERS:
        if not handler.detect(stripped):
            continue
        try:
            fm, body = handler.split(stripped)
        except ValueError:  # no closing delimiter
            return _unterminated(stripped, handler, max_bytes)
        _check_size(fm, max_bytes)
        try:
            meta = _load(name, handler, fm, max_alias_nodes)
            if isinstance(meta, dict):  # YAML's BaseLoader already gives strings only
                return FrontMatter(meta if name == "yaml" else _stringify(meta), body, name)
            warning = "frontmatter_lenient"
        except _AliasLimit:
            warning = "frontmatter_alias_limit"
        except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, RecursionError, TypeError):
            warning = "frontmatter_lenient"
        return FrontMatter(lenient(fm), body, "lenient", [warning])
    return FrontMatter({}, text, "none")


def _check_size(fm: str, max_bytes: int) -> None:
    if len(fm) > max_bytes // 4 and len(fm.encode()) > max_bytes:
        raise FrontMatterTooLarge(f"front matter of {len(fm.encode()):,} bytes exceeds {max_bytes:,}")


class _AliasLimit(Exception):
    pass


def _load(name: str, handler: BaseHandler, fm: str, max_alias_nodes: int) -> Any:
    if name != "yaml":
        return _scrub(handler.load(fm))
    fast = fast_yaml(fm)
    if fast is not None:
        return fast
    loader = _YAML_LOADER(fm)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        # A billion-laughs document is small as a graph and huge once expanded: measure the
        # expanded size on the graph before anything expands it.
        if "*" in fm and _expanded_size(node, max_alias_nodes) > max_alias_nodes:
            raise _AliasLimit()
        return _scrub(loader.construct_document(node))
    finally:
        loader.dispose()


_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    """Escapes (YAML's and JSON's "\\ud800") can make lone surrogates, which no UTF-8 writer
    accepts: one in a title once stopped the whole build at the Parquet writer. A surrogate
    pair becomes its character, a lone surrogate U+FFFD."""
    if isinstance(value, str):
        if _SURROGATE.search(value) is None:
            return value
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


# The value ends at its last non-space; `.*?` followed by ` *` would backtrack quadratically.
_FAST_KEY = re.compile(r"([A-Za-z_][\w.-]*) *:(?: ++(.*[^ ]))? *")
_FAST_ITEM = re.compile(r"( +)- ++(.*[^ ])? *")
_YAML_SPECIAL = re.compile("[^\x0a\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_PLAIN_START = frozenset("-?:,[]{}#&*!|>'\"%@`")


def fast_yaml(fm: str) -> dict[str, Any] | None:
    """The archive's front matter is nearly always flat `key: scalar` lines and indented `- item`
    lists. Read those directly, exactly as YAML's BaseLoader would (a property test holds the
    two equal), and return None for anything else so that YAML proper reads it. YAML costs
    ~100 us a file; this ~10 us."""
    meta: dict[str, Any] = {}
    key: str | None = None
    open_key = False           # the current key had no value: a list may follow
    indent: str | None = None  # the indentation of the current list's items
    # Tabs, YAML's other line breaks and characters it refuses: leave those files to PyYAML.
    if "\t" in fm or _YAML_SPECIAL.search(fm):
        return None
    for line in fm.split("\n"):
        if not line.strip(" "):
            continue
        if line[0] == " ":
            m = _FAST_ITEM.fullmatch(line)
            if m is None or not open_key or (indent is not None and m.group(1) != indent):
                return None
            current = meta[key]
            if indent is None:
                current = meta[key] = []
            value = _fast_scalar(m.group(2))
            if value is None:
                return None
            current.append(value)
            indent = m.group(1)
            continue
        m = _FAST_KEY.fullmatch(line)
        if m is None or m.group(1) in meta:
            return None
        key, indent, open_key = m.group(1), None, not m.group(2)
        value = _fast_scalar(m.group(2)) if m.group(2) else ""
        if value is None:
            return None
        meta[key] = value
    return meta


def _fast_scalar(raw: str) -> str | None:
    """A one-line YAML scalar as BaseLoader reads it, or None when it is not a simple one."""
    if not raw:
        return ""
    first = raw[0]
    if first == "'":
        inner = raw[1:-1]
        if len(raw) < 2 or raw[-1] != "'" or "'" in inner.replace("''", ""):
            return None
        return inner.replace("''", "'")
    if first == '"':
        inner = raw[1:-1]
        if len(raw) < 2 or raw[-1] != '"' or '"' in inner or "\\" in inner:
            return None
        return inner
    if first in _PLAIN_START or ": " in raw or " #" in raw or raw[-1] == ":":
        return None
    return raw


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Node count of the tree the graph expands to, memoised per node, stopping past `limit`."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if done or not children:
            sizes[id(node)] = min(limit + 1, 1 + sum(sizes.get(id(c), 0) for c in children))
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _stringify(value: Any) -> Any:
    """TOML and JSON are typed: bring their scalars to strings, as the YAML reader gives them."""
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stringify(v) for v in value]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _unterminated(text: str, handler: BaseHandler, max_bytes: int) -> FrontMatter:
    """`---` opens the front matter and nothing closes it: key lines run until the first line
    that is neither a key, a list item nor an indented value; the body starts there."""
    lines = text.split("\n")[1:]
    end = 0
    for end, line in enumerate(lines):
        if not line.strip() or not (_KEY_LINE.match(line) or _LIST_ITEM.match(line) or _INDENTED_KEY.match(line)):
            break
    else:
        end = len(lines)
    fm = "\n".join(lines[:end])
    _check_size(fm, max_bytes)
    return FrontMatter(lenient(fm), "\n".join(lines[end:]), "lenient", ["frontmatter_unterminated"])


def lenient(fm: str) -> dict[str, Any]:
    """Read `key: value`, `- item` and indented `sub: value` lines one by one, as a person
    would; a line that fits none continues the previous scalar."""
    meta: dict[str, Any] = {}
    key: str | None = None
    for line in fm.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and (m := _KEY_LINE.match(line)):
            key, value = m.group(1).strip(), m.group(2) or ""
            meta[key] = _scalar_or_flow(value)
        elif key is not None and (m := _LIST_ITEM.match(line)):
            current = meta.get(key)
            if not isinstance(current, list):
                current = [] if current in ("", None) else [current]
                meta[key] = current
            current.append(_unquote(m.group(1) or ""))
        elif key is not None and (m := _INDENTED_KEY.match(line)):
            current = meta.get(key)
            if not isinstance(current, dict):
                current = {}
                meta[key] = current
            current[m.group(1)] = _unquote(m.group(2) or "")
        elif key is not None and isinstance(meta.get(key), str):
            meta[key] = (meta[key] + " " + _unquote(line.strip())).strip()
    return meta


def _scalar_or_flow(value: str) -> Any:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        inner = value[1:-1].strip()
        return [_unquote(v) for v in re.split(r"\s*,\s*", inner) if v.strip()] if inner else []
    return _unquote(value)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        try:
            return _scrub(json.loads('"' + inner + '"')) if "\\" in inner else inner
        except ValueError:
            return inner
    if not value:
        return value
    if value[0] in "'\"" and value.count(value[0]) == 1:  # opened and never closed
        return value[1:]
    if value[-1] in "'\"" and value.count(value[-1]) == 1:
        return value[:-1]
    return value
