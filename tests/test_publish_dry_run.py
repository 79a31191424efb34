"""corpus publish --dry-run (builder.publish.plan): what a release will send, files added, changed,
deleted and unchanged and the bytes to upload, said without sending anything; then the real
publish sends exactly that: counted on the loopback Hub (tests/hub_server.py, the real
huggingface_hub client, classic LFS) and in a local registry's git objects."""
import base64
import json
import shutil
import subprocess

import pytest

from builder.cli import main
from builder.publish import publish
from test_publish_git import build_corpora

REPO = "corpus-org/news"
LFS_PUT = r"^/_lfs/"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """build_corpora's v1 and v2, and v2 with two files whose content v1 has under other names:
    its NOTES.md (a regular file) and its train shard (as a .bin: an LFS file on the Hub)."""
    root = tmp_path_factory.mktemp("corpora")
    out = build_corpora(root)
    again = root / "v2-again"
    shutil.copytree(out["v2"], again)
    (again / "archive").mkdir()
    shutil.copyfile(out["v1"] / "NOTES.md", again / "archive" / "notes.md")
    shutil.copyfile(out["v1"] / "data" / "train-00000-of-00001.parquet", again / "archive" / "train-v1.bin")
    out["v2-again"] = again
    return out


def what(plan) -> tuple:
    """A plan's files and figures, to compare a dry run's with the real run's."""
    return ([(f.path, f.size, f.stored) for f in plan.add], [(f.path, f.size, f.old_size, f.stored) for f in plan.change],
            [f.path for f in plan.delete], sorted(plan.unchanged), plan.upload_bytes, plan.unchanged_bytes)


def commit_lines(hub) -> list[tuple[str, dict]]:
    """The NDJSON lines of the one commit the Hub received since its requests were cleared."""
    (commit,) = [r for r in hub.log if r.method == "POST" and "/commit/" in r.path]
    return [(line["key"], line["value"]) for line in map(json.loads, commit.body.splitlines())]


def summary_of(plan) -> str:
    return (f"  {len(plan.add)} added, {len(plan.change)} changed, {len(plan.delete)} deleted, "
            f"{len(plan.unchanged)} unchanged (")


def test_a_dry_run_on_the_hub_says_what_the_publish_then_sends(hub, corpora, capsys):
    # A first release into a repo that does not exist yet: everything is added.
    first = publish(corpora["v1"], version="1.0.0", repo_id=REPO, dry_run=True).plan
    assert not hub.repos and hub.count("POST") == hub.count("PUT") == 0
    assert first.upload_bytes == sum(f.size for f in first.staged) and not first.change + first.delete
    done = publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    assert what(done.plan) == what(first)
    assert hub.received("PUT", LFS_PUT) == sum(f.size for f in first.staged if f.path.endswith((".parquet", ".png")))

    hub.clear_requests()
    assert main(["publish", str(corpora["v2-again"]), "--repo", REPO, "--version", "1.1.0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert hub.count("POST") == hub.count("PUT") == 0 and list(hub.tags(REPO)) == ["v1.0.0"]
    dry = publish(corpora["v2-again"], version="1.1.0", repo_id=REPO, dry_run=True).plan
    assert summary_of(dry) in out and f"({dry.upload_bytes:,} bytes)" in out
    assert "  delete  NOTES.md" in out and "  change  data/train-00000-of-00001.parquet" in out
    assert dry.unchanged and dry.change and dry.delete
    # The v1 shard under a new name is an LFS object the Hub has: not uploaded. The notes are a
    # regular file, which travels inside the commit whatever the repo holds.
    assert [(f.path, f.stored) for f in dry.add] == [("archive/notes.md", False), ("archive/train-v1.bin", True)]
    assert "archive/train-v1.bin" in out and "(stored already: not uploaded)" in out

    hub.clear_requests()
    real = publish(corpora["v2-again"], version="1.1.0", repo_id=REPO)
    assert real.status == "published" and what(real.plan) == what(dry)
    # What the Hub received: the added and changed files, in one commit; the deleted ones
    # deleted; nothing of the unchanged ones; the bytes the dry run said.
    lines = commit_lines(hub)
    assert {v["path"] for k, v in lines if k in ("file", "lfsFile")} == {f.path for f in dry.add + dry.change}
    assert {v["path"] for k, v in lines if k == "deletedFile"} == {f.path for f in dry.delete}
    inline = sum(len(base64.b64decode(v["content"])) for k, v in lines if k == "file")
    assert inline + hub.received("PUT", LFS_PUT) == dry.upload_bytes
    assert hub.count("PUT", LFS_PUT) == len([f for f in dry.add + dry.change
                                             if not f.stored and f.path.endswith((".parquet", ".png", ".bin"))])


def git(repo, *args: str, input: str | None = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          input=input).stdout


def test_a_dry_run_into_a_registry_says_what_the_publish_then_writes(corpora, tmp_path, capsys):
    reg = tmp_path / "reg"
    first = publish(corpora["v1"], version="1.0.0", to=reg, dry_run=True)
    assert first.status == "dry-run" and not reg.exists()
    assert what(publish(corpora["v1"], version="1.0.0", to=reg).plan) == what(first.plan)

    refs = git(reg, "for-each-ref")
    assert main(["publish", str(corpora["v2-again"]), "--to", str(reg), "--version", "1.1.0", "--dry-run"]) == 0
    dry = publish(corpora["v2-again"], version="1.1.0", to=reg, dry_run=True).plan
    out = capsys.readouterr().out
    assert summary_of(dry) in out and f"({dry.upload_bytes:,} bytes)" in out and "dry run: nothing uploaded" in out
    assert git(reg, "for-each-ref") == refs and git(reg, "status", "--porcelain") == ""
    # Both copies of v1's content are blobs the registry has.
    assert [(f.path, f.stored) for f in dry.add] == [("archive/notes.md", True), ("archive/train-v1.bin", True)]

    real = publish(corpora["v2-again"], version="1.1.0", to=reg)
    assert what(real.plan) == what(dry)
    status = dict(reversed(line.split("\t")) for line in git(reg, "diff", "--name-status", "--no-renames",
                                                                 "v1.0.0", "v1.1.0").splitlines())
    assert status == {**{f.path: "A" for f in dry.add}, **{f.path: "M" for f in dry.change},
                      **{f.path: "D" for f in dry.delete}}
    # The blobs the release wrote: those of no earlier commit, as many bytes as the dry run said.
    new = [line.split()[0] for line in git(reg, "rev-list", "--objects", "v1.1.0", "--not", "v1.0.0").splitlines()]
    sizes = git(reg, "cat-file", "--batch-check=%(objecttype) %(objectsize)", input="\n".join(new))
    assert sum(int(s) for kind, s in (line.split() for line in sizes.splitlines()) if kind == "blob") == \
        dry.upload_bytes
