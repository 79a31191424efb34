"""corpus publish --revision BRANCH and --create-pr, as `hf upload` has them: the release is one
commit on the branch (created from main's head when missing) or in a new pull request against
main, and it is not tagged (tags are made on main only). On the loopback Hub
(tests/hub_server.py) through the real huggingface_hub and datasets clients, and in a local
git registry with real git."""
import json
import subprocess

import pytest

from builder.cli import main
from builder.errors import ConfigError, PublishError, VersionError
from builder.publish import GitTarget, HubTarget, plan_release, publish, publish_plan, versions
from builder.release import card_version
from test_publish_git import build_corpora, rows

REPO = "corpus-org/news"
UNTAGGED = "no tag: tags are made on main only"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return build_corpora(tmp_path_factory.mktemp("corpora"))


def loaded(revision) -> dict[str, list[dict]]:
    import datasets

    ds = datasets.load_dataset(REPO, revision=revision)
    return {split: ds[split].data.table.to_pylist() for split in ds}


def titles(hub, revision="main") -> list[str]:
    return [c.title for c in hub.history(REPO, revision)]


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


# ------------------------------------------------------------------------------ the Hub: --revision


def test_revision_commits_to_a_new_branch_from_main_and_tags_nothing(hub, corpora, capsys):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    main_head, tags = hub.head(REPO), hub.tags(REPO)
    hub.clear_requests()

    assert main(["publish", str(corpora["v2"]), "--repo", REPO, "--version", "1.1.0", "--revision", "staging"]) == 0
    out = capsys.readouterr().out
    assert f"one commit on the new branch staging (from main at {main_head[:12]}); {UNTAGGED}" in out
    assert f"published 1.1.0 to the branch staging: commit {hub.head(REPO, 'staging')[:12]}" in out
    assert f"({UNTAGGED})" in out

    # The branch was made from main's head (as `hf upload --revision` makes it), then one commit on it.
    created = [r for r in hub.log if r.method == "POST" and "/branch/" in r.path]
    assert [r.path.rsplit("/", 1)[-1] for r in created] == ["staging"] and hub.count("POST", r"/commit/") == 1
    assert titles(hub, "staging") == ["Release v1.1.0", "Release v1.0.0", "initial commit"]
    assert hub.head(REPO) == main_head and hub.tags(REPO) == tags  # main and the tags untouched
    assert [r.tag for r in versions(REPO)] == ["v1.0.0"]  # a branch release is not a release listed by tag

    # The card and croissant.json point at the branch: there is no tag to pin.
    card = hub.read(REPO, "README.md", "staging").decode()
    assert card_version(card) == "1.1.0" and "Version 1.1.0 (on the branch `staging`, untagged" in card
    assert f'load_dataset("{REPO}", revision="staging")' in card and 'revision="v1.1.0"' not in card
    assert "Compared with v1.0.0:" in card and "Not tagged: the branch staging" in hub.history(REPO, "staging")[0].message
    urls = [d["contentUrl"] for d in json.loads(hub.read(REPO, "croissant.json", "staging"))["distribution"]
            if d.get("contentUrl", "").endswith(".parquet")]
    assert urls and all("/resolve/staging/data/" in u for u in urls)
    assert loaded("staging") == rows(corpora["v2"])

    # The same command again: the branch holds the release; nothing is sent.
    hub.clear_requests()
    again = publish(corpora["v2"], version="1.1.0", repo_id=REPO, revision="staging")
    assert again.status == "unchanged" and "already holds v1.1.0" in again.lines()[0]
    assert hub.count("POST") == hub.count("PUT") == 0

    # The next release on the existing branch: one commit whose parent is the branch's head.
    # The version rules still compare with the latest tagged release (v1.0.0): moving rows needs 2.0.0.
    before = hub.head(REPO, "staging")
    with pytest.raises(VersionError, match=r"1\.2\.0 is a minor release.*compared with v1\.0\.0.*publish 2\.0\.0"):
        publish(corpora["v3"], version="1.2.0", repo_id=REPO, revision="staging")
    result = publish(corpora["v3"], version="2.0.0", repo_id=REPO, revision="staging")
    assert result.status == "committed" and result.plan.parent == before and not result.plan.new_branch
    assert hub.history(REPO, "staging")[0].parents == (before,) and hub.tags(REPO) == tags
    assert loaded("staging") == rows(corpora["v3"])


def test_semver_on_a_branch_compares_with_the_latest_tag(hub, corpora):
    publish(corpora["v2"], version="1.1.0", repo_id=REPO)
    hub.clear_requests()
    with pytest.raises(VersionError, match=r"1\.0\.0 is not greater than the latest release v1\.1\.0"):
        publish(corpora["v1"], version="1.0.0", repo_id=REPO, revision="staging")
    with pytest.raises(VersionError, match=r"nothing changed since v1\.1\.0"):
        publish(corpora["v2"], version="1.2.0", repo_id=REPO, revision="staging")
    assert hub.count("POST") == 0 and set(hub.branches(REPO)) == {"main"}


