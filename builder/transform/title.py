"""An article's title when the front matter has none: its first heading, else its first sentence.

Linear-time patterns only: bodies reach 32 MB, and a lazy group that must find its end
(`(.+?)[ \t]*$`, `<h1>(.*?)</h1>` with no closer, `<[^>]+>` with no '>') rescans the rest of
the body from every start, which took minutes on a hostile file. The heading's closing '#'s
and the title's closing tag are found by string methods instead.
"""
from __future__ import annotations

import re

from .fields import clean_inline

_HEADING = re.compile(r"^[ \t]{0,3}#[ \t]+(\S.*)$", re.M)
_HTML_TITLE_OPEN = re.compile(r"<(title|h1)\b[^<>]*>", re.I)
_HTML_TITLE_CLOSE = {"title": re.compile(r"</title>", re.I), "h1": re.compile(r"</h1>", re.I)}
TAGS = re.compile(r"<[^<>]+>")
# Markdown that an HTML-looking body may still hold (Astro posts mix <p> blocks with these).
_MARKDOWN = re.compile(r"^[ \t]{0,3}(?:!\[|>\s*\[|\[[^\]\n]+\]\(|#{1,6}[ \t])|\]\(https?://", re.M)
# The same test, fast: a link target by substring, and the line-start constructs by a pattern
# that begins with a literal newline (searched over "\n" + body), which the regex engine finds
# by scanning for that one character instead of trying every alternative at every position.
_MARKDOWN_LINE = re.compile(r"\n[ \t]{0,3}(?:!\[|>\s*\[|\[[^\]\n]+\]\(|#{1,6}[ \t])")
_SENTENCE_END = re.compile(r"[。！？!?]|\.(?=\s|$)")
TITLE_FROM_TEXT_MAX = 64


def has_markdown(body: str) -> bool:
    """True when `body` holds Markdown that an HTML-looking body may still have (equal to
    `_MARKDOWN.search(body)`, several times faster)."""
    return "](http://" in body or "](https://" in body or _MARKDOWN_LINE.search("\n" + body) is not None


def is_html(rel_path: str, body: str) -> bool:
    """Whether the body is read as HTML: by the file's suffix, else by its first character
    (unless it holds Markdown)."""
    return rel_path.lower().endswith((".html", ".htm")) or (body.lstrip().startswith("<") and not has_markdown(body))


def title_from_body(body: str, is_html: bool) -> tuple[str | None, str]:
    """No title in the front matter: the first heading is the title, and leaves the body."""
    if is_html:
        inner = _html_title(body)
        return (clean_inline(TAGS.sub("", inner)) or None, body) if inner is not None else (None, body)
    m = _HEADING.search(body)
    if not m:
        return None, body
    # An ATX heading's closing sequence ('# Title ##') is not part of the title.
    title = m.group(1).rstrip(" \t").rstrip("#").rstrip(" \t") or m.group(1)[:1]
    return title, body[:m.start()] + body[m.end():]


def title_from_text(paragraph: str) -> str:
    """A title for an untitled article: its first sentence, cut at TITLE_FROM_TEXT_MAX
    characters (then ending with '…')."""
    m = _SENTENCE_END.search(paragraph, 0, TITLE_FROM_TEXT_MAX + 1)
    title = paragraph[:m.end()] if m else paragraph
    return title if len(title) <= TITLE_FROM_TEXT_MAX else title[:TITLE_FROM_TEXT_MAX - 1].rstrip() + "…"


def _html_title(body: str) -> str | None:
    """The content of the first <title> or <h1> that is closed; None when there is none."""
    unclosed: set[str] = set()
    for m in _HTML_TITLE_OPEN.finditer(body):
        name = m.group(1).lower()
        if name in unclosed:
            continue
        end = _HTML_TITLE_CLOSE[name].search(body, m.end())
        if end is not None:
            return body[m.end():end.start()]
        unclosed.add(name)  # no closer after this opener means none after any later one
        if len(unclosed) == 2:
            return None
    return None
