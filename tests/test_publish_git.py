"""corpus publish --to REGISTRY: releases into a local git repository, one commit and one
annotated tag each, under the same rules as on the Hub, with real git and a real load_dataset
on checkouts of the tags."""
import json
import os
import shutil
import subprocess

import pyarrow.parquet as pq
import pytest

from builder.cli import main
from builder.errors import PublishError, VersionError
from builder.pipeline import build
from builder.publish import GitTarget, plan_release, publish, publish_plan, versions
from builder.release import card_version
from builder.resplit import resplit
from conftest import article, distinct_text, write_corpus
from splits import SplitSpec

N = 40
FEED = "source/_posts/金融/新浪财经/国内"


def corpus_files(changed: bool) -> dict:
    files = {f"{FEED}/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>") for i in range(N)}
    if changed:
        for i in range(3):  # removed
            del files[f"{FEED}/{i:04d}.md"]
        for i in range(N, N + 4):  # added
            files[f"{FEED}/{i:04d}.md"] = article(f"标题{i}", f"<p>{distinct_text(i)}</p>")
        files[f"{FEED}/0005.md"] = article("标题5（更正）", f"<p>{distinct_text(5)}</p>")  # new title
        files[f"{FEED}/0006.md"] = article("标题6", f"<p>{distinct_text(1006)}</p>")  # new text
    return files


def build_corpora(root) -> dict:
    """Three dataset folders: v1; v2 (rows removed, added and changed, and v1's NOTES.md gone);
    v3 (v2 re-split with another salt: rows move between splits, which needs a major version)."""
    out = {}
    for name, changed in (("v1", False), ("v2", True)):
        src = write_corpus(root / f"src-{name}", corpus_files(changed))
        build(src, root / name, progress=False, workers=1)
        out[name] = root / name
    (out["v1"] / "NOTES.md").write_text("Notes that only the first release has.\n", encoding="utf-8")
    resplit(out["v2"], root / "v3", spec=SplitSpec.from_sizes(test_size=0.3, salt="another salt", group="dup_cluster"))
    out["v3"] = root / "v3"
    return out


