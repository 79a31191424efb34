import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from builder.transform.ids import make_id
from builder.transform.process import process_file, process_files
from builder.transform.quality import QualitySettings
from builder.settings import BuildSettings

# The reader's tests use short bodies: length is the quality filter's business, tested below.
S = BuildSettings(quality=QualitySettings(min_chars=1))
FIXTURES = Path(__file__).parent / "fixtures"


def row(text, path="source/_posts/金融/新浪财经/新浪财经－国內/a.md", settings=S, encoding="utf-8"):
    result = process_file(path, text.encode(encoding) if isinstance(text, str) else text, settings)
    assert result.reject is None, result.reject
    return result.row


def reject(data, path="x.md"):
    result = process_file(path, data.encode() if isinstance(data, str) else data, S)
    assert result.row is None
    return result.reject


def test_sina_fixture_end_to_end():
    r = row((FIXTURES / "sina_article.md").read_text(encoding="utf-8"))
    assert r["title"] == "央行开展逆回购操作 维护月末流动性合理充裕"
    assert r["date"] == datetime(2022, 2, 28, 3, 5, 9, tzinfo=timezone.utc) and r["date_assumed_tz"] is None
    assert (r["editor"], r["source"], r["original_title"]) == ("张晓明", "金融时报", "央行今日开展逆回购")
    assert r["stock_codes"] == ["sz000001", "sh600036"]
    assert r["categories"] == ["金融", "新浪财经", "新浪财经－国內"] and r["feed"] == "金融/新浪财经/新浪财经－国內"
    assert r["image_url"] is None  # the Sina QR code is a placeholder, not the article's image
    assert r["n_paragraphs"] == 3 and r["text"].count("\n\n") == 2 and r["language"] == "zh"
    for junk in ("海量资讯", "appendQr", "&#123;", "责任编辑", "<p", "推荐阅读", "来源："):
        assert junk not in r["text"]
    extra = json.loads(r["extra"])
    assert extra == {"comments": "false", "thumbnail": "https://n.sinaimg.cn/finance/cece9e13/20200514/343233024.png"}


def test_id_is_stable_and_prefers_front_matter():
    assert make_id("a/b.md") == make_id("a\\b.md") == make_id("/a/b.md")
    assert make_id("a/b.md", url="HTTPS://Example.com/x#frag") == make_id("c.md", url="https://example.com/x")
    assert make_id("a/b.md", ident="42") != make_id("a/b.md")
    r = row("---\ntitle: t\nurl: https://example.com/p/1\n---\n正文。", path="any/where.md")
    assert r["id"] == make_id("other.md", url="https://example.com/p/1") and r["url"] == "https://example.com/p/1"


def test_naive_date_zone_is_recorded():
    settings = BuildSettings(naive_timezone="Asia/Shanghai", quality=S.quality)
    r = row("---\ntitle: t\ndate: 2021-11-26 07:21:47\n---\n正文。", settings=settings)
    assert r["date"] == datetime(2021, 11, 25, 23, 21, 47, tzinfo=timezone.utc)
    assert r["date_assumed_tz"] == "Asia/Shanghai"


def test_bad_date_is_null_with_warning():
    r = row("---\ntitle: t\ndate: Invalid Date\n---\n正文。")
    assert r["date"] is None and r["warnings"] == ["date_unparseable"]
    assert row("---\ntitle: t\n---\n正文。")["warnings"] == ["date_missing"]


def test_no_front_matter_heading_becomes_title():
    r = row("![cover](https://x/c.jpg)\n\n# 这是标题\n\n正文第一段。\n\n正文第二段。\n", path="src/pages/posts/1.md")
    assert r["title"] == "这是标题" and r["text"] == "正文第一段。\n\n正文第二段。"
    assert "no_frontmatter" in r["warnings"]


def test_astro_dialect():
    text = ("---\nlayout: '../../layouts/MarkdownPost.astro'\ntitle: 'タイトル'\npubDate: 2023-06-01T10:00:00+0900\n"
            "author: 'Someone'\ncover:\n  url: 'https://img.example/c.jpg'\n  alt: 'cover'\ntags: ['news', \"anime\"]\n"
            "---\n\n![cover](https://img.example/c.jpg)\n\nアニメの新作が発表されました。ファンの期待が高まっています。\n\n"
            ">[原文地址](https://animeanime.jp/article/2023/06/01/1.html)\n")
    r = row(text, path="animenews/src/pages/posts/202306011000.md")
    assert r["title"] == "タイトル" and r["language"] == "ja"
    assert r["date"] == datetime(2023, 6, 1, 1, tzinfo=timezone.utc)
    assert r["categories"] == ["news", "anime"] and r["feed"] == "animenews"
    assert r["image_url"] == "https://img.example/c.jpg"
    assert r["url"] == "https://animeanime.jp/article/2023/06/01/1.html"
    assert r["text"] == "アニメの新作が発表されました。ファンの期待が高まっています。"


def test_gb18030_and_crlf_file():
    text = "\r\n---\r\ntitle: '人民币汇率中间价上调'\r\ndate: 2022-01-05\r\n---\r\n\r\n<div>\r\n汇率上调。\r\n</div>"
    r = row(text.encode("gb18030"))
    assert r["title"] == "人民币汇率中间价上调" and r["encoding"] == "gb18030" and r["text"] == "汇率上调。"


