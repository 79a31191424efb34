"""Markdown bodies -> HTML, as the authors' sites show them, for the cleaner.

cmark-gfm (GitHub's CommonMark, in C) with its table and strikethrough extensions renders the
body. Three things that the authors' renderers (kramdown, markdown-it with CJK-friendly
options) read as Markdown and CommonMark does not are mended around it:
- HTML indented four spaces is HTML, not a code block showing tags (`prepare`);
- a Markdown line right after an HTML line starts a Markdown block of its own instead of
  staying inside the HTML block (`prepare`);
- Markdown left as text once rendered, inside raw HTML or next to CJK punctuation
  (`**这一行为是否合理？**我的回答是`, where CommonMark's flanking rules refuse the `**`), is
  read as images, links, emphasis and strikethrough (`inline_leftovers`); a `**` left unpaired
  against CJK text is a broken pair's delimiter and goes.
Every pattern here is linear in its input: bodies reach 32 MB.
"""
from __future__ import annotations

import ctypes
import re
from functools import lru_cache

from cmarkgfm import _cmark
from cmarkgfm.cmark import Options as _Options

# UNSAFE keeps raw HTML blocks (Astro posts mix <p>/<figure> with Markdown); NOBREAKS renders a
# soft line break as a space: a wrapped line, not a new paragraph. Strikethrough only with
# two tildes: `1~3` is a range in Chinese and Japanese text.
OPTIONS = _Options.CMARK_OPT_UNSAFE | _Options.CMARK_OPT_NOBREAKS | _Options.CMARK_OPT_STRIKETHROUGH_DOUBLE_TILDE
EXTENSIONS = (b"table", b"strikethrough")

# A line that starts an HTML block (CommonMark's kinds 1-7, closely enough): '<' then a tag
# name, '/', '!' or '?'. Indented four or more spaces (or a tab) it is HTML all the same.
_HTML_LINE = re.compile(r"[ \t]*<(/?)([A-Za-z][A-Za-z0-9-]*)(?=[\s/>]|$)|[ \t]*<[!?]")
# CommonMark's kinds 1 and 6: these start an HTML block even right after a paragraph line.
_BLOCK_NAMES = frozenset(
    "address article aside base basefont blockquote body caption center col colgroup dd details dialog dir div dl "
    "dt fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 head header hr html iframe legend "
    "li link main menu menuitem nav noframes ol optgroup option p param pre script section source style summary "
    "table tbody td textarea tfoot th thead title tr track ul".split())
_FENCE = re.compile(r"[ ]{0,3}(?:```|~~~)(.*)")
# Where `prepare` may change a text without fences, searched over "\n" + text (a pattern that
# starts with a literal newline: the engine scans for that one character): a line indented four
# columns or more before a '<', or a line that starts with '<' followed directly by a non-blank
# line that is no HTML line. A superset of the lines prepare changes: most bodies hold none,
# and their lines need no pass in Python.
_MAY_PREPARE = re.compile(r"\n(?:(?: {0,3}\t| {4})[ \t]*+<"
                          r"|[ \t]*<[^\n]*\n(?![ \t]*+<(?:/?[A-Za-z][A-Za-z0-9-]*(?=[\s/>]|$)|[!?]))[^\S\n]*+\S)")
MARKDOWN_LEFT = ("](", "**", "~~", "__")
# Image: dropped, as a rendered <img> is (its alt text is not the article's text).
_IMAGE = re.compile(r'!\[[^\[\]\n]*\]\([^()\s]*(?:[ \t]+"[^"\n]*")?[ \t]*\)')
# Link: its text stays. Link text without brackets, a target without spaces or parentheses.
_LINK = re.compile(r'\[([^\[\]\n]+)\]\((?:[a-z][a-z0-9+.-]*:|/|#|\.)[^()\s]*(?:[ \t]+"[^"\n]*")?[ \t]*\)', re.I)
# A link cut off before its ')' (a truncated line): its text stays, the address goes.
_CUT_LINK = re.compile(r"\[([^\[\]\n]+)\]\([a-z][a-z0-9+.-]*://[^()\s]*$", re.I | re.M)
_STRONG = re.compile(r"\*\*([^*\n]+)\*\*")
# A `**` left once the pairs are taken (a pair broken by an edit: `*One Piece**，公主**Vivi**以`)
# is a delimiter where it touches CJK text or punctuation; between ASCII letters, digits or
# spaces (`2**10`, `a ** b`) it stays, and so does a longer run of asterisks.
_LONE_STRONG = re.compile(r"(?<![*A-Za-z0-9\s])\*\*(?!\*)|(?<!\*)\*\*(?![*A-Za-z0-9\s])")
# Not inside ASCII words (snake_case, __init__, URLs); CJK on either side is fine.
_UNDERLINE_STRONG = re.compile(r"(?<![A-Za-z0-9_/=\"'])__([^_\n<>]+)__(?![A-Za-z0-9_])")
_STRIKE = re.compile(r"~~([^~\n]+)~~")
_TAG_OR_TEXT = re.compile(r"(<[^<>]*>)")


def to_html(text: str) -> str:
    """The HTML for a Markdown body, with the mends above."""
    html = render(prepare(text))
    return inline_leftovers(html) if has_leftovers(html) else html


