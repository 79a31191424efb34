"""Bodies (HTML or Markdown) -> clean paragraphs.

One pure function, `clean_body`: parse the body, drop the elements the rules name, walk the
tree turning block elements (and line breaks in the source) into paragraph breaks, then let
the paragraph rules turn boilerplate lines into metadata. lxml is used directly (it is
BeautifulSoup's fast back end; its tree is what BeautifulSoup would build, at a fraction of
the cost). Markdown is rendered to HTML by cmark (GitHub's CommonMark, in C) first, so both
share one cleaner.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import cmarkgfm
from cmarkgfm.cmark import Options as _CmarkOptions
from lxml import etree

from .rules import RuleSet, apply_paragraph_rules, apply_raw_rules, apply_strip_rules

BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table thead tbody tfoot tr td th section article "
    "header footer aside nav figure figcaption hr dl dt dd address main center details summary form "
    "fieldset caption body html".split())
_WS = re.compile(r"[ \t\n\r\f\v\u00a0\u2000-\u200b\u202f\u205f]+")
_MARK = "\n"  # a line break is a paragraph break here, so it can mark block boundaries too
_BREAK = re.compile(r"\n+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EDGE = " \t\n\r\f\v\u00a0\u3000\u200b\ufeff"
_TAG = re.compile(r"<(/?)(div|section|span|font|center|blockquote|table|tr|td|ul|li)\b[^>]*>", re.I)
_CMARK_OPTIONS = _CmarkOptions.CMARK_OPT_UNSAFE | _CmarkOptions.CMARK_OPT_NOBREAKS
_MAX_DEPTH = 200  # libxml2 silently drops content nested deeper than 256 elements


@dataclass
class Cleaned:
    paragraphs: list[str]
    meta: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def clean_body(body: str, *, is_html: bool, rules: tuple[RuleSet, ...]) -> Cleaned:
    """Pure: body text and the rule sets that apply -> paragraphs, extracted metadata, warnings."""
    meta: dict[str, object] = {}
    apply_raw_rules(body, rules, meta)
    html = apply_strip_rules(body if is_html else _markdown_to_html(body), rules)
    warnings: list[str] = []
    if html.count("<") > 4 * _MAX_DEPTH:
        flat = _flatten_deep(html)
        if flat is not html:
            html = flat
            warnings.append("html_truncated")
    paragraphs = html_to_paragraphs(html, _drop_xpath(rules))
    paragraphs = apply_paragraph_rules(paragraphs, rules, meta)
    return Cleaned(paragraphs, meta, warnings)


def html_to_paragraphs(html: str, drop: etree.XPath | None = None) -> list[str]:
    """HTML -> paragraphs: comments and dropped elements gone, entities unescaped, whitespace
    collapsed inside a paragraph, leading U+3000 indentation stripped."""
    if not html.strip():
        return []
    # Control characters are never text, and lxml refuses them in the text we set below.
    root = etree.fromstring(_CONTROL.sub("", html), _parser())
    if root is None:
        return []
    if drop is not None:
        for el in drop(root):
            _remove_keep_tail(el)
    # Mark where each block element opens and closes, then let libxml2 serialise the text in
    # one C call: a Python walk over every node costs ten times more on large articles.
    for el in root.iter(*BLOCK_TAGS):
        el.text = _MARK + el.text if el.text else _MARK
        el.tail = _MARK + el.tail if el.tail else _MARK
    text = etree.tostring(root, method="text", encoding="unicode")
    # A line break in the source also separates paragraphs in these feeds (36kr briefs).
    paragraphs = []
    for part in _BREAK.split(text):
        part = _WS.sub(" ", part).strip(_EDGE)
        if part:
            paragraphs.append(part)
    return paragraphs


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


def _flatten_deep(html: str) -> str:
    """Containers nested past _MAX_DEPTH become line breaks (paragraph breaks here), rather
    than let the parser drop what lies below its depth limit. Shallower markup, and so the
    classes the rules drop by, is left alone. Returns `html` itself when nothing is too deep."""
    out: list[str] = []
    flattened: list[bool] = []  # per open container: was its opening tag flattened?
    last, changed = 0, False
    for m in _TAG.finditer(html):
        if m.group(1):  # closing tag
            flat = flattened.pop() if flattened else False
        else:
            flat = len(flattened) >= _MAX_DEPTH
            flattened.append(flat)
        if flat:
            out.append(html[last:m.start()])
            out.append("\n")
            last, changed = m.end(), True
    if not changed:
        return html
    out.append(html[last:])
    return "".join(out)


@lru_cache(maxsize=1)
def _parser() -> etree.HTMLParser:
    return etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, default_doctype=False)


@lru_cache(maxsize=64)
def _drop_xpath(rules: tuple[RuleSet, ...]) -> etree.XPath | None:
    tags, classes, ids = set(), set(), set()
    for rs in rules:
        tags |= set(rs.drop_tags)
        classes |= set(rs.drop_classes)
        ids |= set(rs.drop_ids)
    # Tag tests first and one cheap attribute test before the string work: most elements
    # have no class, and the class test is what made this XPath the cleaner's hot spot.
    parts = [f"self::{t}" for t in sorted(tags)]
    if classes:
        parts.append("@class and (" + " or ".join(
            f"contains(concat(' ', normalize-space(@class), ' '), ' {c} ')" for c in sorted(classes)) + ")")
    if ids:
        parts.append("@id and (" + " or ".join(f"@id='{i}'" for i in sorted(ids)) + ")")
    return etree.XPath("//*[" + " or ".join(parts) + "]") if parts else None


def _markdown_to_html(text: str) -> str:
    # UNSAFE keeps raw HTML blocks (Astro posts mix <p>/<figure> with Markdown); NOBREAKS
    # renders a soft line break as a space: a wrapped line, not a new paragraph.
    return cmarkgfm.markdown_to_html(text, options=_CMARK_OPTIONS)
