"""One file's bytes -> one row or one reject: the per-file work of a build.

`process_file` is a pure function of (relative path, bytes, settings): no I/O, no globals
that change, so it runs the same in this process, in a worker process, or as a task on a
distributed engine. `process_files` is the same over a batch, its files taken through the
work step by step together (builder.steps), as the build's workers run it.
Everything about a file that can go wrong ends here as a `Reject` with a reason code or as a
warning code on the row.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import clean, front_matter, quality, rules as rules_mod
from .dates import parse_date
from .dedup import content_sha256
from .decode import DecodeFailure, decode
from .errors import Reject
from .language import detect_language
from .settings import BuildSettings
from .steps import Steps, run_steps, run_together

ID_KEYS = ("id", "guid", "uuid")
URL_KEYS = ("url", "link", "permalink", "source_url", "original_url", "canonical_url")
DATE_KEYS = ("date", "pubDate", "pubdate", "published", "pub_date", "publishDate", "published_at", "created",
             "created_at")
AUTHOR_KEYS = ("author", "authors")
CATEGORY_KEYS = ("categories", "category", "tags", "tag", "keywords")
IMAGE_KEYS = ("headimg", "thumbnail", "image", "cover", "cover_image", "featured_image", "img", "banner",
              "image_feature", "feature_image", "featureImage", "heroImage", "hero_image", "hero", "og_image",
              "ogImage", "image_url", "thumbnail_url", "thumb", "header_image", "lead_image", "poster")
META_KEYS = ("source", "editor", "original_title")
# Folders that hold posts in site generators: what follows is the feed, what precedes the site.
_POST_DIRS = {"_posts", "posts", "post"}
_GENERIC_DIRS = {"source", "src", "pages", "content", "site", "blog", "docs"}
# Linear-time patterns only: bodies reach 32 MB, and a lazy group that must find its end
# (`(.+?)[ \t]*$`, `<h1>(.*?)</h1>` with no closer, `<[^>]+>` with no '>') rescans the rest
# of the body from every start, which took minutes on a hostile file. The heading's closing
# '#'s and the title's closing tag are found by string methods instead.
_HEADING = re.compile(r"^[ \t]{0,3}#[ \t]+(\S.*)$", re.M)
_HTML_TITLE_OPEN = re.compile(r"<(title|h1)\b[^<>]*>", re.I)
_HTML_TITLE_CLOSE = {"title": re.compile(r"</title>", re.I), "h1": re.compile(r"</h1>", re.I)}
_TAGS = re.compile(r"<[^<>]+>")
# Markdown that an HTML-looking body may still hold (Astro posts mix <p> blocks with these).
_MARKDOWN = re.compile(r"^[ \t]{0,3}(?:!\[|>\s*\[|\[[^\]\n]+\]\(|#{1,6}[ \t])|\]\(https?://", re.M)
# The same test, fast: a link target by substring, and the line-start constructs by a pattern
# that begins with a literal newline (searched over "\n" + body), which the regex engine finds
# by scanning for that one character instead of trying every alternative at every position.
_MARKDOWN_LINE = re.compile(r"\n[ \t]{0,3}(?:!\[|>\s*\[|\[[^\]\n]+\]\(|#{1,6}[ \t])")


def has_markdown(body: str) -> bool:
    """True when `body` holds Markdown that an HTML-looking body may still have (equal to
    `_MARKDOWN.search(body)`, several times faster)."""
    return "](http://" in body or "](https://" in body or _MARKDOWN_LINE.search("\n" + body) is not None
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]{2,8});")


@dataclass
class FileResult:
    """What became of one file: exactly one of `row` and `reject` is set."""

    path: str
    row: dict[str, Any] | None = None
    reject: Reject | None = None
    warnings: list[str] = field(default_factory=list)
    sha256: str | None = None  # of the file's bytes, for the build's input manifest


def process_file(rel_path: str, data: bytes, settings: BuildSettings) -> FileResult:
    """Pure: the file's path within the source root, its bytes and the settings -> FileResult."""
    return run_steps(file_steps(rel_path, data, settings))


def process_files(files: Sequence[tuple[str, bytes]], settings: BuildSettings) -> list[FileResult]:
    """Pure: `process_file` of each (path, bytes), in order; the files' steps run in rounds
    (builder.steps: the same results, a quarter faster)."""
    return run_together([file_steps(rel, data, settings) for rel, data in files])


def file_steps(rel_path: str, data: bytes, settings: BuildSettings) -> Steps[FileResult]:
    """`process_file` as a generator of steps (builder.steps). Each file's steps depend on its
    own bytes and the settings only, so files whose steps interleave get what each gets alone."""
    try:
        return (yield from _process(rel_path, data, settings))
    except Exception as exc:  # a bug must cost one file, never the build; the reason says so
        return FileResult(rel_path, reject=Reject(rel_path, "internal_error", f"{type(exc).__name__}: {exc}"))