def has_leftovers(text: str) -> bool:
    """Whether `text` may hold Markdown for `inline_leftovers` (one of MARKDOWN_LEFT). A
    character is looked for first, its pair only when it is there: CPython finds one character
    several times faster than two (~1 against ~8 us a 2,000-character body, four marks)."""
    return (("*" in text and "**" in text) or ("~" in text and "~~" in text) or ("]" in text and "](" in text)
            or ("_" in text and "__" in text))


def prepare(text: str) -> str:
    """Indented HTML lines lose their indentation; a blank line goes between an HTML line and a
    Markdown line after it; a fenced block that wraps the article (```markdown, ```html, or
    no language and HTML inside: a converter's wrapping) loses its fences. Other fenced code is
    left alone. Returns `text` itself when nothing changed."""
    if "<" not in text and "```" not in text:
        return text
    if "```" not in text and "~~~" not in text and _MAY_PREPARE.search("\n" + text) is None:
        return text
    lines = text.split("\n")
    out: list[str] = []
    in_fence = in_html = changed = wrapped = False
    after_blank = True
    for i, line in enumerate(lines):
        fence = _FENCE.match(line)
        if fence and not in_fence:
            if wrapped and not fence.group(1).strip():  # the wrapping fence's closing line
                wrapped = False
                continue
            if not wrapped and _wraps_article(fence.group(1), lines, i):
                wrapped = changed = True
                continue
        m = None if in_fence else _HTML_LINE.match(line)
        if fence:
            in_fence = not in_fence
        elif m and (after_blank or in_html or m.group(2) is None or m.group(2).lower() in _BLOCK_NAMES):
            stripped = line.lstrip(" \t")
            if len(line[:len(line) - len(stripped)].expandtabs(4)) >= 4:
                line, changed = stripped, True
            in_html = True
        elif not line.strip():
            in_html = False
        elif in_html and not in_fence:
            out.append("")
            in_html, changed = False, True
        after_blank = not line.strip()
        out.append(line)
    return "\n".join(out) if changed else text


def _wraps_article(info: str, lines: list[str], i: int) -> bool:
    """Whether the fence opening at lines[i] wraps Markdown or HTML meant to be shown."""
    lang = info.strip().lower()
    if lang in ("markdown", "md", "html"):
        return True
    if lang:
        return False
    following = next((line for line in lines[i + 1:i + 20] if line.strip()), "")
    return bool(_HTML_LINE.match(following))


def inline_leftovers(html: str) -> str:
    """Markdown still in the text of rendered HTML read as Markdown: images dropped, link
    text kept, `**`, `__` and `~~` pairs taken away. Only text between tags is touched."""
    parts = _TAG_OR_TEXT.split(html)
    for i in range(0, len(parts), 2):
        part = parts[i]
        if part and has_leftovers(part):
            parts[i] = _inline(part)
    return "".join(parts)


def _inline(text: str) -> str:
    if "](" in text:
        text = _CUT_LINK.sub(r"\1", _LINK.sub(r"\1", _IMAGE.sub("", text)))
    if "**" in text:
        text = _STRONG.sub(r"\1", text)
        if "**" in text:
            text = _LONE_STRONG.sub("", text)
    if "__" in text:
        text = _UNDERLINE_STRONG.sub(r"\1", text)
    if "~~" in text:
        text = _STRIKE.sub(r"\1", text)
    return text


def render(text: str) -> str:
    """cmark-gfm's HTML for `text` (tables, strikethrough), every buffer freed: cmarkgfm's own
    wrappers free neither the HTML (a worker leaked the size of every Markdown article's
    HTML, 90 MB over 25,000 Astro posts) nor the document tree."""
    return _render(text.encode("utf-8"))


def _render(data: bytes) -> str:
    lib, ffi = _cmark.lib, _cmark.ffi
    parser = lib.cmark_parser_new(OPTIONS)
    root = ffi.NULL
    try:
        for ext in _extensions():
            lib.cmark_parser_attach_syntax_extension(parser, ext)
        lib.cmark_parser_feed(parser, data, len(data))
        root = lib.cmark_parser_finish(parser)
        raw = lib.cmark_render_html(root, OPTIONS, lib.cmark_parser_get_syntax_extensions(parser))
        try:
            return ffi.string(raw).decode("utf-8")
        finally:
            _free(int(ffi.cast("uintptr_t", raw)))
    finally:
        if root != ffi.NULL:
            _node_free(int(ffi.cast("uintptr_t", root)))
        lib.cmark_parser_free(parser)


@lru_cache(maxsize=1)
def _extensions() -> tuple:
    _cmark.lib.cmark_gfm_core_extensions_ensure_registered()
    return tuple(_cmark.lib.cmark_find_syntax_extension(name) for name in EXTENSIONS)


# cmark allocates with the C library's malloc; the tree is freed by cmark's own function.
_free = ctypes.CDLL(None).free
_free.argtypes = [ctypes.c_void_p]
_free.restype = None
_node_free = ctypes.CDLL(_cmark.__file__).cmark_node_free
_node_free.argtypes = [ctypes.c_void_p]
_node_free.restype = None
