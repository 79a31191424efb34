"""Hard limits: every hostile input finishes in bounded time and memory, and every limit ends
in a reject with its own reason code (or, below the hard limit, a row with a warning).

Time and memory of the big cases are measured in a fresh subprocess (ru_maxrss is a process's
high-water mark); the time bounds are generous, since CI machines are slow and shared.
"""
import json
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from builder import reading
from builder.transform import clean
from builder.transform.process import process_file
from builder.cli import main
from builder.pipeline import build
from builder.run.timeout import on_alarm
from builder.run.worker import read_and_process
from builder.transform.quality import QualitySettings
from builder.settings import BuildSettings
from conftest import article, distinct_text, write_corpus

LOOSE = BuildSettings(quality=QualitySettings(min_chars=1))
PARAGRAPH = "<p>　　3月24日，工业和信息化部召开重点行业运行形势分析座谈会，部署疫情防控和工业稳增长工作。</p>\n"


def big_article(n_bytes: int) -> bytes:
    head = "\n---\ntitle: '大文件'\ndate: Fri, 25 Mar 2022 02:14:53 GMT\n---\n<div>\n"
    return (head + PARAGRAPH * (n_bytes // len(PARAGRAPH.encode()) + 1) + "</div>\n").encode()


def deep_html(depth: int, open_tag: str = "<div>", close_tag: str = "</div>") -> bytes:
    return ("---\ntitle: 深\n---\n<p>开头的段落文字。</p>" + open_tag * depth + "<p>最深处的段落文字。</p>"
            + close_tag * depth + "<p>结尾的段落文字。</p>").encode()


def billion_laughs() -> bytes:
    """Valid YAML whose aliases expand to 9**9 items: small as a graph, huge expanded."""
    lines = ["title: 十亿笑声", "date: 2022-03-25", 'lol0: &l0 "lol"']
    lines += [f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return ("---\n" + "\n".join(lines) + "\n---\n" + PARAGRAPH).encode()


# ---------------------------------------------------------------------------------------------
# Bounded time and memory

_MEASURE = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, {tests!r})
    from test_limits import big_article, billion_laughs, deep_html
    from builder.transform.process import process_file
    from builder.settings import BuildSettings

    data = {make}
    process_file("warm.md", "---\\ntitle: t\\n---\\n<p>预热用的一段足够长的正文文字。</p>".encode(), BuildSettings())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    r = process_file("x.md", data, BuildSettings())
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({{"seconds": seconds, "grew_mb": peak - before, "reject": r.reject and r.reject.reason,
                       "warnings": r.row and r.row["warnings"], "text": r.row and r.row["text"][:2000]}}))
""")


@pytest.mark.parametrize("make,warning,max_mb", [
    ("big_article(5 * 2**20)", None, 400),        # a 5 MB article: ~0.6 s and ~45 MB here
    ("deep_html(5000)", "html_truncated", 150),    # make_corpus's deep_html: a row, flattened
    ("billion_laughs()", "frontmatter_alias_limit", 50),
])
def test_hostile_file_finishes_in_bounded_time_and_memory(make, warning, max_mb):
    code = _MEASURE.format(tests=str(Path(__file__).parent), make=make)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["reject"] is None, got
    assert got["seconds"] < 10 and got["grew_mb"] < max_mb, got
    if warning:
        assert warning in got["warnings"]
    if make.startswith("deep_html"):  # nothing lost: above, at the bottom of, and after the nest
        assert got["text"].split("\n\n") == ["开头的段落文字。", "最深处的段落文字。", "结尾的段落文字。"]


def test_billion_laughs_keeps_title_and_date():
    row = process_file("x.md", billion_laughs(), BuildSettings()).row
    assert row["title"] == "十亿笑声" and row["date"].year == 2022
    assert "frontmatter_alias_limit" in row["warnings"]


# ---------------------------------------------------------------------------------------------
# Each limit, its reason


def test_html_nested_past_the_hard_limit_is_rejected():
    t = time.perf_counter()
    result = process_file("x.md", deep_html(100_001), BuildSettings())
    assert result.reject.reason == "html_too_deep" and "100,000" in result.reject.message
    assert time.perf_counter() - t < 10
    assert process_file("x.md", deep_html(99_999), LOOSE).row is not None  # the <p> inside is the 100,000th


def test_too_many_elements_is_rejected_before_parsing():
    t = time.perf_counter()
    result = process_file("x.html", b"---\ntitle: t\n---\n" + b"<b>x" * 1_000_001, BuildSettings())
    assert result.reject.reason == "too_many_elements" and "1,000,000" in result.reject.message
    assert time.perf_counter() - t < 10


def test_markdown_rendered_to_too_many_elements_is_rejected():
    data = ("---\ntitle: t\n---\n" + "- 项目\n" * 2000).encode()
    settings = BuildSettings(max_html_elements=1000, quality=LOOSE.quality)
    assert process_file("x.md", data, settings).reject.reason == "too_many_elements"
    assert process_file("x.md", data, LOOSE).row is not None


@pytest.mark.parametrize("settings,data,reason", [
    (BuildSettings(max_file_bytes=100), big_article(1000), "too_large"),
    (BuildSettings(max_frontmatter_bytes=64), ("---\ntitle: t\nk: " + "v" * 100 + "\n---\n" + PARAGRAPH).encode(),
     "frontmatter_too_large"),
    (BuildSettings(max_html_depth=50), deep_html(51), "html_too_deep"),
    (BuildSettings(max_html_elements=10), ("---\ntitle: t\n---\n" + PARAGRAPH * 11).encode(), "too_many_elements"),
])
def test_each_limit_has_its_reason(settings, data, reason):
    assert process_file("x.md", data, settings).reject.reason == reason


@pytest.mark.parametrize("depth", [257, 300, 799, 3000])
@pytest.mark.parametrize("tag", ["div", "b", "em", "span", "td"])
def test_nesting_past_the_parsers_limit_loses_no_text(tag, depth):
    """libxml2 stops at depth 256 and silently drops the rest of the document: 300 nested
    <div> used to give an empty text, and <b> at any depth past 256 too."""
    row = process_file("x.md", deep_html(depth, f"<{tag}>", f"</{tag}>"), LOOSE).row
    assert row["text"].split("\n\n") == ["开头的段落文字。", "最深处的段落文字。", "结尾的段落文字。"]


def test_a_text_node_over_10_mb_is_kept():
    """Without huge_tree, libxml2 drops a text node over 10 MB without a word."""
    paragraphs = clean.html_to_paragraphs("<p>" + "word " * 2_200_000 + "</p><p>after</p>")
    assert len(paragraphs) == 2 and len(paragraphs[0]) > 10_000_000 and paragraphs[1] == "after"


# Inputs that took quadratic time before (minutes to hours at these sizes), each with the
# pattern that was at fault; all must now be linear.
QUADRATIC = [
    ("front matter value: `(.*?) *` in the fast reader", "---\ntitle: a{X}b\n---\nbody", " ", 250_000),
    ("front matter list item: `(.*?) *`", "---\ntitle: t\ntags:\n  - a{X}b\n---\nbody", " ", 250_000),
    ("lenient key: `[^:<>]*?[ \\t]*:`", "---\nk{X}k: v\n---\nbody", "\t", 250_000),
    ("lenient value: `(.*?)[ \\t]*$`", "---\ntitle: t\nk: [a{X}b\n---\nbody", "\t", 250_000),
    ("heading: `(.+?)[ \\t]*#*[ \\t]*$`", "# a{X}b\n\nbody", " ", 2_000_000),
    ("html title: `<h1>(.*?)</h1>` with no closer", "{X}", "<h1>", 2_000_000),
    ("html title: `<title[^>]*>` with no '>'", "{X}", "<title ", 2_000_000),
    ("error-page check: `<[^>]+>` with no '>'", "{X}", "<", 2_000_000),
    ("sina stock codes: `[^>]*?\\s*-->`", "---\ntitle: t\ncategories:\n - 新浪财经\n---\n<div>{X}</div>",
     "<!-- news_keyword_pub,stock,", 2_000_000),
    ("footer link: `\\[[^\\]]*\\]`", "---\ntitle: t\n---\n{X}", "原文链接：[", 2_000_000),
    ("flattening: `<div[^>]*>` with no '>'", "---\ntitle: t\n---\n<p>正文</p>{X}", "<div", 2_000_000),
]


@pytest.mark.parametrize("what,template,unit,size", QUADRATIC, ids=[q[0] for q in QUADRATIC])
def test_no_quadratic_time(what, template, unit, size):
    data = template.replace("{X}", (unit * (size // len(unit) + 1))[:size]).encode()
    for path in ("x.md", "x.html"):
        t = time.perf_counter()
        result = process_file(path, data, LOOSE)
        assert time.perf_counter() - t < 5, (what, path)
        assert result.reject is None or result.reject.reason != "internal_error", result.reject


# ---------------------------------------------------------------------------------------------
# Time per file

CATASTROPHIC_RULE = "[[raw]]\npattern = '(x+x+)+y'\n"  # a user's rule that backtracks exponentially
SLOW_BODY = "<p>" + "x" * 40 + "</p><p>" + distinct_text(7) + "</p>"


def slow_corpus(tmp_path, n_ok: int = 6):
    """A corpus of `n_ok` ordinary files and slow.md, and the rules folder that makes it slow."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "slow.toml").write_text(CATASTROPHIC_RULE)
    files = {f"ok{i}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>") for i in range(n_ok)}
    return write_corpus(tmp_path / "src", {**files, "slow.md": article("慢", SLOW_BODY)}), (str(tmp_path / "rules"),)