def _reject(path: str, reason: str, message: str) -> FileResult:
    return FileResult(path, reject=Reject(path, reason, message))


def _process(rel_path: str, data: bytes, settings: BuildSettings) -> Steps[FileResult]:
    if len(data) > settings.max_file_bytes:
        return _reject(rel_path, "too_large", f"{len(data):,} bytes is over the {settings.max_file_bytes:,}-byte limit")
    try:
        text, encoding, low_confidence = decode(data)
    except DecodeFailure as exc:
        return _reject(rel_path, exc.reason, exc.message)
    warnings = ["encoding_fallback"] if low_confidence else []
    yield
    try:
        fm = front_matter.parse(text, max_bytes=settings.max_frontmatter_bytes,
                                max_alias_nodes=settings.max_alias_nodes)
    except front_matter.FrontMatterTooLarge as exc:
        return _reject(rel_path, "frontmatter_too_large", str(exc))
    warnings += fm.warnings
    meta, body = fm.meta, fm.body
    yield
    used: set[str] = set()

    # Cleaned before it is tested: a title of only entities or spaces is no title.
    title = _clean_inline(_text_value(_first(meta, ("title",), used)) or "")
    is_html = rel_path.lower().endswith((".html", ".htm")) or (
        body.lstrip().startswith("<") and not has_markdown(body))
    if not title:
        title, body = _title_from_body(body, is_html)
        title = _clean_inline(title or "")
        if title and fm.format == "none":
            warnings.append("no_frontmatter")
    if not title:
        # A saved error page has no title either: say what it is rather than "no title".
        verdict = quality.check("", _TAGS.sub(" ", body), None, settings.quality)
        if verdict is not None and verdict[0] == "error_page":
            return _reject(rel_path, *verdict)

    categories = _as_list(_first(meta, CATEGORY_KEYS, used))
    author = _text_value(_first(meta, AUTHOR_KEYS, used))
    feed = _feed(rel_path, categories)
    rule_sets = rules_mod.select(rules_mod.load_rules(settings.rules_dirs), feed=feed or "", author=author or "",
                                 path=rel_path, body=body[:20000])
    yield
    try:
        cleaned = yield from clean.clean_steps(body, is_html=is_html, rules=rule_sets,
                                               max_depth=settings.max_html_depth,
                                               max_elements=settings.max_html_elements)
    except clean.HtmlLimit as exc:
        return _reject(rel_path, exc.reason, exc.message)
    warnings += cleaned.warnings
    text_out = "\n\n".join(cleaned.paragraphs)
    if not title:
        # An untitled file with an article's worth of text is an article: its first sentence
        # is the title. Less text than that is a fragment, not an article.
        if len(text_out) < settings.min_chars_for_text_title:
            return _reject(rel_path, "no_title", f"no title in the front matter, no '# ' heading in the body, and "
                                                 f"{len(text_out)} characters of text, fewer than "
                                                 f"min_chars_for_text_title={settings.min_chars_for_text_title}, "
                                                 "to take one from")
        title = title_from_text(cleaned.paragraphs[0])
        warnings.append("title_from_text")
    if not text_out:
        return _reject(rel_path, "empty_text", "no text is left once markup and boilerplate are removed")
    yield
    language = detect_language(text_out)
    yield
    verdict = quality.check(title, text_out, language, settings.quality)
    if verdict is not None:
        return _reject(rel_path, *verdict)
    yield

    date_raw = _text_value(_first(meta, DATE_KEYS, used))
    date, assumed = parse_date(date_raw, settings.naive_timezone) if date_raw else (None, False)
    if not date_raw:
        warnings.append("date_missing")
    elif date is None:
        warnings.append("date_unparseable")
    yield

    ident = _text_value(_first(meta, ID_KEYS, used))
    url_value = _text_value(_first(meta, URL_KEYS, used))
    url = url_value if url_value and url_value.startswith(("http://", "https://")) else None
    image = _image(meta, used, rule_sets)
    found = {k: _text_value(_first(meta, (k,), used)) for k in META_KEYS}
    for key in META_KEYS:  # the front matter's word first, then what the body's boilerplate said
        found[key] = found[key] or _clean_inline(str(cleaned.meta.get(key) or "")) or None
    extra = {k: v for k, v in meta.items() if k not in used}
    content_hash = content_sha256(text_out)
    yield

    return FileResult(rel_path, row={
        "id": make_id(rel_path, ident=ident, url=url_value),
        "title": title,
        "text": text_out,
        "date": date,
        "date_assumed_tz": settings.naive_timezone if date is not None and assumed else None,
        "author": author or _clean_inline(str(cleaned.meta.get("author") or "")) or None,
        "categories": categories,
        "feed": feed,
        "source": found["source"],
        "editor": found["editor"],
        "original_title": found["original_title"],
        "stock_codes": list(cleaned.meta.get("stock_codes", [])),
        "url": url or cleaned.meta.get("url"),
        "image_url": image,
        "language": language,
        "n_chars": len(text_out),
        "n_paragraphs": len(cleaned.paragraphs),
        "source_path": rel_path,
        "encoding": encoding,
        "content_sha256": content_hash,
        "warnings": sorted(set(warnings)),
        "extra": json.dumps(extra, ensure_ascii=False, sort_keys=True),
    }, warnings=sorted(set(warnings)))


