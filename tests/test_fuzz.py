"""Property-based fuzzing of the reader: any bytes in a file give a row or a reject, and never a
bug that process_file's catch-all would hide as `internal_error`.

The inputs are built from the pieces hostile archives are made of (front-matter dialects, YAML
escapes, anchors and aliases, HTML nesting, character references, encodings, BOMs, the rules'
trigger strings), then mutated byte by byte; raw bytes and raw text are tried as well. The same
properties hold for the front-matter parser and the cleaner alone. An input that ever failed is
kept in tests/regressions/ (see test_fuzz_regressions.py); fuzz/fuzz_reader.py runs the same
checks under atheris, coverage-guided, for longer than CI can. CORPUS_FUZZ_SCALE=20 runs twenty
times the examples (a longer local hunt).
"""
import json
import os
import re
from datetime import timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builder.read import front_matter
from builder.transform import clean
from builder.transform.process import process_file, process_files
from builder.errors import REJECT_REASONS, WARNINGS
from builder.transform.quality import QualitySettings
from builder.transform.rules import load_rules
from builder.schema import ROW_SCHEMA
from builder.settings import BuildSettings
from builder.write import rows_to_table

SCALE = int(os.environ.get("CORPUS_FUZZ_SCALE", "1"))
FUZZ = settings(max_examples=250 * SCALE, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PLACEHOLDERS = {"dup_cluster": "0" * 16, "split_group": "", "split_bucket": 0}
LANGUAGES = {"zh", "en", "ja", "ko", "other"}
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")  # never in clean text

# ---------------------------------------------------------------------------------------------
# What hostile files are made of


def _deep(open_tag: str, close_tag: str, n: int, inner: str = "深处的文字") -> str:
    return open_tag * n + inner + close_tag * n


SCALARS = st.one_of(
    st.sampled_from([
        "'工信部召开会议'", '"双引号 \\" 转义"', '"\\ud800 lone surrogate"', '"\\udfff\\ud83d\\ude00 pair"',
        '"\\U0010ffff"', '"\\x00\\x1b"', "@大道无形", "a: b: c", "[a, b, [c]]", "{a: b}", "&anchor v", "*anchor",
        "!!binary aGVsbG8=", "!!python/object:os.system x", "!<tag:x> y", "|\n  block\n  text", ">\n folded",
        "'unbalanced", '"unbalanced', "000001", "0700", "no", "~", "null", "{TITLE}", "替换为中文标题", "&#32;",
        "&nbsp;&#12288;", "\u3000\u3000", " ", "", "Fri, 25 Mar 2022 02:14:53 GMT", "2022-01-01T00:00:00+99:00",
        "2021-11-26 07:21:47", "0000-00-00", "9999-12-31T23:59:59-23:59", "Fri Mar  9 12:00:00 CST 2024",
        "Mon, 99 Foo 99999 99:99:99 +9999", "Tue, " + "6" * 40 + " Nov 2023 15:32:10 GMT", "1e999", "\t",
        "\ufeff", "\x85", "\u2028", "#comment",
    ]),
    st.text(max_size=30),
)
KEYS = st.sampled_from(["title", "date", "pubDate", "author", "categories", "tags", "url", "link", "id", "guid",
                        "headimg", "cover", "image", "source", "editor", "on", "<<", "? complex", "标题", "日期",
                        "title ", " title", "-", "a\tb", "x" * 300])


TITLES = st.one_of(st.sampled_from(["'工信部召开会议 部署工作'", "Chipmakers rally as prices stabilize", "@大道无形 标题",
                                     '"带 \\"转义\\" 的标题"', "title: with colon", "&#123;标题&#125;"]), SCALARS)


@st.composite
def yaml_block(draw):
    lines = [f"title: {draw(TITLES)}"] if draw(st.integers(0, 3)) < 3 else []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 6))
        key = draw(KEYS)
        if kind == 0:
            lines.append(f"{key}: {draw(SCALARS)}")
        elif kind == 1:
            indent = draw(st.sampled_from([" ", "  ", "    ", "\t"]))
            items = draw(st.lists(SCALARS, max_size=3))
            lines.append(f"{key}:" + "".join(f"\n{indent}- {item}" for item in items))
        elif kind == 2:
            lines.append(f"{key}:\n  url: {draw(SCALARS)}\n  alt: x")
        elif kind == 3:  # a billion laughs, from small to past the alias budget
            depth, width = draw(st.integers(1, 9)), draw(st.integers(1, 9))
            lines.append("lol0: &l0 [lol]")
            lines += [f"lol{i}: &l{i} [{', '.join(['*l%d' % (i - 1)] * width)}]" for i in range(1, depth)]
        elif kind == 4:
            lines.append(draw(st.sampled_from(["---", "...", "", "   ", "- item", "key", ":", "[", "{", "%YAML 1.1",
                                               "'", "\ufeff---", "title: &a x\nalias: *a", "<<: *a"])))
        elif kind == 5:
            lines.append(f"{key}: {draw(SCALARS)}" * draw(st.integers(1, 3)))
        else:
            lines.append(draw(st.text(max_size=40)))
    return "\n".join(lines)


