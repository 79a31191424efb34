"""Bodies (HTML or Markdown) -> clean paragraphs.

One pure function, `clean_body`: parse the body, drop the elements the rules name, walk the
tree turning block elements (and line breaks in the source) into paragraph breaks, then let
the paragraph rules turn boilerplate lines into metadata. lxml is used directly (it is
BeautifulSoup's fast back end; its tree is what BeautifulSoup would build, at a fraction of
the cost). Markdown is rendered to HTML first (builder.transform.markdown: GitHub's cmark-gfm, in C, as
the authors' sites render it), so both share one cleaner.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree

from . import markdown
from .rules import RuleSet, apply_paragraph_rules, apply_raw_rules, apply_strip_rules

# Not td and th: a table row is one line, its cells separated by a tab (CELL marks where each
# cell starts until the lines are made).
BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table thead tbody tfoot tr section article "
    "header footer aside nav figure figcaption hr dl dt dd address main center details summary form "
    "fieldset caption body html".split())
_WS_CHARS = r"\t\r\f\v\u00a0\u2000-\u200b\u202f\u205f"  # and the space; not \n: it breaks paragraphs
_WS_IN_LINE = re.compile(f"[ {_WS_CHARS}]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# Never text: controls, non-characters lxml refuses to set as text, surrogates.
_NOT_TEXT_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff"
_NOT_TEXT = re.compile(f"[{_NOT_TEXT_CHARS}]")
# What the last pass of lines_of changes inside a line once the lines are stripped: one of
# these characters, or two spaces. One class, not an alternation with "  ": a pattern that
# starts with a class is scanned for it a character at a time in C, an alternation is tried
# at every place (three times the cost over a Sina text).
_ODD_IN_LINE = re.compile(f"[{_NOT_TEXT_CHARS}{_WS_CHARS}]")
_NUMERIC_REF = re.compile(r"&#(?:([0-9]+)|[xX]([0-9a-fA-F]+));?")
_EDGE = " \t\n\r\f\v\u00a0\u3000\u200b\ufeff"
_strip_edge = operator.methodcaller("strip", _EDGE)  # a C callable: no Python frame per line
# Any start or end tag. `[^<>]*`, not `[^>]*`: a run of '<div' with no '>' must not make every
# match scan to the end of a 32 MB body.
_TAG_SPLIT = re.compile(r"(<(/?)([A-Za-z][A-Za-z0-9:-]*)[^<>]*>)")
_CONTAINER_START = re.compile(
    r"<(?!(?:area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr)\b)[A-Za-z]", re.I)
# The start or end tag of a block element: a line break goes before it (a line break is a
# paragraph break here, so it marks block boundaries too). Name ends at space, '/' or '>'.
def _alternation(words: frozenset[str]) -> str:
    # Grouped by first letter (`d(?:etails|iv|d|l|t)|...`): the regex engine then tries one
    # group per '<' instead of every name, which halves the cost of the marking pass.
    groups: dict[str, list[str]] = {}
    for w in sorted(words, key=lambda w: (-len(w), w)):
        groups.setdefault(w[0], []).append(re.escape(w[1:]))
    return "|".join(f + ("(?:" + "|".join(r) + ")" if r != [""] else "") for f, r in sorted(groups.items()))


# Over the UTF-8 bytes; the name ends at '/', '>' or whitespace: str's `\s`, spelled out as the
# UTF-8 of every character it takes (the controls \x1c-\x1f among them are deleted first).
_BLOCK_TAG_UTF8 = re.compile(
    rb"<(?=/?(?:" + _alternation(BLOCK_TAGS).encode() + rb")(?:[ \t\n\r\f\v/>]|\xc2[\x85\xa0]|\xe1\x9a\x80"
    rb"|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80))", re.I)
CELL = "\u2063"  # INVISIBLE SEPARATOR: never kept as text
_CELL_UTF8 = CELL.encode()
_CELL_TAG_UTF8 = re.compile(rb"<(?=t[dh](?:[ \t\n\r\f/>]))", re.I)
_CELL_EDGE = re.compile(f"^[ {_WS_CHARS}{CELL}]+|[ {_WS_CHARS}{CELL}]+$")
_CELL_SEP = re.compile(f"[ {_WS_CHARS}]*{CELL}[ {_WS_CHARS}{CELL}]*")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
# A start tag that closes an open sibling of these kinds (`<p>a<p>b` is two paragraphs, not
# nested ones): counting those as nesting would flatten ordinary unclosed markup.
# Only those libxml2 closes (it nests <dd> in <dd>, yet closes a <dt> on <dd>).
_SIBLINGS = {"p": ("p",), "li": ("li",), "dt": ("dd",), "dd": ("dt",), "td": ("td", "th"), "th": ("td", "th"),
             "tr": ("tr",), "option": ("option",)}
# Elements nested deeper than this are flattened before parsing. libxml2 stops parsing at
# depth 256 (2048 with huge_tree) and silently drops the rest of the document; it also adds
# elements of its own (html, body, tbody), so this leaves a wide margin.
_MAX_DEPTH = 200
MAX_HTML_DEPTH = 100_000       # deeper than this, the file is rejected (html_too_deep)
MAX_HTML_ELEMENTS = 1_000_000  # more start tags than this: rejected (too_many_elements); ~0.5 GB to parse


class HtmlLimit(Exception):
    """The body is past a hard limit; `reason` is a reject code from errors.REJECT_REASONS."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Cleaned:
    paragraphs: list[str]
    meta: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def clean_body(body: str, *, is_html: bool, rules: tuple[RuleSet, ...], max_depth: int = MAX_HTML_DEPTH,
               max_elements: int = MAX_HTML_ELEMENTS) -> Cleaned:
    """Pure: body text and the rule sets that apply -> paragraphs, extracted metadata, warnings.
    Raises HtmlLimit when the markup nests deeper than `max_depth` or holds more than
    `max_elements` elements. The build runs the same stages one at a time over a batch of
    files (builder.transform.process): to_html, within_limits, mark_blocks, text_of, lines_of, then the
    paragraph rules."""
    meta: dict[str, object] = {}
    warnings: list[str] = []
    html = to_html(body, is_html=is_html, rules=rules, meta=meta)
    html = within_limits(html, max_depth=max_depth, max_elements=max_elements, warnings=warnings)
    paragraphs = html_to_paragraphs(html, drop_rule(rules))
    return Cleaned(apply_paragraph_rules(paragraphs, rules, meta), meta, warnings)


