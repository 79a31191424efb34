"""Front matter -> columns: which keys each column is read from, and how a value is read.

Every site names its fields its own way (`pubDate`, `published_at`, `headimg`, ...): a column
takes the first of its keys that holds a value, and the key is marked used; the keys no column
used go to the row's `extra` column as they were.
"""
from __future__ import annotations

import html
import re
from typing import Any

from . import rules as rules_mod
from .ids import normalise_path

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
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]{2,8});")


def first(meta: dict, keys: tuple[str, ...], used: set[str]) -> Any:
    """The value of the first of `keys` that holds one (the key added to `used`), else None."""
    for key in keys:
        value = meta.get(key)
        if value not in (None, "", [], {}):
            used.add(key)
            return value
    return None


def text_value(value: Any) -> str | None:
    """A front-matter value as one string: a list's items joined by ', ', a dict's name (title,
    url); None for nothing."""
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(t for t in (text_value(v) for v in value) if t) or None
    if isinstance(value, dict):
        return text_value(value.get("name") or value.get("title") or value.get("url"))
    return str(value).strip() or None


def as_list(value: Any) -> list[str]:
    """A front-matter value as a list of strings (a string split at commas)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else re.split(r"\s*,\s*", str(value))
    return [t for t in (clean_inline(str(v)) for v in items if not isinstance(v, (dict, list))) if t]


def clean_inline(s: str) -> str:
    """One line of text: entities unescaped, whitespace runs one space, no edge spaces."""
    if "&" in s and _ENTITY.search(s):
        s = html.unescape(s)  # the archiver rewrites { and } as &#123; &#125; everywhere
    return " ".join(s.split()).strip("\u3000")


def image_of(meta: dict, used: set[str], rule_sets: tuple) -> str | None:
    """The lead image's URL, unless the rules call it a placeholder."""
    for key in IMAGE_KEYS:
        value = meta.get(key)
        url = text_value(value)
        if url and url.startswith(("http://", "https://", "//")):
            used.add(key)
            return None if rules_mod.is_placeholder_image(url, rule_sets) else url
    return None


def feed_of(rel_path: str, categories: list[str]) -> str | None:
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