FRONT_MATTER = st.one_of(
    yaml_block().map(lambda b: f"---\n{b}\n---\n"),
    yaml_block().map(lambda b: f"\n---\n{b}\n---\n\n"),
    yaml_block().map(lambda b: f"\n---\n{b}\n"),  # unterminated
    st.tuples(st.sampled_from(["title", "date", "tags"]), SCALARS).map(lambda kv: f"+++\n{kv[0]} = {kv[1]}\n+++\n"),
    st.sampled_from(['+++\ntitle = "\\ud800"\n+++\n', '+++\ntitle = "T"\ndate = 2024-01-02T03:04:05Z\n+++\n',
                     '{\n"title": "\\ud800 J", "n": 1e999, "tags": [[[]]]\n}\n', '{\n"title": "J"\n',
                     '{\n' + '"a": [' * 50 + ']' * 50 + '}\n', "---\n---\n", "---\ntitle: t\n---", "+++\n",
                     "{\n}\n", ""]),
)

TAGS = ["div", "p", "b", "i", "em", "span", "a", "font", "section", "li", "ul", "table", "tr", "td", "h1",
        "title", "script", "style", "pre", "blockquote", "br", "img", "x-custom", "svg", "math", "template",
        "textarea", "select", "option", "iframe", "noscript", "frameset", "head", "body", "html"]
BODY_PIECES = st.one_of(
    st.sampled_from([
        "<p>　　3月24日，工业和信息化部召开会议。</p>", "正文第一段。\n\n正文第二段。", "# 标题\n\n正文", "# a ##",
        "<h1>页面标题</h1>", "<title>404 Not Found</title>", "Request failed with status code 404",
        "&#1;&#12;&#0;&#xd800;&#xfffe;&#x10ffff;&#99999999;&#12", "\ufffe\uffff\x00\x01\x1b\x7f",
        '<?xml version="1.0" encoding="utf-16"?>', '<meta charset="gb2312">', "<![CDATA[x]]>", "<!DOCTYPE html>",
        "<!-- news_keyword_pub,stock,sz002024&sh603885 -->", "<!-- news_keyword_pub,stock,",
        "<!-- 开户二维码 -->", '<div class="appendQr_wrap">海量资讯</div>', "<p class=\"article-editor\">责任编辑：李墨轩 SF055</p>",
        "原文链接：[", "[原文地址](https://example.com/a)", "来源：新华社", "原标题：旧标题", "![img](x.png)",
        "<table><tr><td>a<td>b</table>", "<p>a<p>b<p>c", "<li>x<li>y", "</div></b></zz>", "<div", "<", ">", "&",
        "```\ncode\n```", "> quote", "1. item", "|a|b|\n|-|-|\n|1|2|", "{DATE}", "{{ title }}", "\r\n", "\r",
    ]),
    st.text(max_size=60),
    st.builds(_deep, st.sampled_from([f"<{t}>" for t in TAGS] + ["<div><b>", "<table><tr><td>", "<b x='<'>"]),
              st.sampled_from([f"</{t}>" for t in TAGS] + ["", "</zz>"]), st.integers(0, 3000)),
)
TEXT = st.sampled_from(["<p>　　3月24日，工业和信息化部召开重点行业运行形势分析座谈会，部署工业稳增长工作。</p>",
                        "The bank said that it will hold rates for the rest of the year, as inflation cools.\n\n",
                        "アニメの新作が発表されました。ファンの期待が高まっています。\n\n"])
BODY = st.tuples(st.lists(BODY_PIECES, max_size=8), st.lists(TEXT, max_size=2)).flatmap(
    lambda t: st.permutations(t[0] + t[1])).map("".join)
PATHS = st.sampled_from([
    "a.md", "a.html", "a.htm", "a.markdown", "source/_posts/金融/新浪财经/新浪财经－国內/快讯.md",
    "source/_posts/新媒体/36kr/快讯/x.md", "source/_posts/新媒体/cnBeta/最新/x.md", "src/pages/posts/202306011000.md",
    "post/微博/@名字 标题.md", " leading space.md", '"quoted".md', "bad-\\xff-byte.md", "a/../b.md",
])


