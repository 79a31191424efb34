"""Every bad input a new user met, held to one line on stderr, the right exit code, no
traceback, nothing deleted and the previous output byte for byte as it was.

Each case runs the real `corpus` command in a fresh process (a traceback from a helper
process would show on its stderr too) in a scratch folder that holds a good dataset `out/`
built before; the whole folder is compared before and after.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.pipeline import build

from conftest import article, distinct_text, write_corpus

BAD_RULES = {
    "missing": None,
    "empty": {},
    "bad_regex": {"r.toml": "name = 'r'\n[[paragraph]]\npattern = '(unclosed'\n"},
    "bad_toml": {"r.toml": "name = 'r'\n[[paragraph]\npattern = 'x'\n"},
    "unknown_key": {"r.toml": "name = 'r'\n[[paragrahp]]\npattern = '^x$'\n"},
    "unknown_field": {"r.toml": "name = 'r'\n[[paragraph]]\npattern = '^(?P<editr>.+)$'\n"},
    "feed_not_a_list": {"r.toml": "name = 'r'\n[match]\nfeed = 'MySite'\n"},
}


@pytest.fixture(scope="module")
def good_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("good") / "out"
    build(None, out, progress=False, cache_dir=None)
    return out


@pytest.fixture
def scratch(tmp_path, good_dataset) -> Path:
    """A user's folder: a source of three articles, a good dataset `out/`, notes beside them."""
    write_corpus(tmp_path / "src", {f"source/_posts/新浪财经/{i}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>")
                                    for i in range(3)})
    shutil.copytree(good_dataset, tmp_path / "out")
    (tmp_path / "notes.txt").write_text("my notes\n")
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def corpus(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def assert_refused(result: subprocess.CompletedProcess, code: int, *words: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("corpus: error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], lines[0]


def assert_untouched(scratch: Path, before: dict) -> None:
    assert snapshot(scratch) == before


# ---- output folders --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["notes", "git"])
def test_an_output_folder_of_a_persons_files_is_refused(scratch, kind):
    mine = scratch / "mine"
    if kind == "git":
        (mine / ".git").mkdir(parents=True)
        (mine / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    else:
        mine.mkdir()
        (mine / "todo.md").write_text("# my notes\n")
    before = snapshot(scratch)
    assert_refused(corpus("build", "src", "-o", "mine", "-q", "--no-cache", cwd=scratch), 2, "mine",
                   "did not write", "choose another -o")
    assert_untouched(scratch, before)


def test_the_current_folder_as_output_is_refused(scratch):
    (scratch / "work").mkdir()
    (scratch / "work" / "draft.md").write_text("# a draft\n")
    before = snapshot(scratch)
    assert_refused(corpus("build", "../src", "-o", ".", "-q", "--no-cache", cwd=scratch / "work"), 2,
                   "did not write")
    assert_refused(corpus("build", "src", "-o", ".", "-q", "--no-cache", cwd=scratch), 2, "holds the source")
    assert_untouched(scratch, before)


def test_a_split_into_a_persons_folder_is_refused(scratch):
    (scratch / "mine").mkdir()
    (scratch / "mine" / "todo.md").write_text("# my notes\n")
    before = snapshot(scratch)
    assert_refused(corpus("split", "out", "-o", "mine", cwd=scratch), 2, "did not write")
    assert_untouched(scratch, before)


def test_an_output_that_cannot_be_written_is_refused(scratch):
    before = snapshot(scratch)
    assert_refused(corpus("build", "src", "-o", "/proc/corpus-out", "-q", "--no-cache", cwd=scratch), 2,
                   "/proc", "choose another -o")
    assert_untouched(scratch, before)


def test_an_output_that_is_a_file_is_refused(scratch):
    before = snapshot(scratch)
    assert_refused(corpus("build", "src", "-o", "notes.txt", "-q", "--no-cache", cwd=scratch), 2,
                   "notes.txt", "not a folder")
    assert_untouched(scratch, before)


def test_a_dataset_this_tool_wrote_is_replaced(scratch):
    result = corpus("build", "src", "-o", "out", "-q", "--no-cache", cwd=scratch)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (scratch / "out" / ".corpus-builder").is_file() and (scratch / "notes.txt").is_file()
    assert not [p.name for p in scratch.iterdir() if p.name.startswith(".")]  # no lock or scratch left


# ---- settings checked before reading ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BAD_RULES))
def test_a_bad_rules_folder_is_refused_before_reading(scratch, name):
    rules = scratch / "rules"
    if BAD_RULES[name] is not None:
        write_corpus(rules, BAD_RULES[name])
    before = snapshot(scratch)
    assert_refused(corpus("build", "src", "-o", "out", "-q", "--no-cache", "--rules", "rules", cwd=scratch), 2,
                   "rule")
    assert_untouched(scratch, before)


@pytest.mark.parametrize("args, words", [
    (["--group", "nosuchcol"], ["--group", "nosuchcol", "choose one of"]),
    (["--stratify", "nosuchcol"], ["--stratify", "nosuchcol"]),
    (["--stratify", "categories"], ["list column"]),
    (["--strategy", "time", "--group", "nosuchcol"], ["nosuchcol"]),
    (["--spec", "missing.toml"], ["missing.toml"]),
    (["--languages", "xx"], ["'xx'", "zh, en, ja, ko, other"]),
    (["--languages", ","], ["languages"]),
    (["--workers", "0"], ["workers"]),
    (["--suffixes", ","], ["suffix"]),
    (["--timezone", "Mars/Base"], ["Mars/Base"]),
    (["--card-template", "missing.md"], ["missing.md"]),
    (["--cache-dir", "notes.txt"], ["notes.txt"]),
])
def test_a_bad_setting_is_one_line_and_changes_nothing(scratch, args, words):
    before = snapshot(scratch)
    assert_refused(corpus("build", "src", "-o", "out", "-q", *args, cwd=scratch), 2, *words)
    assert_untouched(scratch, before)


@pytest.mark.parametrize("args, words", [
    (["--group", "nosuchcol"], ["nosuchcol"]),
    (["--spec", "missing.toml"], ["missing.toml"]),
])
def test_a_bad_split_setting_is_one_line_and_changes_nothing(scratch, args, words):
    before = snapshot(scratch)
    assert_refused(corpus("split", "out", "-o", "resplit", *args, cwd=scratch), 2, *words)
    assert_refused(corpus("split", "out", *args, cwd=scratch), 2, *words)  # in place
    assert_untouched(scratch, before)


# ---- builds with no rows ---------------------------------------------------------------------

def test_an_empty_source_fails_and_keeps_the_previous_output(scratch):
    (scratch / "empty").mkdir()
    before = snapshot(scratch)
    assert_refused(corpus("build", "empty", "-o", "out", "-q", "--no-cache", cwd=scratch), 1,
                   "no article files found", "--suffixes")
    assert_untouched(scratch, before)


def test_a_folder_of_images_fails_and_says_what_it_ignored(scratch):
    write_corpus(scratch / "images", {f"img{i}.png": b"\x89PNG\r\n\x1a\n" + bytes(64) for i in range(3)})
    before = snapshot(scratch)
    assert_refused(corpus("build", "images", "-o", "out", "-q", "--no-cache", cwd=scratch), 1,
                   "no article files found", ".png 3")
    assert_untouched(scratch, before)


@pytest.mark.parametrize("args, words", [
    (["--languages", "ko"], ["language 3", "--languages"]),
    (["--min-chars", "100000"], ["too_short 3", "--min-chars"]),
])
def test_every_file_rejected_fails_with_the_reasons(scratch, args, words):
    before = snapshot(scratch)
    assert_refused(corpus("build", "src", "-o", "out", "-q", "--no-cache", *args, cwd=scratch), 1,
                   "no rows", *words)
    assert_untouched(scratch, before)


# ---- the machine -----------------------------------------------------------------------------

def test_a_second_build_into_the_same_output_waits_its_turn(scratch):
    write_corpus(scratch / "big", {f"source/_posts/f/{i}.md": article(f"t{i}", f"<p>{distinct_text(i, 3000)}</p>")
                                   for i in range(1500)})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    first = subprocess.Popen([sys.executable, "-m", "builder.cli", "build", "big", "-o", "out", "-q", "--no-cache",
                              "--workers", "1"], cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not list(scratch.glob(".out.spill-*")) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.poll() is None, "the first build ended before the second could start"
        second = corpus("build", "src", "-o", "out", "-q", "--no-cache", cwd=scratch)
        assert_refused(second, 2, "being written by a corpus build (pid", str(first.pid))
        assert list(scratch.glob(".out.spill-*")), "the second build removed the first one's scratch folder"
    finally:
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0 and "Traceback" not in err, err
    import datasets

    assert datasets.load_dataset(str(scratch / "out"))["train"].num_rows > 0


def _mount_tmpfs(folder: Path, size_kb: int) -> bool:
    folder.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def test_a_full_disk_is_one_line_and_keeps_the_previous_output(scratch):
    disk = scratch / "disk"
    if not _mount_tmpfs(disk, 4096):
        pytest.skip("cannot mount a small tmpfs here (not root)")
    try:
        shutil.copytree(scratch / "out", disk / "out")
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(bytes(free - 100 * 1024))  # 100 KiB left: less than a build needs
        before = snapshot(disk)
        assert_refused(corpus("build", str(scratch / "src"), "-o", "out", "-q", "--no-cache", "--salt", "other",
                              cwd=disk), 1, "No space left on device", "previous output is unchanged")
        assert_untouched(disk, before)  # and no scratch folder left beside it
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_read_only_output_folder_is_one_line(scratch):
    if os.geteuid() == 0:
        # root writes through permission bits: a read-only mount is what stops it.
        ro = scratch / "ro"
        if not _mount_tmpfs(ro, 1024):
            pytest.skip("cannot mount a tmpfs here")
        try:
            subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
            assert_refused(corpus("build", "src", "-o", str(ro / "out"), "-q", "--no-cache", cwd=scratch), 2,
                           str(ro), "choose another -o")
        finally:
            subprocess.run(["umount", str(ro)], check=False)
    else:
        (scratch / "ro").mkdir(mode=0o555)
        assert_refused(corpus("build", "src", "-o", "ro/out", "-q", "--no-cache", cwd=scratch), 2, "ro")


# ---- a damaged dataset (the checks themselves: test_integrity.py) -------------------------------

@pytest.mark.parametrize("damage", ["overwritten", "zeroed"])
def test_a_damaged_shard_is_named_and_never_passed_on(scratch, damage):
    shard = sorted((scratch / "out" / "data").glob("train-*.parquet"))[0]
    data = bytearray(shard.read_bytes())
    if damage == "zeroed":
        data = bytearray(len(data))
    else:
        data[len(data) // 2:len(data) // 2 + 64] = b"\xff" * 64
    shard.write_bytes(bytes(data))
    before = snapshot(scratch)
    result = corpus("verify", "out", cwd=scratch)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert shard.name in result.stderr and "duplicate id" not in result.stderr
    assert_refused(corpus("split", "out", "-o", "resplit", cwd=scratch), 2, shard.name)
    assert_refused(corpus("publish", "out", "--to", "registry", "--version", "1.0.0", cwd=scratch), 2,
                   shard.name)
    assert_untouched(scratch, before)
