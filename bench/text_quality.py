#!/usr/bin/env python3
"""The state of the clean text: markup residue, generic boilerplate and lost content, per feed.

    python bench/text_quality.py ../shared/corpus --exclude /SOURCES.md
    python bench/text_quality.py /tmp/mix --worst 20
    python bench/text_quality.py SOURCE --dataset out/     # the rows of a built dataset instead

Every article file of CORPUS is read as a build reads it (builder.read.discover, with the --exclude
globs; builder.transform.process.process_files), or its row is taken from a built dataset's Parquet
files with --dataset; then for each row:
- markup residue by kind: HTML tags and entities, Markdown image, link, emphasis,
  strikethrough, table, heading and code syntax, JavaScript;
- generic boilerplate left in (QR and WeChat promos, reprint and copyright notices, converter
  credits, `** END **`, image-address and photo-credit lines, a lone "undefined", editor,
  source and author lines);
- content recall against an independent rendering of the raw body (markdown-it-py with
  tables and strikethrough for Markdown, BeautifulSoup's text for both): the share of the
  reference's letters, CJK characters and numbers (as a multiset; links' targets left out)
  that the cleaner kept before any boilerplate rule ran, and, separately, the share the rules
  then removed on purpose.
Prints a table per feed and the worst files; exits 0 (a report, not a test).
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from builder.read import front_matter
from builder.read.decode import decode
from builder.read.discover import discover
from builder.settings import BuildSettings
from builder.transform import clean, process
from builder.transform import title as title_of
from builder.transform.fields import text_value
from builder.transform.rules import RuleSet, load_rules

_HTML_NAMES = ("a|b|i|u|p|div|span|img|br|hr|figure|figcaption|table|tr|td|th|ul|ol|li|h[1-6]|strong|em|script|"
               "style|iframe|blockquote|pre|code|section|article|font|center|sup|sub|small|video|source|picture|"
               "noscript|meta|link|input|button|svg|label|dl|dt|dd|caption|tbody|thead")
RESIDUE = {
    "html_tag": re.compile(rf"</?(?:{_HTML_NAMES})(?:\s[^<>\n]*)?/?>", re.I),
    "html_entity": re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});", re.I),
    "md_image": re.compile(r"!\[[^\]\n]*\]\("),
    "md_link": re.compile(r"\]\((?:https?:|/|#)"),
    "md_emphasis": re.compile(r"\*\*|(?<![A-Za-z0-9_])__(?=\S)"),
    "md_strikethrough": re.compile(r"~~"),
    "md_table": re.compile(r"^\s*\|.*\|\s*$|^\s*\|?\s*:?-{3,}:?\s*\|", re.M),
    "md_heading": re.compile(r"^#{1,6}\s", re.M),
    "md_code": re.compile(r"```|`[^`\n]+`"),
    "js": re.compile(r"function\s*\(|document\.(?:write|getElementById|querySelector)|window\.\w+\s*=|"
                     r"\bvar\s+\w+\s*=|\}\s*\)\s*;|callQueue"),
}
# Generic boilerplate: whole paragraphs (matched from their start) that no site rule should leave.
BOILERPLATE = {
    "qr_promo": re.compile(r"^.{0,20}(?:长按|扫描|扫码).{0,20}(?:二维码|关注)|^.{0,10}关注.{0,10}(?:微信)?公众号"),
    "copyright_notice": re.compile(r"^(?:【?版权声明|.{0,40}未经(?:授权|许可)[，,]?\s*(?:不得|禁止|严禁)转载|转载请注明)"),
    "converter_credit": re.compile(r"^(?:首先|接下来|以上|文章翻译完毕|注[：:]).{0,60}(?:Markdown|翻译|不需要翻译)"
                                   r"|^（(?:文章中出现的)?人名和作品名称不需要翻译）$"),
    "end_mark": re.compile(r"^\**\s*END\s*\**$"),
    "image_address": re.compile(r"^[（(]?(?:图片地址|图片来源)[：:]\s*(?:https?://|!?\[)"),
    "undefined": re.compile(r"^undefined$"),
    "photo_credit": re.compile(r"^[（(][Cc©][）)]"),
    "editor_line": re.compile(r"^[（(]?责任编辑[：:]\s*\S{1,20}[）)]?$"),
    "source_line": re.compile(r"^(?:文章)?来源[：:]\s*\S.{0,30}$"),
    "author_line": re.compile(r"^作者[：:]\s*\S.{0,20}$"),
}
_URL = re.compile(r"(?:https?:)?//[!#-'*-;=?-~]+")  # ASCII only: a URL glued to CJK text ends there
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]*\]\([^()\s]*\)")
_TOKEN = re.compile(r"[A-Za-z0-9]+|[^\W\d_A-Za-z]")
_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_NO_RULES = (RuleSet(name="markup-only", drop_tags=("head", "title", "script", "style", "iframe", "noscript",
                                                    "template", "svg", "object", "embed", "video", "audio",
                                                    "button", "input", "select", "textarea")),)


@dataclass
class FileReport:
    path: str
    feed: str
    residue: list[str] = field(default_factory=list)
    boilerplate: list[str] = field(default_factory=list)
    recall: float = 1.0          # of the reference's tokens kept by the cleaner, before the rules
    removed_by_rules: float = 0  # of the reference's tokens the rules then removed on purpose


def tokens(text: str) -> Counter:
    return Counter(_TOKEN.findall(_URL.sub(" ", text)))


def kept_share(ref: Counter, got: Counter) -> float:
    total = sum(ref.values())
    return 1.0 if not total else sum(min(n, got[t]) for t, n in ref.items()) / total


def reference_text(body: str, is_html: bool) -> str:
    """The body's visible text by other tools: markdown-it-py, then BeautifulSoup. As the
    authors' sites do, a code block of HTML (indented HTML) is read as HTML and a ```markdown
    block as Markdown."""
    html = body if is_html else _MD.render(body)
    soup = BeautifulSoup(html, "lxml")
    for code in soup.select("pre > code"):
        inner = code.get_text()
        if "language-markdown" in (code.get("class") or []) or "language-md" in (code.get("class") or []):
            code.parent.replace_with(BeautifulSoup(_MD.render(inner), "lxml"))
        elif inner.lstrip().startswith("<"):
            code.parent.replace_with(BeautifulSoup(inner, "lxml"))
    for el in soup(["script", "style", "head", "title", "noscript", "template", "iframe", "svg", "textarea",
                    "button", "select"]):
        el.decompose()
    # An image shows no text, whether rendered or left as Markdown inside raw HTML.
    return _MD_IMAGE.sub(" ", soup.get_text("\n"))


def body_of(rel: str, data: bytes) -> tuple[str, bool, str]:
    """(body, is_html, title from the body or '') as the reader sees them."""
    text = decode(data)[0]
    fm = front_matter.parse(text)
    body = fm.body
    is_html = title_of.is_html(rel, body)
    title = ""
    if not text_value(fm.meta.get("title")):
        title, body = title_of.title_from_body(body, is_html)
    return body, is_html, title or ""


def check(rel: str, data: bytes, row: dict) -> FileReport:
    text = row["text"]
    rep = FileReport(rel, row.get("feed") or "(none)")
    rep.residue = sorted(k for k, rx in RESIDUE.items() if rx.search(text))
    paragraphs = text.split("\n\n")
    rep.boilerplate = sorted({k for k, rx in BOILERPLATE.items() for p in paragraphs if rx.search(p)})
    body, is_html, title = body_of(rel, data)
    ref = tokens(reference_text(body, is_html))
    markup_only = "\n".join(clean.clean_body(body, is_html=is_html, rules=_NO_RULES).paragraphs)
    extracted = " ".join(str(row.get(k) or "") for k in ("source", "editor", "original_title", "author"))
    before_rules = tokens(markup_only + "\n" + title + "\n" + extracted)
    rep.recall = kept_share(ref, before_rules)
    rep.removed_by_rules = max(0.0, rep.recall - kept_share(ref, tokens(text + "\n" + title + "\n" + extracted)))
    return rep


def rows_from_build(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, tuple[bytes, dict | None, str | None]]:
    """The articles a build of `root` would read (its discover, `--exclude` globs too) -> rows."""
    found = discover(root, BuildSettings().suffixes, exclude=exclude)
    pairs = [(shown, Path(path).read_bytes()) for shown, path in found.articles]
    out = {}
    for i in range(0, len(pairs), 64):
        chunk = pairs[i:i + 64]
        for (rel, data), res in zip(chunk, process.process_files(chunk, BuildSettings())):
            out[rel] = (data, res.row, res.reject.reason if res.reject else None)
    return out


def rows_from_dataset(root: Path, dataset: Path) -> dict[str, tuple[bytes, dict | None, str | None]]:
    import pyarrow.parquet as pq
    out = {}
    for shard in sorted((dataset / "data").glob("*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            path = root / row["source_path"]
            if path.is_file():
                out[row["source_path"]] = (path.read_bytes(), row, None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--dataset", type=Path, help="take the rows from this built dataset (its data/*.parquet)")
    ap.add_argument("--worst", type=int, default=10, help="list this many files of lowest recall")
    ap.add_argument("--min-recall", type=float, default=0.99)
    ap.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                    help="leave out files as `corpus build --exclude` does (repeatable), e.g. /SOURCES.md")
    args = ap.parse_args()
    load_rules()
    found = rows_from_dataset(args.corpus, args.dataset) if args.dataset else rows_from_build(args.corpus, tuple(args.exclude))
    reports = [check(rel, data, row) for rel, (data, row, _) in sorted(found.items()) if row is not None]
    rejects = Counter(reason for _, _, reason in found.values() if reason)

    by_feed: dict[str, list[FileReport]] = defaultdict(list)
    for r in reports:
        by_feed[r.feed].append(r)
    print(f"{args.corpus}: {len(found)} files, {len(reports)} rows, rejects {dict(sorted(rejects.items()))}")
    print(f"{'feed':42} {'rows':>5} {'residue':>7} {'boiler':>6} {'<' + str(args.min_recall):>6} "
          f"{'recall':>7} {'ruled':>6}  residue / boilerplate kinds")
    for feed in sorted(by_feed, key=lambda f: (-len(by_feed[f]), f)):
        rs = by_feed[feed]
        kinds = Counter(k for r in rs for k in r.residue)
        boiler = Counter(k for r in rs for k in r.boilerplate)
        low = sum(r.recall < args.min_recall for r in rs)
        print(f"{feed[:42]:42} {len(rs):5} {sum(bool(r.residue) for r in rs):7} {sum(bool(r.boilerplate) for r in rs):6} "
              f"{low:6} {min(r.recall for r in rs):7.3f} {max(r.removed_by_rules for r in rs):6.3f}  "
              f"{dict(kinds) or ''} {dict(boiler) or ''}")
    total_res = sum(bool(r.residue) for r in reports)
    total_boiler = sum(bool(r.boilerplate) for r in reports)
    low = [r for r in reports if r.recall < args.min_recall]
    print(f"TOTAL rows {len(reports)}: {total_res} with markup residue, {total_boiler} with generic boilerplate, "
          f"{len(low)} with recall < {args.min_recall} (before the rules; the rules removed on purpose at most "
          f"{max((r.removed_by_rules for r in reports), default=0):.3f} of a file)")
    print(f"worst {args.worst} by recall:")
    for r in sorted(reports, key=lambda r: (r.recall, r.path))[:args.worst]:
        print(f"  {r.recall:.3f} (rules removed {r.removed_by_rules:.3f})  {r.path}")
    for r in reports:
        if r.residue or r.boilerplate:
            print(f"  residue {r.residue} boilerplate {r.boilerplate}  {r.path}")


if __name__ == "__main__":
    sys.exit(main())