def test_a_branch_that_moved_fails_cleanly_and_a_rerun_publishes(hub, corpora):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    publish(corpora["v2"], version="1.1.0", repo_id=REPO, revision="staging")
    race = hub.on_request("POST", r"/commit/staging$",
                          lambda s: s.commit(REPO, {"notes.txt": b"racer"}, branch="staging"))
    with pytest.raises(PublishError, match=r"staging moved since the release was planned.*nothing was changed"):
        publish(corpora["v3"], version="2.0.0", repo_id=REPO, revision="staging")
    assert race.fired == 1 and titles(hub, "staging")[0] == "Concurrent commit"
    assert publish(corpora["v3"], version="2.0.0", repo_id=REPO, revision="staging").status == "committed"
    assert titles(hub, "staging")[:2] == ["Release v2.0.0", "Concurrent commit"]
    assert "notes.txt" not in hub.files(REPO, "staging") and "v2.0.0" not in hub.tags(REPO)


# ------------------------------------------------------------------------------ the Hub: --create-pr


def test_create_pr_opens_one_pull_request_then_the_merge_is_tagged(hub, corpora, capsys):
    from huggingface_hub import HfApi

    secret = "hf_prsecret0123456789abcdefghijKLMN"
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    main_head, tags = hub.head(REPO), hub.tags(REPO)
    hub.clear_requests()

    assert main(["publish", str(corpora["v2"]), "--repo", REPO, "--version", "1.1.0", "--create-pr",
                 "--token", secret]) == 0
    out, err = capsys.readouterr()
    url = f"{hub.url}/datasets/{REPO}/discussions/1"
    prs = hub.pull_requests(REPO)
    assert list(prs) == [1] and prs[1].base == main_head and prs[1].target == "main"
    assert f"a pull request against main at {main_head[:12]} holding one commit; no tag" in out
    assert f"opened a pull request with 1.1.0: {url} (commit {prs[1].head[:12]}; no tag" in out
    assert secret not in out + err
    assert hub.count("POST", r"/commit/") == 1 and hub.count("POST", r"/tag/") == 0
    assert hub.head(REPO) == main_head and hub.tags(REPO) == tags  # main and the tags untouched
    assert titles(hub, "refs/pr/1") == ["Release v1.1.0", "Release v1.0.0", "initial commit"]
    # The PR holds the release as main will: its card and links name the tag it gets once merged.
    card = hub.read(REPO, "README.md", "refs/pr/1").decode()
    assert card_version(card) == "1.1.0" and f'load_dataset("{REPO}", revision="v1.1.0")' in card
    assert loaded("refs/pr/1") == rows(corpora["v2"])

    # Merged (through the client, as on the Hub); the same command without --create-pr tags the
    # merge: no second commit, nothing uploaded.
    HfApi().merge_pull_request(REPO, 1, repo_type="dataset")
    merged = hub.head(REPO)
    assert merged != main_head
    hub.clear_requests()
    result = publish(corpora["v2"], version="1.1.0", repo_id=REPO)
    assert result.status == "tagged" and hub.tags(REPO)["v1.1.0"] == merged
    assert hub.count("POST", r"/commit/") == 0 and hub.count("PUT") == 0
    assert loaded("v1.1.0") == rows(corpora["v2"])

    # A pull request for what main already holds proposes nothing.
    hub.clear_requests()
    held = publish(corpora["v2"], version="1.1.0", repo_id=REPO, create_pr=True)
    assert held.status == "unchanged" and hub.count("POST") == 0


def test_a_pull_request_holds_only_the_release(hub, corpora):
    """Files main has and the release has not are deleted in the PR's commit, as on main."""
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    result = publish(corpora["v2"], version="1.1.0", repo_id=REPO, create_pr=True)
    assert result.status == "pull-request" and result.pr_url.endswith("/discussions/1")
    assert [f.path for f in result.plan.delete] == ["NOTES.md"]
    assert set(hub.files(REPO, "refs/pr/1")) - {".gitattributes"} == {f.path for f in result.plan.staged}
    # Each run opens a new pull request, as `hf upload --create-pr` does.
    again = publish(corpora["v2"], version="1.1.0", repo_id=REPO, create_pr=True)
    assert again.pr_url.endswith("/discussions/2") and list(hub.pull_requests(REPO)) == [1, 2]


def test_a_dropped_pull_request_says_to_look_before_a_rerun(hub, corpora):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    hub.inject_fault("POST", r"/commit/main$", action="drop_after")  # opened; the client never heard
    with pytest.raises(PublishError, match=r"may or may not have been opened\. Look at the repo's pull requests"):
        publish(corpora["v2"], version="1.1.0", repo_id=REPO, create_pr=True)
    assert list(hub.pull_requests(REPO)) == [1] and "v1.1.0" not in hub.tags(REPO)


