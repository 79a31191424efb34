"""Crash safety of publishing: `corpus publish --to REGISTRY` killed with SIGKILL at random
points never leaves a tag on a partial release, and a re-run ends with exactly one commit for
the release, tagged. (Dropped connections to the Hub are in test_publish_hub.py.)"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from builder.pipeline import build
from conftest import article, distinct_text, write_corpus

KILLS = 10
SEED = 1126


def cli(*args):
    return subprocess.Popen([sys.executable, "-m", "builder.cli", *map(str, args)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def tree(repo, rev):
    """path -> blob id of every file at `rev`."""
    lines = git(repo, "ls-tree", "-r", rev).splitlines()
    return {line.split("\t", 1)[1]: line.split()[2] for line in lines}


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash-publish")
    files = {f"source/_posts/金融/新浪财经/国内/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>")
             for i in range(120)}
    build(write_corpus(root / "src-old", dict(list(files.items())[:80])), root / "old", progress=False, workers=1)
    build(write_corpus(root / "src-new", files), root / "new", progress=False, workers=1)
    base = root / "registry-base"
    proc = cli("publish", root / "old", "--to", base, "--version", "1.0.0")
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    # A clean v1.1.0, for its duration and its content.
    clean = root / "registry-clean"
    shutil.copytree(base, clean, symlinks=True)
    t = time.perf_counter()
    proc = cli("publish", root / "new", "--to", clean, "--version", "1.1.0")
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    return root, base, clean, time.perf_counter() - t


def test_killed_publish_leaves_no_tag_on_a_partial_release(releases, tmp_path):
    root, base, clean, seconds = releases
    want = tree(clean, "v1.1.0")
    rng = random.Random(SEED)
    killed = 0
    for k in range(KILLS):
        reg = tmp_path / f"registry-{k}"
        shutil.copytree(base, reg, symlinks=True)
        proc = cli("publish", root / "new", "--to", reg, "--version", "1.1.0")
        time.sleep(rng.uniform(0.05, seconds))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        tags = git(reg, "tag").split()
        assert "v1.0.0" in tags
        if "v1.1.0" in tags:  # a tag only ever names the complete release
            assert tree(reg, "v1.1.0") == want
        git(reg, "fsck", "--no-dangling")
        again = cli("publish", root / "new", "--to", reg, "--version", "1.1.0")
        assert again.wait(timeout=120) == 0, again.stderr.read().decode()
        assert tree(reg, "v1.1.0") == want
        assert git(reg, "rev-list", "--count", "v1.0.0..v1.1.0").strip() == "1"  # one commit for the release
        assert git(reg, "rev-parse", "main").strip() == git(reg, "rev-parse", "v1.1.0^{commit}").strip()
    assert killed >= KILLS // 2, "the kills fell after the publish finished: the delays need rescaling"