def ids_by_split(folder) -> dict[str, dict[str, str]]:
    """split -> {id: source_path} of a dataset folder's Parquet."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted((folder / "data").glob("*.parquet")):
        t = pq.read_table(path, columns=["id", "source_path"])
        out.setdefault(path.name.split("-")[0], {}).update(zip(*(t.column(c).to_pylist() for c in t.column_names)))
    return out


def expected_diff(old, new) -> dict:
    a = {i: p for split in ids_by_split(old).values() for i, p in split.items()}
    b = {i: p for split in ids_by_split(new).values() for i, p in split.items()}
    changed = sorted(i for i, p in b.items() if p.endswith(("0005.md", "0006.md")))
    return {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)), "changed": changed}


def rows(folder) -> dict[str, list[dict]]:
    """split -> rows, as published (in file order, sorted by id)."""
    out: dict[str, list[dict]] = {}
    for path in sorted((folder / "data").glob("*.parquet")):
        out.setdefault(path.name.split("-")[0], []).extend(pq.read_table(path).to_pylist())
    return out


def loaded(path, cache) -> dict[str, list[dict]]:
    import datasets

    ds = datasets.load_dataset(str(path), cache_dir=str(cache))
    return {split: ds[split].data.table.to_pylist() for split in ds}


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commits(repo) -> list[str]:
    return git(repo, "log", "--format=%s", "main").splitlines()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return build_corpora(tmp_path_factory.mktemp("corpora"))


@pytest.fixture(scope="module")
def registry(corpora, tmp_path_factory):
    """A registry holding v1.0.0 (corpus v1) and v1.1.0 (corpus v2); copy it before changing it."""
    reg = tmp_path_factory.mktemp("registry") / "reg"
    first = publish(corpora["v1"], version="1.0.0", to=reg)
    second = publish(corpora["v2"], version="1.1.0", to=reg)
    assert (first.status, second.status) == ("published", "published")
    return reg


@pytest.fixture
def reg_copy(registry, tmp_path):
    copy = tmp_path / "reg"
    shutil.copytree(registry, copy, symlinks=True)
    return copy


def test_each_release_is_one_commit_and_an_annotated_tag_that_loads_as_published(corpora, registry, tmp_path):
    assert commits(registry) == ["Release v1.1.0", "Release v1.0.0"]
    assert git(registry, "cat-file", "-t", "v1.0.0").strip() == "tag"  # annotated
    assert git(registry, "rev-parse", "v1.1.0^{commit}") == git(registry, "rev-parse", "main")
    assert git(registry, "status", "--porcelain") == ""  # the work tree is main, clean

    # Any tag's checkout (a worktree, or a clone) loads with load_dataset as it was published.
    git(registry, "worktree", "add", "-q", "--detach", str(tmp_path / "wt-v1"), "v1.0.0")
    git(tmp_path, "clone", "-q", "--branch", "v1.1.0", str(registry), str(tmp_path / "clone-v11"))
    assert loaded(tmp_path / "wt-v1", tmp_path / "cache") == rows(corpora["v1"])
    assert loaded(tmp_path / "clone-v11", tmp_path / "cache") == rows(corpora["v2"])
    assert loaded(registry, tmp_path / "cache") == rows(corpora["v2"])
    # The files gone from the folder (NOTES.md) are gone from the release; the rest is the folder as built
    # (but its hidden files: the .corpus-builder marker is not part of a release).
    listing = sorted(git(registry, "ls-tree", "-r", "--name-only", "v1.1.0").split())
    assert listing == sorted(p.relative_to(corpora["v2"]).as_posix() for p in corpora["v2"].rglob("*")
                             if p.is_file() and p.name != ".corpus-builder")
    assert "NOTES.md" in git(registry, "ls-tree", "-r", "--name-only", "v1.0.0").split()
    # The user's folder is not touched: its card has no release in it.
    assert card_version((corpora["v2"] / "README.md").read_text(encoding="utf-8")) is None


def test_the_changelog_lists_the_diff_and_accumulates(corpora, registry):
    card = git(registry, "show", "v1.1.0:README.md")
    assert card_version(card) == "1.1.0" and "Version 1.1.0 (tag `v1.1.0`)." in card
    log = card[card.index("## Changelog"):]
    assert log.index("### v1.1.0 (") < log.index("### v1.0.0 (") and "No releases yet." not in log
    expect = expected_diff(corpora["v1"], corpora["v2"])
    assert len(expect["added"]) == 4 and len(expect["removed"]) == 3 and len(expect["changed"]) == 2
    assert f"- Added: 4 rows: {', '.join(f'`{i}`' for i in expect['added'])}." in log
    assert f"- Removed: 3 rows: {', '.join(f'`{i}`' for i in expect['removed'])}." in log
    assert f"- Changed: 2 rows (by column: text 1, title 1): {', '.join(f'`{i}`' for i in expect['changed'])}." in log
    assert "- Moved split: none." in log and "- Schema: unchanged." in log
    assert f"- Rows: {N} -> {N + 1} (" in log
    # The first release's card has only its own entry; the commit message carries the entry too.
    assert "### v1.1.0" not in git(registry, "show", "v1.0.0:README.md")
    message = git(registry, "log", "-1", "--format=%B", "v1.1.0")
    assert message.startswith("Release v1.1.0\n\n### v1.1.0 (") and "- Added: 4 rows" in message


def test_versions_lists_releases_with_dates_and_rows(corpora, registry, capsys):
    listed = versions(registry)
    assert [str(r.version) for r in listed] == ["1.0.0", "1.1.0"]
    for release, name in zip(listed, ("v1", "v2")):
        assert release.rows == json.loads((corpora[name] / "splits.json").read_text())["counts"]
        assert release.commit == git(registry, "rev-parse", f"{release.tag}^{{commit}}").strip()
        assert release.date is not None
    assert main(["versions", str(registry)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].startswith("v1.1.0") and f"{N + 1} rows (train " in out[1]


def test_republishing_a_version(corpora, reg_copy):
    before = git(reg_copy, "for-each-ref")
    with pytest.raises(VersionError, match=r"v1\.1\.0 is already published .* other content .*publish 1\.1\.1"):
        publish(corpora["v1"], version="1.1.0", to=reg_copy)
    objects = git(reg_copy, "count-objects", "-v")
    result = publish(corpora["v2"], version="1.1.0", to=reg_copy)
    assert result.status == "unchanged" and result.commit == git(reg_copy, "rev-parse", "v1.1.0^{commit}").strip()
    assert git(reg_copy, "for-each-ref") == before and git(reg_copy, "count-objects", "-v") == objects
    # Another day (another date in the changelog) is still the same content.
    assert plan_release(corpora["v2"], GitTarget(reg_copy), version="1.1.0", date="2099-12-31").action == "none"


def test_version_rules(corpora, reg_copy):
    with pytest.raises(VersionError, match=r"1\.0\.5 is not greater than the latest release v1\.1\.0"):
        publish(corpora["v1"], version="1.0.5", to=reg_copy)
    with pytest.raises(VersionError, match=r"nothing changed since v1\.1\.0"):
        publish(corpora["v2"], version="1.2.0", to=reg_copy)
    with pytest.raises(VersionError, match="not MAJOR.MINOR.PATCH"):
        publish(corpora["v2"], version="v1.2", to=reg_copy)
    # Re-split with another salt: existing rows move split, so only a major version is accepted.
    with pytest.raises(VersionError) as err:
        publish(corpora["v3"], version="1.2.0", to=reg_copy)
    assert "1.2.0 is a minor release" in str(err.value) and "existing row" in str(err.value)
    assert "to another split" in str(err.value) and "publish 2.0.0" in str(err.value)
    assert commits(reg_copy) == ["Release v1.1.0", "Release v1.0.0"]
    result = publish(corpora["v3"], version="2.0.0", to=reg_copy)
    assert result.status == "published" and result.plan.diff.moved
    assert "- Moved split: " in git(reg_copy, "show", "v2.0.0:README.md")


def test_a_stale_parent_fails_cleanly_and_a_rerun_publishes(corpora, registry, tmp_path):
    reg = tmp_path / "reg"
    publish(corpora["v1"], version="1.0.0", to=reg)
    target = GitTarget(reg)
    plan = plan_release(corpora["v2"], target, version="1.1.0")
    # Someone else commits to main between the plan and the commit.
    subprocess.run(["git", "-C", str(reg), "commit", "-q", "--allow-empty", "-m", "someone else"], check=True,
                   env={**os.environ, **GitTarget.IDENTITY})
    other = git(reg, "rev-parse", "main")
    with pytest.raises(PublishError, match=r"main moved since the release was planned .* nothing was changed"):
        publish_plan(plan, target)
    assert git(reg, "rev-parse", "main") == other and "v1.1.0" not in git(reg, "tag")
    assert publish(corpora["v2"], version="1.1.0", to=reg).status == "published"
    assert commits(reg) == ["Release v1.1.0", "someone else", "Release v1.0.0"]


def test_an_interrupted_publish_is_finished_by_a_rerun_with_one_commit(corpora, tmp_path):
    reg = tmp_path / "reg"
    publish(corpora["v1"], version="1.0.0", to=reg)
    target = GitTarget(reg)
    plan = plan_release(corpora["v2"], target, version="1.1.0", date="2000-01-01")
    by_path = {f.path: f for f in plan.staged}
    # The run stops right after its commit moved main, before the tag.
    target.commit(add=[by_path[f.path] for f in plan.add + plan.change], delete=[f.path for f in plan.delete],
                  parent=plan.parent, commit_message=plan.commit_message, commit_description=plan.commit_description)
    assert "v1.1.0" not in git(reg, "tag")
    # The re-run (another day: another date in the changelog) finds the release on main and only tags it.
    result = publish(corpora["v2"], version="1.1.0", to=reg)
    assert result.status == "tagged" and result.plan.action == "tag"
    assert commits(reg) == ["Release v1.1.0", "Release v1.0.0"]
    assert git(reg, "rev-parse", "v1.1.0^{commit}") == git(reg, "rev-parse", "main")
    assert publish(corpora["v2"], version="1.1.0", to=reg).status == "unchanged"


def test_dry_run_changes_nothing(corpora, reg_copy, tmp_path, capsys):
    fresh = tmp_path / "fresh"
    result = publish(corpora["v1"], version="1.0.0", to=fresh, dry_run=True)
    assert result.status == "dry-run" and not fresh.exists()
    assert any(line.startswith("  add     data/train-00000-of-00001.parquet") for line in result.lines())

    refs = git(reg_copy, "for-each-ref")
    assert main(["publish", str(corpora["v3"]), "--to", str(reg_copy), "--version", "2.0.0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "v2.0.0 -> " in out and "one commit against main at " in out
    assert "  change  data/train-00000-of-00001.parquet" in out and "(was " in out and " kB" in out
    assert "### v2.0.0 (" in out and "Compared with v1.1.0:" in out and "- Moved split: " in out
    assert "dry run: nothing uploaded" in out
    assert git(reg_copy, "for-each-ref") == refs and git(reg_copy, "status", "--porcelain") == ""


def test_cli_publish_and_errors(corpora, tmp_path, capsys):
    reg = tmp_path / "reg"
    assert main(["publish", str(corpora["v1"]), "--to", str(reg), "--version", "1.0.0", "--message", "First!"]) == 0
    assert "published v1.0.0: commit " in capsys.readouterr().out
    assert commits(reg) == ["First!"]
    assert main(["publish", str(corpora["v2"]), "--to", str(reg), "--version", "1.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("corpus: error: v1.0.0 is already published") and err.count("\n") == 1
    assert main(["publish", str(tmp_path), "--to", str(reg), "--version", "1.0.1"]) == 2
    assert "is not a built dataset folder" in capsys.readouterr().err
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("x")
    assert main(["publish", str(corpora["v1"]), "--to", str(tmp_path / "junk"), "--version", "1.0.0"]) == 2
    assert "is not a git repository" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one target is required
        main(["publish", str(corpora["v1"]), "--version", "1.0.0"])


def test_a_stale_index_lock_does_not_fail_a_release(corpora, tmp_path, caplog):
    # A publish killed during its checkout refresh leaves .git/index.lock; the next publish's
    # release (built on a private index) is still made, and the log says how to clean up.
    reg = tmp_path / "reg"
    publish(corpora["v1"], version="1.0.0", to=reg)
    (reg / ".git" / "index.lock").write_bytes(b"")
    with caplog.at_level("WARNING"):
        result = publish(corpora["v2"], version="1.1.0", to=reg)
    assert result.status == "published"
    assert git(reg, "rev-parse", "v1.1.0^{commit}") == git(reg, "rev-parse", "main")
    assert "index.lock" in caplog.text and "release is complete" in caplog.text
    (reg / ".git" / "index.lock").unlink()
    git(reg, "reset", "-q", "--hard")
    assert git(reg, "status", "--porcelain") == ""
