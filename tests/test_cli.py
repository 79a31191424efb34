import subprocess
import sys

from conftest import article, distinct_text, write_corpus


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_build_prints_summary_and_exits_zero(tmp_path):
    src = write_corpus(tmp_path / "src", {"a.md": article("标题", f"<p>{distinct_text(1)}</p>"), "b.md": ""})
    proc = run("build", str(src), "-o", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "files found 2: rows 1 + rejected 1 + ignored 0" in proc.stderr
    assert "empty_file 1" in proc.stderr and (tmp_path / "out" / "data").is_dir()


def test_missing_source_is_one_clean_line(tmp_path):
    proc = run("build", str(tmp_path / "nope"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("corpus: error: source folder") and "Traceback" not in proc.stderr


def test_unwritable_output_is_one_clean_line(tmp_path):
    src = write_corpus(tmp_path / "src", {"a.md": article("标题", f"<p>{distinct_text(1)}</p>")})
    (tmp_path / "file").write_text("x")
    proc = run("build", str(src), "-o", str(tmp_path / "file" / "out"), "--quiet")
    assert proc.returncode == 2 and "corpus: error:" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_timezone_is_one_clean_line(tmp_path):
    proc = run("build", str(tmp_path), "--timezone", "Mars/Olympus")
    assert proc.returncode == 2 and "Mars/Olympus" in proc.stderr and "Traceback" not in proc.stderr
