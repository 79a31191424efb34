"""The Hub token never leaks into what the local target keeps: with HF_TOKEN set, build,
publish --to and versions print nothing of it, and neither the dataset folder nor any object
of the registry's git history holds it. (The Hub target's check is in test_publish_hub.py.)"""
import os
import subprocess
import sys

from conftest import article, distinct_text, write_corpus

SECRET = "hf_localsecret9876543210zyxwvuTSRQ"


def run(*args, env):
    proc = subprocess.run([sys.executable, "-m", "builder.cli", *map(str, args)], capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def test_token_never_reaches_output_folder_or_git_history(tmp_path):
    env = {**os.environ, "HF_TOKEN": SECRET}
    src = write_corpus(tmp_path / "src", {f"a/{i}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>")
                                          for i in range(20)})
    out, reg = tmp_path / "out", tmp_path / "registry"
    printed = run("build", src, "-o", out, "--no-cache", env=env)  # progress bar on: it is output too
    printed += run("publish", out, "--to", reg, "--version", "1.0.0", env=env)
    printed += run("publish", out, "--to", reg, "--version", "1.0.0", "--dry-run", env=env)
    printed += run("versions", reg, env=env)
    assert SECRET not in printed
    for folder in (out, reg):
        for path in folder.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path
    objects = subprocess.run(["git", "-C", str(reg), "cat-file", "--batch-all-objects", "--batch"],
                             capture_output=True, check=True).stdout  # every object, decompressed
    log = subprocess.run(["git", "-C", str(reg), "log", "--all", "-p", "--format=%H %an %ae %s %b"],
                         capture_output=True, check=True).stdout
    assert objects and SECRET.encode() not in objects + log