def to_html(body: str, *, is_html: bool, rules: tuple[RuleSet, ...], meta: dict[str, object]) -> str:
    """The body as HTML with what the rules strip gone; what the raw rules find goes to `meta`."""
    apply_raw_rules(body, rules, meta)
    if is_html:  # Markdown pasted into an HTML body (`**重点**`) is read as Markdown there too
        html = markdown.inline_leftovers(body) if markdown.has_leftovers(body) else body
    else:
        html = _markdown_to_html(body)
    return apply_strip_rules(html, rules)


def within_limits(html: str, *, max_depth: int = MAX_HTML_DEPTH, max_elements: int = MAX_HTML_ELEMENTS,
                  warnings: list[str]) -> str:
    """`html`, its elements nested past what the parser keeps flattened ('html_truncated' added
    to `warnings`); HtmlLimit past `max_elements` elements or `max_depth` deep."""
    n_tags = html.count("<")
    if n_tags > max_elements:
        # Start tags, closely enough: every '<' that opens neither an end tag nor a comment.
        n_elements = n_tags - html.count("</") - html.count("<!")
        if n_elements > max_elements:
            raise HtmlLimit("too_many_elements", f"about {n_elements:,} HTML elements, over the "
                                                 f"{max_elements:,} limit")
    limit = min(_MAX_DEPTH, max_depth)
    # Fewer tags, or fewer start tags of elements that can hold others, than the limit cannot
    # nest deeper than it: the exact (Python) scan runs only on the rare files that might.
    if n_tags > limit and len(_CONTAINER_START.findall(html)) > limit:
        flat = _flatten_deep(html, max_depth)
        if flat is not html:
            html = flat
            warnings.append("html_truncated")
    return html


def html_to_paragraphs(html: str, drop: _DropRule | None = None) -> list[str]:
    """HTML -> paragraphs: comments and dropped elements gone, entities unescaped, whitespace
    collapsed inside a paragraph, leading U+3000 indentation stripped."""
    marked = mark_blocks(html)
    text = text_of(marked, html, drop) if marked is not None else None
    return lines_of(text) if text is not None else []


