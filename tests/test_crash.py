"""Crash safety: `corpus build` and `corpus split` (in place) killed with SIGKILL at random
points leave the previous output byte for byte as it was (or, past the final swap, the
complete new one: never a mix, never nothing), and the next run finishes and equals a clean run.

Each run is a real CLI process in its own process group, so the kill takes its worker
processes too; the build cache is kept between the runs (killed while being filled or swapped too).
The kill delays come from a seeded RNG, spread over the length of a clean run.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import article, distinct_text, write_corpus

N_FILES = 220  # over reading.INLINE_BELOW (200): the worker pool runs, and is killed with the build
KILLS = 10
SEED = 20261126


def snapshot(folder):
    """Every file of a folder, by relative path: what 'byte for byte as it was' compares."""
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


TMP = {}  # TMPDIR for the runs: what a killed run leaves in the temporary folder is seen


def cli(*args):
    return subprocess.Popen([sys.executable, "-m", "builder.cli", *map(str, args)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **TMP})


def run(*args):
    proc = cli(*args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()


def timed(*args):
    t = time.perf_counter()
    run(*args)
    return time.perf_counter() - t


def kill_at(delay, *args):
    """Start the command, SIGKILL its whole process group after `delay` seconds; returns whether
    it was still running, and what was beside the output at that moment (scratch folders:
    evidence the kill fell mid-write)."""
    proc = cli(*args)
    time.sleep(delay)
    parent = args[args.index("-o") + 1].parent if "-o" in args else args[1].parent
    beside = sorted(p.name for p in parent.iterdir())
    running = proc.poll() is None
    if running:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    return running, beside


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    (root / "tmp").mkdir()
    TMP["TMPDIR"] = str(root / "tmp")
    files = {f"source/_posts/金融/新浪财经/国内/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>")
             for i in range(N_FILES)}
    old = write_corpus(root / "old", dict(list(files.items())[:150]))
    files["source/_posts/junk/bad.md"] = b"\x89PNG\r\n\x1a\n\x00"  # a reject, so rejects.jsonl has a line
    new = write_corpus(root / "new", files)
    seconds = timed("build", new, "-o", root / "clean" / "out", "--quiet", "--workers", 2, "--no-cache")
    return root, old, new, seconds


def build_args(src, out, cache):
    return ("build", src, "-o", out, "--quiet", "--workers", "2", "--cache-dir", cache)


def test_build_killed_at_random_points(corpora):
    root, old, new, seconds = corpora
    work = root / "build"
    out, cache = work / "out", work / "cache"
    run(*build_args(old, out, cache))
    current = snapshot(out)  # the previous output: built from other files
    clean = snapshot(root / "clean" / "out")
    assert current != clean
    rng = random.Random(SEED)
    delays = sorted(rng.uniform(0.02, 0.98) * seconds for _ in range(KILLS))
    assert len(set(delays)) == KILLS
    killed = mid_write = 0
    for delay in delays:
        running, beside = kill_at(delay, *build_args(new, out, cache))
        killed += running
        mid_write += running and any(name.startswith(".out.") for name in beside)
        now = snapshot(out)
        assert now in (current, clean), f"killed at {delay:.2f} s: the output is neither the old nor the new one"
        current = now  # past the swap, the new one is what must survive the next kill
    assert killed >= KILLS // 2 and mid_write >= 1, f"{killed} kills, {mid_write} mid-write: the delays missed"
    run(*build_args(new, out, cache))
    assert snapshot(out) == clean
    assert sorted(p.name for p in work.iterdir()) == ["cache", "out"]  # no scratch folder left behind


def test_split_in_place_killed_at_random_points(corpora):
    root, _, _, _ = corpora
    work = root / "split"
    shutil.copytree(root / "clean" / "out", work / "reference" / "out")
    args = ("split", work / "reference" / "out", "--salt", "crash", "--test-size", "0.3")
    seconds = timed(*args)
    clean = snapshot(work / "reference" / "out")
    shutil.copytree(root / "clean" / "out", work / "live" / "out")
    out = work / "live" / "out"
    current = snapshot(out)
    assert current != clean
    rng = random.Random(SEED + 1)
    killed = 0
    for delay in sorted(rng.uniform(0.02, 0.98) * seconds for _ in range(KILLS)):
        killed += kill_at(delay, "split", out, "--salt", "crash", "--test-size", "0.3")[0]
        now = snapshot(out)
        assert now in (current, clean), f"killed at {delay:.2f} s: the dataset is neither the old nor the new one"
        current = now
    assert killed >= KILLS // 2
    run("split", out, "--salt", "crash", "--test-size", "0.3")
    assert snapshot(out) == clean
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]
    # Nor any of ours in the temporary folder (multiprocessing's own pymp-* folders are not ours).
    assert not [p.name for p in (root / "tmp").iterdir() if not p.name.startswith("pymp-")]


def test_two_rename_swap_recovers_the_latest_folder(tmp_path, monkeypatch):
    """Where the swap is two renames (no renameat2: macOS, some file systems), a kill between
    them leaves no output and the old folder beside it, which the next run puts back. A kill
    after them leaves an old folder too: it must not survive to be put back later instead."""
    from builder import output

    monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    stale = tmp_path / ".out.old-ffffffff"  # an old folder whose removal a kill cut short
    stale.mkdir()
    (stale / "v").write_text("v1")
    target.mkdir()
    (target / output.MARKER).write_text("")
    (target / "v").write_text("v2")
    with output.atomic_output(target) as tmp:
        (tmp / "v").write_text("v3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    target.rename(tmp_path / ".out.old-00000000")  # the next run, killed between its renames
    with output.atomic_output(target) as tmp:
        assert (target / "v").read_text() == "v3"  # the latest output, back before anything else
        (tmp / "v").write_text("v4")
    assert (target / "v").read_text() == "v4" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