def _encode(text: str, how: str) -> bytes:
    if how == "gb18030":
        return text.encode("gb18030", "replace")
    if how == "big5":
        return text.encode("big5", "replace")
    if how in ("utf-16", "utf-32", "utf-8-sig"):
        return text.encode(how)
    if how == "utf-16-nobom":
        return text.encode("utf-16-le")
    if how == "crlf":
        return text.replace("\n", "\r\n").encode()
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes invalid UTF-8: legacy paths


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """Flip, insert, delete and splice a few bytes: what a half-written or corrupted file holds."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(buf)))
        if op == 0 and pos < len(buf):
            buf[pos] = draw(st.integers(0, 255))
        elif op == 1:
            buf[pos:pos] = draw(st.binary(max_size=4))
        elif op == 2:
            del buf[pos:pos + draw(st.integers(1, 16))]
        else:
            buf[pos:pos] = draw(st.sampled_from([b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\x89PNG", b"\r", b"\n---\n",
                                                 b"\xe4\xb8", b"\x80", b"<div>" * 300, b"&#1;"]))
    return bytes(buf)


@st.composite
def article_bytes(draw) -> bytes:
    text = draw(st.sampled_from(["", "\n", "\ufeff", "  \n\n"])) + draw(FRONT_MATTER) + draw(BODY)
    data = _encode(text, draw(st.sampled_from(["utf-8"] * 4 + ["gb18030", "big5", "utf-16", "utf-32", "utf-8-sig",
                                                               "utf-16-nobom", "crlf"])))
    return draw(mutated(data)) if draw(st.booleans()) else data


@st.composite
def build_settings(draw) -> BuildSettings:
    """Mostly the defaults; sometimes tiny limits, so that every limit's reject path is walked."""
    if draw(st.integers(0, 3)) < 3:
        return BuildSettings(quality=QualitySettings(min_chars=draw(st.sampled_from([0, 1, 20]))))
    return BuildSettings(
        max_file_bytes=draw(st.sampled_from([32 * 2**20, 64])),
        max_frontmatter_bytes=draw(st.sampled_from([256 * 2**10, 1024, 16])),
        max_alias_nodes=draw(st.sampled_from([10_000, 50, 1])),
        max_html_depth=draw(st.sampled_from([100_000, 150, 1])),
        max_html_elements=draw(st.sampled_from([1_000_000, 300, 1])),
        naive_timezone=draw(st.sampled_from(["UTC", "Asia/Shanghai", "+08:00", "-23:59"])),
        quality=QualitySettings(min_chars=draw(st.sampled_from([0, 1, 20])),
                                languages=draw(st.sampled_from([None, ("zh",), ("other", "en")]))))


# ---------------------------------------------------------------------------------------------
# The properties


def check_file_result(rel: str, data: bytes, s: BuildSettings):
    """Everything a build relies on from process_file; returns the result."""
    result = process_file(rel, data, s)
    assert result.path == rel
    assert (result.row is None) != (result.reject is None), result
    if result.reject is not None:
        reject = result.reject
        assert reject.reason != "internal_error", f"a bug hidden by the catch-all: {reject.message}\ninput: {data!r}"
        assert reject.reason in REJECT_REASONS and reject.path == rel
        json.dumps(reject.to_dict(), ensure_ascii=False).encode("utf-8")  # rejects.jsonl can hold it
    else:
        row = result.row
        assert set(row) | set(PLACEHOLDERS) == set(ROW_SCHEMA.names)
        rows_to_table([{**row, **PLACEHOLDERS}])  # the Parquet writer accepts it: no lone surrogates, no bad types
        assert row["title"] and row["title"] == row["title"].strip(), row["title"]
        assert row["text"] and row["n_chars"] == len(row["text"]) and not NOT_TEXT.search(row["text"])
        assert row["n_paragraphs"] == len(row["text"].split("\n\n")) and "\n\n\n" not in row["text"]
        assert re.fullmatch(r"[0-9a-f]{16}", row["id"]) and row["source_path"] == rel
        assert row["language"] in LANGUAGES
        assert set(row["warnings"]) <= set(WARNINGS) and row["warnings"] == sorted(set(row["warnings"]))
        assert isinstance(json.loads(row["extra"]), dict)
        if row["date"] is not None:
            assert row["date"].tzinfo == timezone.utc and 1899 <= row["date"].year <= 2201
    assert process_file(rel, data, s) == result  # pure: the same bytes, the same answer
    return result


@FUZZ
@given(PATHS, article_bytes(), build_settings())
@example("a.md", b"---\ntitle: t\ndate: 2022-01-01T00:00:00+99:00\n---\nbody text here", BuildSettings())
@example("a.md", b'---\ntitle: "\\ud800 x"\n---\nbody text here', BuildSettings())
@example("a.html", b"---\ntitle: t\n---\n<div>a&#1;b</div>" + b"x" * 40, BuildSettings())
@example("a.html", b'---\ntitle: t\n---\n<?xml version="1.0" encoding="utf-16"?><p>' + "中文".encode() * 20 + b"</p>",
         BuildSettings())