def mark_blocks(html: str) -> bytes | None:
    """The HTML as UTF-8 without control characters, a line break before every block element's
    tags and a CELL mark before every table cell; None when it is blank.

    Marking the source and letting libxml2 serialise the text in one C call (text_of) cost
    less than marking the parsed tree or walking it in Python. UTF-8 bytes with the parser's
    encoding fixed: a `<meta charset>` or an XML declaration in the body (which made lxml
    refuse a str) must not change how the text is read. Controls are single bytes there
    (never inside a multi-byte sequence), so deleting them is what _CONTROL.sub would do to
    the text, at C speed."""
    if not html.strip():
        return None
    return _mark(html.encode("utf-8", "replace").translate(None, _CONTROL_BYTES))


def text_of(marked: bytes, html: str, drop: _DropRule | None) -> str | None:
    """The text of `marked` (mark_blocks of `html`), dropped elements left out; None for no
    document. HtmlLimit when the parser stopped early."""
    try:
        return _text_of(marked, drop)
    except ValueError:
        # A reference such as &#1; (or a U+FFFE) parses to a character that lxml then refuses
        # to set back as text, and a refused assignment has already cleared the old text: read
        # the body again without them. Rare, so the common path pays nothing for it.
        safe = _xml_safe(html).encode("utf-8", "replace").translate(None, _CONTROL_BYTES)
        return _text_of(_mark(safe), drop)


def lines_of(text: str) -> list[str]:
    """The serialised text's paragraphs: one a line, edges stripped, whitespace collapsed."""
    # A line break in the source also separates paragraphs in these feeds (36kr briefs).
    lines = [part for part in map(_strip_edge, text.split("\n")) if part]
    # The runs of spaces are nearly all the indentation around the block marks, gone with the
    # strip: the lines are searched once (a third of the cost of the passes below) and
    # cleaned only if something in them needs it, with the same result.
    joined = "\n".join(lines)
    if _ODD_IN_LINE.search(joined) is not None or "  " in joined:
        if _NOT_TEXT.search(joined):  # made by references such as &#1;
            joined = _NOT_TEXT.sub("", joined)
        joined = _WS_IN_LINE.sub(" ", joined)
        lines = [part for part in map(_strip_edge, joined.split("\n")) if part]
    return _cells(lines) if CELL in joined else lines


CELL_JOIN = "\t"


def _mark(data: bytes) -> bytes:
    """A line break before every block element's tags, a CELL mark before every table cell."""
    marked = _BLOCK_TAG_UTF8.sub(b"\n<", data)
    # A search first (it scans for '<' at C speed; `b"<t" in marked or b"<T" in marked` took
    # four times as long): most bodies hold no table.
    if _CELL_TAG_UTF8.search(marked) is not None:
        # The spaces and line breaks before a cell are layout, not paragraph breaks: a row
        # stays one line. rstrip per piece, not a `\s*<` pattern (quadratic on a run of spaces).
        pieces = _CELL_TAG_UTF8.split(marked)
        marked = (_CELL_UTF8 + b"<").join([p.rstrip(b" \t\r\n\f") for p in pieces[:-1]] + pieces[-1:])
    return marked


def _cells(lines: list[str]) -> list[str]:
    """Each line's cells separated by one CELL_JOIN (a tab), none at its ends; a line of only
    empty cells goes."""
    return [line for line in (_CELL_SEP.sub(CELL_JOIN, _CELL_EDGE.sub("", line)) for line in lines) if line]


def _text_of(marked: bytes, drop: _DropRule | None) -> str | None:
    """The text of the marked UTF-8 HTML, dropped elements left out; None for no document.
    Parse, drop and serialise in one step: the shared parser's error log is read before any
    other parse, and no tree outlives the call."""
    parser = _parser()
    root = etree.fromstring(marked, parser)
    last = parser.error_log.last_error
    if last is not None and last.level_name == "FATAL":
        # libxml2 stopped (nesting past its limit): the rest of the body would be lost unseen.
        raise HtmlLimit("html_too_deep", f"the HTML parser stopped early: {last.message.strip()}")
    if root is None:
        return None
    if drop is not None:
        for el in drop.hits(root):
            _remove_keep_tail(el)
    return etree.tostring(root, method="text", encoding="unicode")


def _xml_safe(html: str) -> str:
    """`html` without the characters lxml will not set as text, nor references to them."""
    def ref(m: re.Match) -> str:
        digits = m.group(1) or m.group(2)
        if len(digits) > 7:  # past U+10FFFF whatever the digits: the parser makes it U+FFFD
            return m.group(0)
        value = int(digits, 10 if m.group(1) else 16)
        return "" if value < 0x110000 and _NOT_TEXT.match(chr(value)) else m.group(0)

    return _NUMERIC_REF.sub(ref, _NOT_TEXT.sub("", html))


