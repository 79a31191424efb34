"""One file's bytes -> one row or one reject: the per-file steps of a build, in one list.

`process_file` is a pure function of (relative path, bytes, settings): no I/O, no globals that
change, so it runs the same in this process, in a worker process, or as a task on a
distributed engine. `process_files` is the same over a batch.

Each step is a plain function `(Article, BuildSettings) -> Article` (builder.read.article): it
fills in what it finds, or rejects the file with a reason code; STEPS runs them in order.
A batch is run a step at a time (`run_steps`: every file's first step, then every file's
second, ...), which gives each file what it gets alone and is about a quarter faster: each
step's code and tables stay in the CPU's caches for the whole batch, instead of being evicted
by the other steps of one file before the next file needs them. Steps must not share state
that changes (the shared HTML parser's error log is read in the same step as the parse).
Everything about a file that can go wrong ends as a reject with a reason code or as a warning
code on the row.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ..dedup import content_sha256
from ..read import front_matter
from ..read.article import Article
from ..read.decode import DecodeFailure, decode
from ..schema import FILE_COLUMNS
from ..settings import BuildSettings
from . import clean, quality, rules
from .dates import parse_date
from .fields import (AUTHOR_KEYS, CATEGORY_KEYS, DATE_KEYS, ID_KEYS, META_KEYS, URL_KEYS, as_list, clean_inline,
                     feed_of, first, image_of, text_value)
from .ids import make_id
from .language import detect_language
from .title import TAGS, is_html, title_from_body, title_from_text

Step = Callable[[Article, BuildSettings], Article]


def process_file(rel_path: str, data: bytes, settings: BuildSettings) -> Article:
    """Pure: the file's path within the source root, its bytes and the settings -> its Article,
    with a row or a reject."""
    return run_steps([Article(rel_path, data)], settings)[0]


def process_files(files: Sequence[tuple[str, bytes]], settings: BuildSettings) -> list[Article]:
    """Pure: `process_file` of each (path, bytes), in order, run a step at a time over them."""
    return run_steps([Article(rel, data) for rel, data in files], settings)


def decode_bytes(a: Article, s: BuildSettings) -> Article:
    """The bytes -> text (builder.read.decode), unless the file is over the size limit."""
    data = a.data
    if len(data) > s.max_file_bytes:
        return a.rejected("too_large", f"{len(data):,} bytes is over the {s.max_file_bytes:,}-byte limit")
    try:
        a.text, a.encoding, low_confidence = decode(data)
    except DecodeFailure as exc:
        return a.rejected(exc.reason, exc.message)
    if low_confidence:
        a.warnings.append("encoding_fallback")
    a.data = None
    return a


def read_front_matter(a: Article, s: BuildSettings) -> Article:
    """The text -> front matter and body (builder.read.front_matter)."""
    try:
        fm = front_matter.parse(a.text, max_bytes=s.max_frontmatter_bytes, max_alias_nodes=s.max_alias_nodes)
    except front_matter.FrontMatterTooLarge as exc:
        return a.rejected("frontmatter_too_large", str(exc))
    a.warnings += fm.warnings
    a.front_matter, a.front_matter_format, a.body, a.text = fm.meta, fm.format, fm.body, None
    return a


def find_title(a: Article, s: BuildSettings) -> Article:
    """The title from the front matter, else the body's first heading (which leaves the body);
    whether the body is HTML. An untitled saved error page is rejected as one."""
    # Cleaned before it is tested: a title of only entities or spaces is no title.
    title = clean_inline(text_value(first(a.front_matter, ("title",), a.used)) or "")
    a.is_html = is_html(a.path, a.body)
    if not title:
        title, a.body = title_from_body(a.body, a.is_html)
        title = clean_inline(title or "")
        if title and a.front_matter_format == "none":
            a.warnings.append("no_frontmatter")
    if not title:
        # A saved error page has no title either: say what it is rather than "no title".
        verdict = quality.check("", TAGS.sub(" ", a.body), None, s.quality)
        if verdict is not None and verdict[0] == "error_page":
            return a.rejected(*verdict)
    a.fields["title"] = title  # "" until the text gives one (finish_text)
    return a


def choose_rules(a: Article, s: BuildSettings) -> Article:
    """Categories, author and feed, and the rule sets that apply to the file (builder.transform.rules)."""
    categories = as_list(first(a.front_matter, CATEGORY_KEYS, a.used))
    author = text_value(first(a.front_matter, AUTHOR_KEYS, a.used))
    feed = feed_of(a.path, categories)
    a.rules = rules.select(rules.load_rules(s.rules_dirs), feed=feed or "", author=author or "", path=a.path,
                           body=a.body[:20000])
    a.fields.update(categories=categories, author=author, feed=feed)
    return a


def to_html(a: Article, s: BuildSettings) -> Article:
    """The body as HTML, what the rules strip gone; what the raw rules find to `found`."""
    a.html = clean.to_html(a.body, is_html=a.is_html, rules=a.rules, meta=a.found)
    return a


def check_markup(a: Article, s: BuildSettings) -> Article:
    """Too many elements or nested too deep: rejected; deep but within the limit: flattened."""
    try:
        a.html = clean.within_limits(a.html, max_depth=s.max_html_depth, max_elements=s.max_html_elements,
                                     warnings=a.warnings)
    except clean.HtmlLimit as exc:
        return a.rejected(exc.reason, exc.message)
    return a


def mark_blocks(a: Article, s: BuildSettings) -> Article:
    a.marked = clean.mark_blocks(a.html)
    if a.marked is None:
        a.html, a.lines = None, []
    return a


def parse_html(a: Article, s: BuildSettings) -> Article:
    """The marked HTML -> its text, as lines (dropped elements left out)."""
    if a.marked is None:
        return a
    try:
        text = clean.text_of(a.marked, a.html, clean.drop_rule(a.rules))
    except clean.HtmlLimit as exc:
        return a.rejected(exc.reason, exc.message)
    a.html = a.marked = None
    a.text = text
    return a


def split_lines(a: Article, s: BuildSettings) -> Article:
    if a.lines is None:
        a.lines = clean.lines_of(a.text) if a.text is not None else []
        a.text = None
    return a


def finish_text(a: Article, s: BuildSettings) -> Article:
    """The paragraph rules (boilerplate lines -> `found`), the clean text, and the title taken
    from it when the file had none; no text left, or too little to take a title from: rejected."""
    a.paragraphs = rules.apply_paragraph_rules(a.lines, a.rules, a.found)
    a.lines = None
    a.text = text = "\n\n".join(a.paragraphs)
    if not a.fields["title"]:
        # An untitled file with an article's worth of text is an article: its first sentence
        # is the title. Less text than that is a fragment, not an article.
        if len(text) < s.min_chars_for_text_title:
            return a.rejected("no_title", f"no title in the front matter, no '# ' heading in the body, and "
                                          f"{len(text)} characters of text, fewer than "
                                          f"min_chars_for_text_title={s.min_chars_for_text_title}, "
                                          "to take one from")
        a.fields["title"] = title_from_text(a.paragraphs[0])
        a.warnings.append("title_from_text")
    if not text:
        return a.rejected("empty_text", "no text is left once markup and boilerplate are removed")
    return a


def find_language(a: Article, s: BuildSettings) -> Article:
    a.fields["language"] = detect_language(a.text)
    return a


def check_quality(a: Article, s: BuildSettings) -> Article:
    """builder.transform.quality's filters: the first one the article fails rejects it."""
    verdict = quality.check(a.fields["title"], a.text, a.fields["language"], s.quality)
    return a if verdict is None else a.rejected(*verdict)


