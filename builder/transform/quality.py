"""Quality filters: is a cleaned article worth a row? One pure `check`, one reason code per filter.

Archives keep junk beside the news: saved 404 pages and request-failure strings, unfilled
templates, bodies that only repeat the title, bodies too short to be an article, and text in
languages the dataset does not want. `check` names the first filter a row fails (in the order
error_page, template, title_only, too_short, language), or returns None.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from ..errors import ConfigError

# Every code detect_language gives (builder/transform/language.py): the only values `languages` may name.
LANGUAGES = ("zh", "en", "ja", "ko", "other")

# An error page is short; a long article that mentions "404 Not Found" is still an article.
_ERROR_PAGE_MAX_CHARS = 600
_ERROR_TEXT = re.compile(
    r"Request failed with status code \d{3}"
    r"|\b[45]\d\d\s+(?:Not Found|Forbidden|Unauthorized|Internal Server Error|Bad Gateway|Service"
    r" (?:Temporarily )?Unavailable|Gateway Time-?out|Too Many Requests|Bad Request)\b"
    r"|\b(?:Page|File) Not Found\b|\bAccess Denied\b|\bAttention Required! \| Cloudflare"
    r"|\bJust a moment\.\.\.|\bnginx/\d"
    r"|页面不存在|页面未找到|找不到(?:该|此)?页面|您(?:所)?访问的页面(?:不存在|已删除)|网页无法访问|404错误",
    re.I)
# Every _ERROR_TEXT match holds five letters in a row (Found, nginx, Access, ...) or one of these
# phrases: a text without either cannot match, and a search for them is far cheaper than the
# case-folded alternation tried at every character. The letters as IGNORECASE takes them: ASCII
# and the four others it folds to i, k and s (tests/test_transform_quality.py checks both).
_LETTER = "[A-Za-z\u0130\u0131\u017f\u212a]"
_ERROR_LETTERS = re.compile(_LETTER + _LETTER + "{4}")  # a class first: scanned for in C
_ERROR_PHRASES = ("页面", "网页无法访问", "404错误")
_ERROR_TITLE = re.compile(
    r"^\s*(?:[45]\d\d\b|Error\b|Not Found\b|Forbidden\b|Page Not Found\b|Access Denied\b|Request failed\b"
    r"|Just a moment|页面不存在|页面未找到|出错了|404)", re.I)
_TEMPLATE = re.compile(
    r"\{[A-Z][A-Z0-9_]{2,}\}"          # {DATE} {TITLE} {COVER_URL}
    r"|\{\{\s*[\w.]+\s*\}\}"           # {{ title }}
    r"|\$\{[\w.]+\}"                   # ${title}
    r"|替换为[\u4e00-\u9fff]{1,8}"      # 替换为中文标题, 替换为作者名称
    r"|YYYY-MM-DD|在此(?:处)?(?:输入|填写)|请(?:输入|填写)(?:标题|正文|内容|描述)"
    r"|\bLorem ipsum dolor\b")
# A literal every _TEMPLATE match contains (keep in step with it; tests/test_quality.py checks).
_TEMPLATE_HINTS = ("{", "替换为", "YYYY-MM-DD", "在此", "请输入", "请填写", "Lorem ipsum dolor")
_TEMPLATE_SCAN = 4000  # placeholders sit at the top of a template; a 5 MB body need not be scanned
_TEMPLATE_MIN_REST = 200  # characters besides one kind of placeholder that make a text an article


@dataclass(frozen=True)
class QualitySettings:
    """Which filters run, and their limits; `to_dict()` is what a build records.

    min_chars: fewest non-whitespace characters a text must have (too_short).
    title_only_min_extra: fewest characters (letters, digits, CJK) a text must have besides
      repeats of its title (title_only).
    languages: allowed language codes (zh, en, ja, ko, other), or None for all (language).
    error_pages, templates, title_only: switch those filters on or off.
    """

    min_chars: int = 20
    title_only_min_extra: int = 10
    languages: tuple[str, ...] | None = None
    error_pages: bool = True
    templates: bool = True
    title_only: bool = True

    def __post_init__(self) -> None:
        if self.min_chars < 0:
            raise ConfigError(f"min_chars must be >= 0 (0 turns too_short off), got {self.min_chars!r}")
        if self.title_only_min_extra < 0:
            raise ConfigError(f"title_only_min_extra must be >= 0, got {self.title_only_min_extra!r}")
        if self.languages is not None:
            if isinstance(self.languages, str):  # languages="zh" would otherwise allow 'z' and 'h'
                raise ConfigError(f"languages must be a list of codes such as ['zh', 'en'], got {self.languages!r}")
            langs = tuple(dict.fromkeys(str(x).strip().lower() for x in self.languages))
            if not langs or not all(langs):
                raise ConfigError(f"languages {self.languages!r} is empty; use None to allow every language")
            unknown = [x for x in langs if x not in LANGUAGES]
            if unknown:
                raise ConfigError(f"unknown language code(s) {', '.join(map(repr, unknown))}: the build tells "
                                  f"{', '.join(LANGUAGES)} apart; use those codes")
            object.__setattr__(self, "languages", langs)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["languages"] = list(self.languages) if self.languages is not None else None
        return d


def _letters(s: str) -> str:
    """Letters, digits and CJK characters only, case-folded: what 'the same words' compares."""
    return "".join(c for c in s if c.isalnum()).casefold()


def _n_chars(text: str) -> int:
    return len(text) - sum(map(text.count, (" ", "\n", "\t", "\r", "\u3000", "\xa0")))


def _error_page(title: str, text: str, n: int) -> str | None:
    """The error text found: anywhere in a short text or its title; in a long text only when the
    title is an error title too and the text opens with the error."""
    if n <= _ERROR_PAGE_MAX_CHARS:
        hit = _error_text(title) or _error_text(text)
    elif _ERROR_TITLE.match(title):
        hit = _error_text(text[:_ERROR_PAGE_MAX_CHARS])
    else:
        return None
    return hit.group(0) if hit else None


def _error_text(s: str) -> re.Match | None:
    """`_ERROR_TEXT.search(s)`, skipped when `s` holds neither five letters in a row nor a phrase."""
    if _ERROR_LETTERS.search(s) is None and not any(p in s for p in _ERROR_PHRASES):
        return None
    return _ERROR_TEXT.search(s)


def _template(title: str, text: str) -> str | None:
    """A placeholder in the title; or in the text, when there are several kinds of them or
    little text besides. One stray '{CONTENT}' line in a long real article is not a template."""
    hit = _TEMPLATE.search(title) if any(h in title for h in _TEMPLATE_HINTS) else None
    if hit:
        return hit.group(0)
    head = text[:_TEMPLATE_SCAN]
    if not any(h in head for h in _TEMPLATE_HINTS):  # substring tests: far cheaper than the regex
        return None
    found = {m.group(0) for m in _TEMPLATE.finditer(head)}
    if not found:
        return None
    if len(found) >= 2 or _n_chars(_TEMPLATE.sub("", head)) < _TEMPLATE_MIN_REST:
        return sorted(found)[0]
    return None


def check(title: str, text: str, language: str | None, settings: QualitySettings) -> tuple[str, str] | None:
    """The first filter the article fails, as (reason code, message for a person), else None."""
    n = _n_chars(text)
    if settings.error_pages:
        hit = _error_page(title or "", text, n)
        if hit:
            return "error_page", f"an HTTP error page or request failure ({hit!r}), not an article"
    if settings.templates:
        hit = _template(title or "", text)
        if hit:
            return "template", f"an unfilled template: placeholder {hit!r}"
    if settings.title_only and title and len(text) <= 4 * len(title) + 4 * settings.title_only_min_extra + 200:
        t, x = _letters(title), _letters(text)
        if t and x and (t in x or x in t):  # no repeat of the title at all: too_short's business
            rest = x.replace(t, "")
            if len(rest) < settings.title_only_min_extra:
                return "title_only", (f"the text only repeats the title {title[:60]!r} "
                                      f"({len(rest)} other characters, fewer than {settings.title_only_min_extra})")
    if n < settings.min_chars:
        return "too_short", f"{n} characters of text, fewer than min_chars={settings.min_chars}"
    if settings.languages is not None and (language or "other") not in settings.languages:
        return "language", f"language {language!r} is not in the allowed languages {list(settings.languages)}"
    return None