def _remove_keep_tail(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _flatten_deep(html: str, max_depth: int = MAX_HTML_DEPTH) -> str:
    """Elements nested past _MAX_DEPTH become <br> (a paragraph break here), rather than let the
    parser drop what lies below its depth limit; a run of them with nothing between becomes one.
    A tag for a tag: a broken tag before it (`</d `) still ends at its '>', as it did.
    Shallower markup, and so the classes the rules drop by, is left alone. Returns `html`
    itself when nothing is too deep.

    Nesting is tracked as the parser would, closely enough to over-count rather than under-count:
    an end tag closes the innermost open element of its name (and those inside it), an end
    tag with no open element of its name is ignored, void elements never open. Raises
    HtmlLimit past `max_depth`."""
    # split() gives text, tag, '/' or '', name, text, ...: one C call, then plain list work per
    # tag (a match object per tag cost three times as much on 5,000-deep files).
    parts = _TAG_SPLIT.split(html)
    texts, tags, slashes, names = parts[0::4], parts[1::4], parts[2::4], parts[3::4]
    stack: list[tuple[str, bool]] = []  # open elements: (name, was its start tag flattened?)
    open_count: dict[str, int] = {}     # name -> how many are open: a stray end tag costs O(1)
    changed = False
    for k, name in enumerate(names):
        name = name.lower()
        if name in _VOID:
            continue
        if slashes[k]:  # end tag
            if not open_count.get(name):
                continue
            while True:
                top, flat = stack.pop()
                open_count[top] -= 1
                if top == name:
                    break
        else:
            if stack and stack[-1][0] in _SIBLINGS.get(name, ()):
                top, _ = stack.pop()
                open_count[top] -= 1
            flat = len(stack) >= _MAX_DEPTH
            stack.append((name, flat))
            open_count[name] = open_count.get(name, 0) + 1
            if len(stack) > max_depth:
                raise HtmlLimit("html_too_deep", f"HTML elements nested over {max_depth:,} deep")
        if flat:
            changed = True
            tags[k] = "<br>"
            if k and not texts[k] and tags[k - 1] == "<br>":  # nothing since the last one: one will do
                tags[k - 1] = ""
    if not changed:
        return html
    out = [None] * (2 * len(tags) + 1)
    out[0::2], out[1::2] = texts, tags
    return "".join(out)


@lru_cache(maxsize=1)
def _parser() -> etree.HTMLParser:
    # huge_tree: without it libxml2 drops a text node over 10 MB (one long paragraph) unseen.
    return etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, default_doctype=False,
                            huge_tree=True, encoding="utf-8")


@dataclass(frozen=True)
class _DropRule:
    """What the rules drop, as sets: a walk over the elements tests each in O(1)."""
    tags: frozenset[str]
    classes: frozenset[str]
    ids: frozenset[str]

    def hits(self, root: etree._Element) -> list[etree._Element]:
        """The elements to drop, in document order (nested ones too: removing those from an
        already-removed subtree is harmless). A class attribute matches when one of its
        whitespace-separated tokens is a listed class, as CSS's `.name` does."""
        tags, classes, ids = self.tags, self.classes, self.ids
        found = []
        for el in root.iter(etree.Element):
            if el.tag in tags:
                found.append(el)
            elif classes and (c := el.get("class")) and not classes.isdisjoint(_CLASS_SEP.split(c)):
                found.append(el)
            elif ids and el.get("id") in ids:
                found.append(el)
        return found


_CLASS_SEP = re.compile(r"[ \t\r\n\f]+")


@lru_cache(maxsize=64)
def drop_rule(rules: tuple[RuleSet, ...]) -> _DropRule | None:
    # A Python walk with set lookups, not one XPath of `self::x or contains(...)` tests: with
    # ~30 tests per element the XPath cost three times the parse.
    tags, classes, ids = set(), set(), set()
    for rs in rules:
        tags |= set(rs.drop_tags)
        classes |= {t for c in rs.drop_classes for t in c.split()}
        ids |= set(rs.drop_ids)
    if not (tags or classes or ids):
        return None
    return _DropRule(frozenset(t.lower() for t in tags), frozenset(classes), frozenset(ids))


def _markdown_to_html(text: str) -> str:
    try:
        return markdown.to_html(text)
    except UnicodeDecodeError:  # cmark writes &#xfffe; and &#xffff; as bytes that are not UTF-8
        return markdown.to_html(_xml_safe(text))