@contextmanager
def callers_alarm():
    """The caller's own SIGALRM handler and a 30 s timer while inside; yields what fired."""
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        yield fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_file_over_the_time_limit_is_rejected_and_the_alarm_restored(tmp_path):
    src, rules = slow_corpus(tmp_path, n_ok=0)
    settings = BuildSettings(rules_dirs=rules, max_seconds_per_file=0.3)
    with callers_alarm() as fired:
        t = time.perf_counter()
        result = read_and_process(("slow.md", str(src / "slow.md")), settings)
        assert time.perf_counter() - t < 5
        assert result.reject.reason == "timeout" and "0.3 s" in result.reject.message
        assert result.sha256 is not None  # still in the input manifest
        # The caller's handler and timer are back, the timer less the time spent.
        assert signal.getsignal(signal.SIGALRM) is not on_alarm
        assert 20 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30 and not fired


def test_time_limit_in_worker_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "INLINE_BELOW", 0)  # a pool even for a few files
    src, rules = slow_corpus(tmp_path)
    settings = BuildSettings(rules_dirs=rules, max_seconds_per_file=0.5)
    report = build(src, tmp_path / "out", settings=settings, workers=2, progress=False, cache_dir=None)
    assert report.balanced and report.rows == 6 and report.rejected == {"timeout": 1}
    ledger = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert [(r["path"], r["reason"]) for r in ledger] == [("slow.md", "timeout")]


def test_time_limit_of_files_read_together_in_this_process(tmp_path):
    # A build of a few files reads them here, together: the slow one alone is rejected, and
    # the caller's handler and timer are back afterwards.
    src, rules = slow_corpus(tmp_path)
    settings = BuildSettings(rules_dirs=rules, max_seconds_per_file=0.3)
    with callers_alarm() as fired:
        t = time.perf_counter()
        report = build(src, tmp_path / "out", settings=settings, workers=1, progress=False, cache_dir=None)
        assert time.perf_counter() - t < 10
        assert report.balanced and report.rows == 6 and report.rejected == {"timeout": 1}
        assert signal.getsignal(signal.SIGALRM) is not on_alarm
        assert 15 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30 and not fired


def test_time_limit_flag(tmp_path, capsys):
    src, _ = slow_corpus(tmp_path, n_ok=1)
    code = main(["build", str(src), "-o", str(tmp_path / "out"), "--rules", str(tmp_path / "rules"),
                 "--max-seconds-per-file", "0.5", "--quiet", "--no-cache"])
    assert code == 0
    summary = json.loads((tmp_path / "out" / "build_summary.json").read_text())
    assert summary["rejected"] == {"timeout": 1} and summary["settings"]["max_seconds_per_file"] == 0.5
