"""File-system safety, end to end through build(): nothing outside the source root is read,
article content cannot steer where the output is written, odd file names work, and an output
folder that would swallow or sit inside the source is refused."""
import json
import os
import subprocess
import sys
import unicodedata

import pyarrow.parquet as pq
import pytest

from builder.errors import OutputError
from builder.pipeline import build
from conftest import article, distinct_text, write_corpus

SECRET = "SECRET-7f3a 不应被读取的文字"


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def all_bytes(folder):
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def rows(out):
    return [r for p in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]


def ledger(out):
    return [json.loads(line) for line in (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]


def test_nothing_outside_the_root_is_read(tmp_path):
    outside = write_corpus(tmp_path / "outside", {"secret.md": article("机密", f"<p>{SECRET}{distinct_text(99)}</p>"),
                                                  "dir/secret.md": article("机密", f"<p>{SECRET}{distinct_text(98)}</p>")})
    src = write_corpus(tmp_path / "src", {"a.md": article("一", f"<p>{distinct_text(1)}</p>"),
                                          "..md": article("两点", f"<p>{distinct_text(2)}</p>"),
                                          ".../x.md": article("三点", f"<p>{distinct_text(3)}</p>"),
                                          "..hidden/y.md": article("隐藏", f"<p>{distinct_text(4)}</p>")})
    links = {
        "relative.md": "../outside/secret.md",        # relative, leaving the root
        "absolute.md": str(outside / "secret.md"),
        "chain1.md": "chain2.md",                     # inside, then out
        "chain2.md": "../outside/secret.md",
        "parent": "..",                               # a folder link to the root's parent
        "outdir": str(outside / "dir"),
        "root": "/",
        "loop_a.md": "loop_b.md",                     # a loop
        "loop_b.md": "loop_a.md",
        "broken.md": "missing.md",
        "inside.md": "a.md",                          # inside the root: followed
    }
    for name, target in links.items():
        os.symlink(target, src / name)
    report = build(src, tmp_path / "out", progress=False, cache_dir=None)
    assert report.balanced and report.files_found == 4 + len(links)
    assert {r["path"]: r["reason"] for r in ledger(tmp_path / "out")} == {
        "relative.md": "outside_root", "absolute.md": "outside_root", "chain1.md": "outside_root",
        "chain2.md": "outside_root", "parent": "outside_root", "outdir": "outside_root", "root": "outside_root",
        "loop_a.md": "unreadable", "loop_b.md": "unreadable", "broken.md": "unreadable",
        "inside.md": "duplicate",  # read through the link: the same text as a.md
    }
    assert sorted(r["source_path"] for r in rows(tmp_path / "out")) == [".../x.md", "..hidden/y.md", "..md", "a.md"]
    assert SECRET.encode() not in all_bytes(tmp_path / "out")


def test_a_source_root_that_is_a_link_is_read(tmp_path):
    real = write_corpus(tmp_path / "real", {"a.md": article("一", f"<p>{distinct_text(1)}</p>")})
    os.symlink(real, tmp_path / "src")
    report = build(tmp_path / "src", tmp_path / "out", progress=False, cache_dir=None)
    assert report.rows == 1 and report.balanced


HOSTILE_VALUES = ["../../escape", "/etc/passwd", "..\\..\\windows", "out/../../x", "~/.ssh/id_rsa", "$HOME/x",
                  "$(touch pwned)", "data/train-00000-of-00001.parquet", "\u202eevil", "con", "a\u0000b"]


def test_article_content_cannot_steer_the_output(tmp_path):
    files = {}
    for i, value in enumerate(HOSTILE_VALUES):
        quoted = json.dumps(value)
        files[f"source/_posts/{i}/a.md"] = (
            f"---\ntitle: {quoted}\nid: {quoted}\nurl: {quoted}\nsource: {quoted}\nauthor: {quoted}\n"
            f"categories:\n - {quoted}\n - '..'\nheadimg: {quoted}\nextra_{i}: {quoted}\n"
            f"---\n<p>{distinct_text(i)}</p>")
    src = write_corpus(tmp_path / "src", files)
    (tmp_path / "work").mkdir()
    before = files_under(tmp_path)
    report = build(src, tmp_path / "work" / "out", progress=False, cache_dir=None)
    assert report.rows == len(HOSTILE_VALUES) and report.balanced
    out = tmp_path / "work" / "out"
    # Nothing was written outside the output folder, and inside it only the names the build gives.
    assert [p for p in files_under(tmp_path) if not p.startswith("work/out/")] == before
    for name in files_under(out):
        assert name in {"README.md", "rejects.jsonl", "splits.json", "build_summary.json", "croissant.json",
                        ".corpus-builder"} or (
            name.startswith("data/") and name.endswith(".parquet")) or name.startswith("assets/"), name
    assert not (tmp_path / "pwned").exists()
    # The values are data: kept as written (the title NUL-free, as titles are cleaned).
    titles = {r["title"] for r in rows(out)}
    assert {"../../escape", "/etc/passwd", "out/../../x", "$(touch pwned)"} <= titles
    # And the folder says nothing about where it was built.
    assert str(tmp_path).encode() not in all_bytes(out)


ODD_NAMES = [
    "with spaces in it.md", '"quoted" title.md', "'single'.md", " leading space.md", ".hidden.md", ".md.md",
    "-rf.md", "back\\slash.md", "new\nline.md", "tab\there.md", "emoji 📰.md", "名字 with 全角　空格.md",
    "x" * 240 + ".md", "semi;colon&amp.md", "percent%20.md", "star*?.md",
]


def test_odd_file_names_build_end_to_end(tmp_path):
    names = ODD_NAMES + [os.fsdecode(b"bad-\xff\xfe-bytes.md"), os.fsdecode(b"gbk-\xd6\xd0\xce\xc4.md")]
    src = tmp_path / "src"
    src.mkdir()
    for i, name in enumerate(names):
        (src / name).write_text(article(f"标题{i}", f"<p>{distinct_text(i)}</p>"), encoding="utf-8")
    report = build(src, tmp_path / "out", progress=False, cache_dir=None)
    assert report.balanced and report.rows == len(names), report.rejected
    got = sorted(r["source_path"] for r in rows(tmp_path / "out"))
    want = sorted(n.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") for n in names)
    assert got == want
    assert "bad-\\xff\\xfe-bytes.md" in got  # undecodable bytes shown as escapes, never dropped


def test_names_equal_after_unicode_normalisation_are_accounted(tmp_path):
    """'é' composed and decomposed are two files with one normalised path, so one id: the second
    is rejected as duplicate_id, naming the first; neither is lost from the accounting."""
    nfc, nfd = unicodedata.normalize("NFC", "café.md"), unicodedata.normalize("NFD", "café.md")
    src = write_corpus(tmp_path / "src", {nfc: article("一", f"<p>{distinct_text(1)}</p>"),
                                          nfd: article("二", f"<p>{distinct_text(2)}</p>")})
    if len(os.listdir(src)) == 1:
        pytest.skip("this file system normalises names itself")
    report = build(src, tmp_path / "out", progress=False, cache_dir=None)
    assert report.balanced and report.rows == 1 and report.rejected == {"duplicate_id": 1}


@pytest.mark.parametrize("where", ["same", "parent", "inside"])
def test_output_that_would_swallow_or_sit_in_the_source_is_refused(tmp_path, where):
    src = write_corpus(tmp_path / "data" / "articles", {"a.md": article("一", f"<p>{distinct_text(1)}</p>")})
    out = {"same": src, "parent": tmp_path / "data", "inside": src / "out"}[where]
    with pytest.raises(OutputError, match="source folder"):
        build(src, out, progress=False, cache_dir=None)
    assert files_under(tmp_path) == ["data/articles/a.md"]  # untouched, nothing written
    proc = subprocess.run([sys.executable, "-m", "builder.cli", "build", str(src), "-o", str(out), "--quiet"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("corpus: error: output") and "Traceback" not in proc.stderr
    assert files_under(tmp_path) == ["data/articles/a.md"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_a_reject(tmp_path):
    src = write_corpus(tmp_path / "src", {"a.md": article("一", f"<p>{distinct_text(1)}</p>"), "b.md": "x"})
    (src / "b.md").chmod(0)
    report = build(src, tmp_path / "out", progress=False, cache_dir=None)
    assert report.balanced and report.rejected == {"unreadable": 1}