def test_reader_gives_a_row_or_a_reject_and_never_hides_a_bug(rel, data, s):
    check_file_result(rel, data, s)


@settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.data_too_large])
@given(st.lists(st.tuples(PATHS, article_bytes()), min_size=2, max_size=6), build_settings())
def test_files_processed_together_get_what_each_gets_alone(files, s):
    # Their steps interleave (one parser shared, caches shared): nothing may pass between them.
    assert process_files(files, s) == [process_file(rel, data, s) for rel, data in files]


@settings(max_examples=150 * SCALE, deadline=None)
@given(PATHS, st.binary(max_size=2000))
def test_reader_on_raw_bytes(rel, data):
    check_file_result(rel, data, BuildSettings(quality=QualitySettings(min_chars=0)))


@settings(max_examples=150 * SCALE, deadline=None)
@given(PATHS, st.text(max_size=500))
def test_reader_on_raw_text(rel, text):
    check_file_result(rel, text.encode("utf-8"), BuildSettings(quality=QualitySettings(min_chars=0)))


def _plain(value) -> bool:
    """Front matter holds strings, lists and dicts of them, all writable as UTF-8."""
    if isinstance(value, str):
        value.encode("utf-8")
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(k) and _plain(v) for k, v in value.items())
    return False


@FUZZ
@given(st.one_of(FRONT_MATTER.flatmap(lambda fm: BODY.map(lambda b: fm + b)), st.text(max_size=300)),
       st.sampled_from([16, 256 * 2**10]), st.sampled_from([1, 10_000]))
def test_front_matter_parser(text, max_bytes, max_alias_nodes):
    try:
        fm = front_matter.parse(text, max_bytes=max_bytes, max_alias_nodes=max_alias_nodes)
    except front_matter.FrontMatterTooLarge:
        return
    assert fm.format in {"yaml", "toml", "json", "lenient", "none"}
    assert isinstance(fm.meta, dict) and _plain(fm.meta), fm.meta
    assert set(fm.warnings) <= set(WARNINGS)
    assert isinstance(fm.body, str) and len(fm.body) <= len(text)
    if fm.format == "none":
        assert fm.body == text and fm.meta == {}


RULES = load_rules()


@FUZZ
@given(BODY, st.booleans(), st.sampled_from([(), RULES]), st.sampled_from([(5, 50), (100_000, 1_000_000)]))
def test_cleaner(body, is_html, rules, limits):
    try:
        cleaned = clean.clean_body(body, is_html=is_html, rules=rules, max_depth=limits[0], max_elements=limits[1])
    except clean.HtmlLimit as exc:
        assert exc.reason in REJECT_REASONS
        return
    for para in cleaned.paragraphs:
        assert para and "\n" not in para and para == para.strip(" \t\u3000\u00a0\ufeff"), para
        assert not NOT_TEXT.search(para), para
        para.encode("utf-8")
    assert set(cleaned.warnings) <= set(WARNINGS)


# Nothing is lost in the markup: every word of the text comes out, however the elements nest
# (deeper than the parser's own limit too), close or fail to close.
INLINE = ["div", "p", "b", "i", "em", "span", "a", "font", "section", "li", "ul", "ol", "table", "tbody", "tr", "td",
          "th", "h2", "blockquote", "strong", "u", "sub", "article", "center", "x-custom", "dl", "dt", "dd", "select",
          "option", "form", "nav", "pre", "code", "small", "big", "nobr", "label", "button"]


@st.composite
def nested_words(draw):
    words = [f"q{i}z" for i in range(draw(st.integers(1, 6)))]
    html = []
    for word in words:
        chain = draw(st.lists(st.sampled_from(INLINE), min_size=1, max_size=4))
        depth = draw(st.sampled_from([1, 2, 50, 255, 300, 900, 2100, 3000]))
        closing = draw(st.sampled_from(["all", "none", "half", "stray"]))
        opens = "".join(f"<{t}>" for t in chain) * (depth // len(chain) + 1)
        closes = "".join(f"</{t}>" for t in reversed(chain)) * (depth // len(chain) + 1)
        if closing == "none":
            closes = ""
        elif closing == "half":
            closes = closes[: len(closes) // 2]
        elif closing == "stray":
            closes = "</zz></b></q>" * 3 + closes
        html.append(f"{opens}{word}{closes} ")
    return words, "".join(html)


@settings(max_examples=120 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested_words())
@example((["q0z", "q1z"], "<div>" * 300 + "q0z" + "</div>" * 300 + "<p>q1z</p>"))
@example((["q0z", "q1z"], "<b>" * 3000 + "q0z" + "</b>" * 3000 + "<p>q1z</p>"))
def test_no_text_is_lost_in_deep_or_broken_nesting(case):
    words, html = case
    text = " ".join(clean.clean_body(html, is_html=True, rules=()).paragraphs)
    for word in words:
        assert word in text