def test_dry_runs_say_what_they_would_do_and_send_nothing(hub, corpora, capsys):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    head = hub.head(REPO)
    hub.clear_requests()
    assert main(["publish", str(corpora["v2"]), "--repo", REPO, "--version", "1.1.0", "--revision", "next",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"one commit on the new branch next (from main at {head[:12]}); {UNTAGGED}" in out
    assert "  delete  NOTES.md" in out and "Compared with v1.0.0:" in out and "dry run: nothing uploaded" in out
    assert main(["publish", str(corpora["v2"]), "--repo", REPO, "--version", "1.1.0", "--create-pr",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"a pull request against main at {head[:12]} holding one commit; no tag" in out
    assert "dry run: nothing uploaded" in out
    assert hub.count("POST") == hub.count("PUT") == 0 and set(hub.branches(REPO)) == {"main"}
    assert not hub.pull_requests(REPO)


def test_bad_revisions_are_refused_in_one_line(hub, corpora, capsys):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    hub.clear_requests()
    capsys.readouterr()  # the progress bars of that publish
    cases = [
        (["--revision", "staging", "--create-pr"], "--create-pr opens a pull request against main, and --revision"),
        (["--revision", "v2.0.0"], "--revision 'v2.0.0' has the form of a release tag"),
        (["--revision", "a b"], "--revision 'a b' is not a branch name"),
        (["--revision", "refs/pr/1"], "--revision 'refs/pr/1' is not a branch name"),
    ]
    for extra, message in cases:
        assert main(["publish", str(corpora["v2"]), "--repo", REPO, "--version", "1.1.0", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"corpus: error: {message}") and err.count("\n") == 1, err
    assert hub.count("POST") == 0
    # --revision main is the main line: committed and tagged.
    assert publish(corpora["v2"], version="1.1.0", repo_id=REPO, revision="main").status == "published"
    assert hub.tags(REPO)["v1.1.0"] == hub.head(REPO)


# ------------------------------------------------------------------------------ the local registry


def test_registry_revision_commits_to_a_branch_and_create_pr_is_refused(corpora, tmp_path, capsys):
    reg = tmp_path / "reg"
    publish(corpora["v1"], version="1.0.0", to=reg)
    main_head = git(reg, "rev-parse", "main").strip()

    assert main(["publish", str(corpora["v2"]), "--to", str(reg), "--version", "1.1.0", "--revision", "staging"]) == 0
    out = capsys.readouterr().out
    assert f"one commit on the new branch staging (from main at {main_head[:12]}); {UNTAGGED}" in out
    assert git(reg, "rev-parse", "staging^").strip() == main_head  # branched from main's head
    assert git(reg, "log", "--format=%s", "staging").splitlines() == ["Release v1.1.0", "Release v1.0.0"]
    assert git(reg, "rev-parse", "main").strip() == main_head and git(reg, "tag").split() == ["v1.0.0"]
    assert git(reg, "status", "--porcelain") == "" and git(reg, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    card = git(reg, "show", "staging:README.md")
    assert "Version 1.1.0 (on the branch `staging`, untagged" in card
    # How to load it names the branch (there is no tag to check out), and does what it says.
    assert "git clone --branch staging path/to/registry release-staging" in card and "corpus checkout" not in card
    git(tmp_path, "clone", "-q", "--branch", "staging", str(reg), str(tmp_path / "clone"))
    import datasets

    ds = datasets.load_dataset(str(tmp_path / "clone"), cache_dir=str(tmp_path / "cache"))
    assert {s: ds[s].data.table.to_pylist() for s in ds} == rows(corpora["v2"])

    assert publish(corpora["v2"], version="1.1.0", to=reg, revision="staging").status == "unchanged"

    # A registry has no pull requests: refused before anything is read or created.
    fresh = tmp_path / "fresh"
    for target in (reg, fresh):
        assert main(["publish", str(corpora["v2"]), "--to", str(target), "--version", "1.2.0", "--create-pr"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("corpus: error: ") and "has no pull requests: drop --create-pr" in err
        assert err.count("\n") == 1
    assert not fresh.exists()
    with pytest.raises(ConfigError):
        publish(corpora["v2"], version="1.2.0", to=reg, create_pr=True, dry_run=True)


def test_registry_branch_made_meanwhile_fails_cleanly(corpora, tmp_path):
    reg = tmp_path / "reg"
    publish(corpora["v1"], version="1.0.0", to=reg)
    target = GitTarget(reg)
    plan = plan_release(corpora["v2"], target, version="1.1.0", revision="staging")
    assert plan.new_branch
    git(reg, "branch", "staging", "main")  # someone else makes the branch between the plan and the commit
    with pytest.raises(PublishError, match=r"staging moved since the release was planned against a new branch"):
        publish_plan(plan, target)
    assert git(reg, "rev-parse", "staging") == git(reg, "rev-parse", "main")
    assert publish(corpora["v2"], version="1.1.0", to=reg, revision="staging").status == "committed"
    assert git(reg, "log", "--format=%s", "staging").splitlines() == ["Release v1.1.0", "Release v1.0.0"]


def test_hub_plan_on_a_missing_repo_starts_a_new_branch(hub, corpora):
    plan = plan_release(corpora["v1"], HubTarget(REPO), version="1.0.0", revision="staging")
    assert plan.new_branch and plan.parent is None and "the new branch staging (from an empty repository)" in \
        plan.lines()[0]
    assert not hub.repos