_SENTENCE_END = re.compile(r"[。！？!?]|\.(?=\s|$)")
TITLE_FROM_TEXT_MAX = 64


def title_from_text(paragraph: str) -> str:
    """A title for an untitled article: its first sentence, cut at TITLE_FROM_TEXT_MAX
    characters (then ending with '…')."""
    m = _SENTENCE_END.search(paragraph, 0, TITLE_FROM_TEXT_MAX + 1)
    title = paragraph[:m.end()] if m else paragraph
    return title if len(title) <= TITLE_FROM_TEXT_MAX else title[:TITLE_FROM_TEXT_MAX - 1].rstrip() + "…"


def make_id(rel_path: str, *, ident: str | None = None, url: str | None = None) -> str:
    """Stable id: from the front matter's id, else its URL, else the normalised path.
    Never from iteration order, so two machines and two runs agree."""
    if ident:
        key = "id:" + ident.strip()
    elif url:
        key = "url:" + _normalise_url(url)
    else:
        key = "path:" + normalise_path(rel_path)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def normalise_path(rel_path: str) -> str:
    return unicodedata.normalize("NFC", rel_path.replace("\\", "/").strip("/"))


def _normalise_url(url: str) -> str:
    url = url.strip().split("#", 1)[0]
    m = re.match(r"^([A-Za-z][\w+.-]*://)([^/]*)(.*)$", url)
    return (m.group(1).lower() + m.group(2).lower() + m.group(3)) if m else url


def _first(meta: dict, keys: tuple[str, ...], used: set[str]) -> Any:
    for key in keys:
        value = meta.get(key)
        if value not in (None, "", [], {}):
            used.add(key)
            return value
    return None


def _text_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(t for t in (_text_value(v) for v in value) if t) or None
    if isinstance(value, dict):
        return _text_value(value.get("name") or value.get("title") or value.get("url"))
    return str(value).strip() or None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else re.split(r"\s*,\s*", str(value))
    return [t for t in (_clean_inline(str(v)) for v in items if not isinstance(v, (dict, list))) if t]


def _clean_inline(s: str) -> str:
    if "&" in s and _ENTITY.search(s):
        s = html.unescape(s)  # the archiver rewrites { and } as &#123; &#125; everywhere
    return " ".join(s.split()).strip("\u3000")


def _image(meta: dict, used: set[str], rule_sets: tuple) -> str | None:
    for key in IMAGE_KEYS:
        value = meta.get(key)
        url = _text_value(value)
        if url and url.startswith(("http://", "https://", "//")):
            used.add(key)
            return None if rules_mod.is_placeholder_image(url, rule_sets) else url
    return None


def _feed(rel_path: str, categories: list[str]) -> str | None:
    """The folders after the archive's posts folder (Hexo: category/feed/sub-feed), else the
    site folder before it (an Astro site's posts sit directly in src/pages/posts), else the
    categories, else the file's folder."""
    parts = normalise_path(rel_path).split("/")[:-1]
    marks = [i for i, p in enumerate(parts) if p.lower() in _POST_DIRS]
    if marks:
        after = parts[marks[-1] + 1:]
        before = [p for p in parts[:marks[-1]] if p.lower() not in _GENERIC_DIRS]
        return "/".join(after or before or categories) or None
    return "/".join(categories) if categories else ("/".join(parts) or None)


def _title_from_body(body: str, is_html: bool) -> tuple[str | None, str]:
    """No title in the front matter: the first heading is the title, and leaves the body."""
    if is_html:
        inner = _html_title(body)
        return (_clean_inline(_TAGS.sub("", inner)) or None, body) if inner is not None else (None, body)
    m = _HEADING.search(body)
    if not m:
        return None, body
    # An ATX heading's closing sequence ('# Title ##') is not part of the title.
    title = m.group(1).rstrip(" \t").rstrip("#").rstrip(" \t") or m.group(1)[:1]
    return title, body[:m.start()] + body[m.end():]


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