@pytest.mark.parametrize("data,reason", [
    (b"", "empty_file"),
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00", "binary"),
    ("<html>\n<head><title>404 Not Found</title></head>\n<body><center><h1>404 Not Found</h1></center></body></html>",
     "error_page"),
    ("Request failed with status code 404", "error_page"),
    ("只有一行没有标题的文字。", "no_title"),
    ("---\ntitle: \"{TITLE}\"\npubDate: {DATE}\n---\n{CONTENT}", "template"),
    ("---\ntitle: t\n---\n<div><img src='x.png'><div class='appendQr_wrap'>海量资讯</div></div>", "empty_text"),
])
def test_rejects_with_reason(data, reason):
    assert reject(data).reason == reason


def test_quality_filters_reject_with_reason():
    strict = BuildSettings()
    short = process_file("a.md", "---\ntitle: 标题\n---\n太短了。".encode(), strict)
    assert short.reject.reason == "too_short"
    repeat = process_file("b.md", "---\ntitle: 市值蒸发六万亿\n---\n<div>市值蒸发六万亿</div>".encode(), strict)
    assert repeat.reject.reason == "title_only"
    only_zh = BuildSettings(quality=QualitySettings(languages=("zh",)))
    english = process_file("c.md", ("---\ntitle: T\n---\n" + "The bank said that it will hold rates. " * 3).encode(),
                           only_zh)
    assert english.reject.reason == "language"


def test_size_limit():
    result = process_file("big.md", b"x" * 2000, BuildSettings(max_file_bytes=1000))
    assert result.reject.reason == "too_large" and "1,000" in result.reject.message


def test_nothing_lost_extra_keeps_unmapped_keys():
    r = row("---\ntitle: t\ncode: 000001\nflag: no\nnested:\n  a: 1\n---\n正文。")
    assert json.loads(r["extra"]) == {"code": "000001", "flag": "no", "nested": {"a": "1"}}


def test_has_markdown_equals_the_markdown_pattern():
    from hypothesis import given, settings, strategies as st

    from builder.transform.title import _MARKDOWN, has_markdown

    pieces = st.sampled_from(["\n", " ", "\t", "   ", "    ", "!", "[", "]", "(", ")", ">", "#", "##", "x", "中",
                              "](http://", "](https://", "](ftp://", "<p>", "\r\n", "#######"])

    @settings(max_examples=2000, deadline=None)
    @given(st.lists(pieces, max_size=14).map("".join))
    def prop(body):
        assert has_markdown(body) == (_MARKDOWN.search(body) is not None), repr(body)

    prop()


def test_files_processed_together_get_what_each_gets_alone():
    # Every sample and regression file at once: rows, every kind of reject, warnings, hostile
    # markup; in a batch, in reverse, and one at a time.
    root = Path(__file__).parents[1]
    paths = sorted(p for d in (root / "builder" / "sample", FIXTURES.parent / "regressions") for p in d.rglob("*")
                   if p.is_file() and p.name != "EXPECTED.json")
    files = [(p.relative_to(root).as_posix(), p.read_bytes()) for p in paths]
    alone = [process_file(rel, data, S) for rel, data in files]
    assert {r.reject.reason for r in alone if r.reject} >= {"binary", "empty_text", "error_page", "no_title",
                                                            "template", "title_only"}
    assert sum(r.row is not None for r in alone) >= 40
    assert process_files(files, S) == alone
    assert process_files(files[::-1], S) == alone[::-1]


def test_the_steps_run_a_step_at_a_time_over_the_batch_and_skip_the_rejected():
    from builder.read.article import Article
    from builder.transform.process import run_steps

    log = []

    def first(a, s):
        log.append(("first", a.path))
        return a.rejected("empty_file", "nothing in it") if a.path == "b.md" else a

    def second(a, s):
        log.append(("second", a.path))
        if a.path == "c.md":
            raise KeyError("oops")
        a.fields["seen"] = True
        return a

    out = run_steps([Article("a.md"), Article("b.md"), Article("c.md")], S, steps=(first, second))
    assert log == [("first", "a.md"), ("first", "b.md"), ("first", "c.md"), ("second", "a.md"), ("second", "c.md")]
    assert [a.path for a in out] == ["a.md", "b.md", "c.md"] and out[0].fields == {"seen": True}
    assert out[1].reject.reason == "empty_file" and out[1].reject.path == "b.md"
    # A bug costs its file only, and says so.
    assert out[2].reject.reason == "internal_error" and out[2].reject.message == "KeyError: 'oops'"


def test_an_article_ends_with_a_row_or_a_reject_and_its_steps_leave_nothing_behind():
    result = process_file("a.md", "---\ntitle: t\n---\n<p>正文一段。</p>".encode(), S)
    assert result.reject is None and result.row["title"] == "t" and result.row["warnings"] == ["date_missing"]
    # The bytes and the cleaner's work in progress are let go once used.
    assert result.data is None and result.html is None and result.marked is None and result.lines is None
    assert process_file("a.md", b"", S).row is None