def read_date(a: Article, s: BuildSettings) -> Article:
    date_raw = text_value(first(a.front_matter, DATE_KEYS, a.used))
    date, assumed = parse_date(date_raw, s.naive_timezone) if date_raw else (None, False)
    if not date_raw:
        a.warnings.append("date_missing")
    elif date is None:
        a.warnings.append("date_unparseable")
    a.fields.update(date=date, date_assumed_tz=s.naive_timezone if date is not None and assumed else None)
    return a


def find_fields(a: Article, s: BuildSettings) -> Article:
    """The id, URL, image and the other columns; the front matter's word first, then what the
    body's boilerplate said; the keys no column took go to `extra`."""
    meta, used, found, text = a.front_matter, a.used, a.found, a.text
    ident = text_value(first(meta, ID_KEYS, used))
    url_value = text_value(first(meta, URL_KEYS, used))
    url = url_value if url_value and url_value.startswith(("http://", "https://")) else None
    image = image_of(meta, used, a.rules)
    named = {k: text_value(first(meta, (k,), used)) for k in META_KEYS}
    for key in META_KEYS:
        named[key] = named[key] or clean_inline(str(found.get(key) or "")) or None
    extra = {k: v for k, v in meta.items() if k not in used}
    a.fields.update(
        named,
        id=make_id(a.path, ident=ident, url=url_value),
        text=text,
        author=a.fields["author"] or clean_inline(str(found.get("author") or "")) or None,
        stock_codes=list(found.get("stock_codes", [])),
        url=url or found.get("url"),
        image_url=image,
        n_chars=len(text),
        n_paragraphs=len(a.paragraphs),
        source_path=a.path,
        encoding=a.encoding,
        content_sha256=content_sha256(text),
        extra=json.dumps(extra, ensure_ascii=False, sort_keys=True),
    )
    return a


def make_row(a: Article, s: BuildSettings) -> Article:
    """The row: the columns of ROW_SCHEMA a file gives (FILE_COLUMNS), from the Article."""
    a.warnings = sorted(set(a.warnings))
    a.fields["warnings"] = a.warnings
    a.row = {name: a.fields[name] for name in FILE_COLUMNS}
    return a


STEPS: tuple[Step, ...] = (
    decode_bytes, read_front_matter, find_title, choose_rules,       # the file read
    to_html, check_markup, mark_blocks, parse_html, split_lines, finish_text,  # the clean text
    find_language, check_quality, read_date, find_fields, make_row,  # judged, and its row made
)


def run_steps(articles: list[Article], settings: BuildSettings,
              timed: Callable[[int, Step, Article, BuildSettings], Article] | None = None,
              steps: Sequence[Step] = STEPS) -> list[Article]:
    """Each step over every article not rejected yet, a step at a time over the whole list
    (which it fills in and returns). `timed(k, step, article, settings)`, if given, runs a step
    of the k-th article in place of `step(article, settings)` (to hold it to a time limit)."""
    for step in steps:
        for k, article in enumerate(articles):
            if article.reject is not None:
                continue
            try:
                articles[k] = step(article, settings) if timed is None else timed(k, step, article, settings)
            except Exception as exc:  # a bug must cost one file, never the build; the reason says so
                articles[k] = article.rejected("internal_error", f"{type(exc).__name__}: {exc}")
    return articles
