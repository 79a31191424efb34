"""corpus publish --repo: releases on a Hub-compatible server (tests/hub_server.py, on 127.0.0.1)
through the real huggingface_hub and datasets clients, classic LFS (HF_HUB_DISABLE_XET=1):
one commit and one tag per release, the version rules, races, dropped connections, the token."""
import logging

import pytest

from builder.cli import main
from builder.errors import PublishError, VersionError
from builder.publish import HubTarget, plan_release, publish, publish_plan, versions
from builder.release import card_version
from hub_fixture import DUMMY_TOKEN
from test_publish_git import build_corpora, expected_diff, rows

REPO = "corpus-org/news"
LFS_PUT = r"^/_lfs/"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return build_corpora(tmp_path_factory.mktemp("corpora"))


def titles(hub) -> list[str]:
    return [c.title for c in hub.history(REPO)]


def loaded(revision) -> dict[str, list[dict]]:
    import datasets

    ds = datasets.load_dataset(REPO, revision=revision)
    return {split: ds[split].data.table.to_pylist() for split in ds}


def uploads(hub) -> dict:
    """What the last calls sent: LFS objects (PUT), commits, tags, uploads prepared."""
    return {"put": hub.count("PUT", LFS_PUT), "commit": hub.count("POST", r"/commit/"),
            "tag": hub.count("POST", r"/tag/"), "preupload": hub.count("POST", r"/preupload/"),
            "create": hub.count("POST", r"/repos/create")}


NOTHING = {"put": 0, "commit": 0, "tag": 0, "preupload": 0, "create": 0}


def test_two_releases_one_commit_each_and_load_dataset_pins_each(hub, corpora):
    first = publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    hub.clear_requests()
    second = publish(corpora["v2"], version="1.1.0", repo_id=REPO)
    assert (first.status, second.status) == ("published", "published")

    assert titles(hub) == ["Release v1.1.0", "Release v1.0.0", "initial commit"]
    assert hub.tags(REPO) == {"v1.0.0": first.commit, "v1.1.0": second.commit}
    # Only what changed went up, in one commit; unchanged files were not sent again.
    plan = second.plan
    files = hub.files(REPO, "v1.1.0")
    sent = {p.rsplit("/", 1)[-1] for p in hub.calls("PUT", LFS_PUT)}
    assert sent == {files[f.path].sha256 for f in plan.add + plan.change if files[f.path].lfs}
    assert not sent & {files[p].sha256 for p in plan.unchanged}
    assert plan.unchanged and uploads(hub)["commit"] == 1
    assert [f.path for f in plan.delete] == ["NOTES.md"] and "NOTES.md" in hub.files(REPO, "v1.0.0")
    assert set(files) - {".gitattributes"} == {f.path for f in plan.staged}

    assert loaded("v1.0.0") == rows(corpora["v1"])
    assert loaded("v1.1.0") == rows(corpora["v2"])

    card = hub.read(REPO, "README.md", "v1.1.0").decode()
    expect = expected_diff(corpora["v1"], corpora["v2"])
    assert card_version(card) == "1.1.0" and card.index("### v1.1.0 (") < card.index("### v1.0.0 (")
    assert f"- Added: 4 rows: {', '.join(f'`{i}`' for i in expect['added'])}." in card
    assert f"- Removed: 3 rows: {', '.join(f'`{i}`' for i in expect['removed'])}." in card
    assert f"- Changed: 2 rows (by column: text 1, title 1): {', '.join(f'`{i}`' for i in expect['changed'])}." in card
    assert hub.history(REPO)[0].message.startswith(plan.entry)

    listed = versions(f"hf://datasets/{REPO}")
    assert [(r.tag, r.commit) for r in listed] == [("v1.0.0", first.commit), ("v1.1.0", second.commit)]
    assert sum(listed[1].rows.values()) == sum(len(v) for v in rows(corpora["v2"]).values())
    assert all(r.date is not None for r in listed)


def test_republishing_a_version(hub, corpora):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    publish(corpora["v2"], version="1.1.0", repo_id=REPO)
    tags, head = hub.tags(REPO), hub.head(REPO)
    hub.clear_requests()

    with pytest.raises(VersionError, match=r"v1\.1\.0 is already published .* with other content"):
        publish(corpora["v1"], version="1.1.0", repo_id=REPO)
    assert uploads(hub) == NOTHING

    result = publish(corpora["v2"], version="1.1.0", repo_id=REPO)
    assert result.status == "unchanged" and result.commit == tags["v1.1.0"]
    assert uploads(hub) == NOTHING and hub.tags(REPO) == tags and hub.head(REPO) == head


def test_a_breaking_release_needs_a_major_version(hub, corpora):
    publish(corpora["v2"], version="1.0.0", repo_id=REPO)
    hub.clear_requests()
    with pytest.raises(VersionError, match=r"1\.1\.0 is a minor release.*to another split.*publish 2\.0\.0"):
        publish(corpora["v3"], version="1.1.0", repo_id=REPO)
    assert uploads(hub) == NOTHING
    assert publish(corpora["v3"], version="2.0.0", repo_id=REPO).status == "published"
    assert titles(hub) == ["Release v2.0.0", "Release v1.0.0", "initial commit"]
    assert loaded("v2.0.0") == rows(corpora["v3"])


def test_a_stale_parent_fails_cleanly_and_a_rerun_publishes(hub, corpora):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    # Another writer commits after our uploads, just before our commit.
    race = hub.on_request("POST", r"/commit/main$", lambda s: s.commit(REPO, {"notes.txt": b"racer"}))
    with pytest.raises(PublishError, match=r"main moved since the release was planned.*nothing was changed"):
        publish(corpora["v2"], version="1.1.0", repo_id=REPO)
    assert race.fired == 1 and "v1.1.0" not in hub.tags(REPO)
    assert titles(hub) == ["Concurrent commit", "Release v1.0.0", "initial commit"]

    hub.clear_requests()
    assert publish(corpora["v2"], version="1.1.0", repo_id=REPO).status == "published"
    assert titles(hub) == ["Release v1.1.0", "Concurrent commit", "Release v1.0.0", "initial commit"]
    assert uploads(hub)["put"] == 0  # the LFS objects were uploaded by the failed run already
    assert "notes.txt" not in hub.files(REPO, "v1.1.0")  # a release is the folder, nothing else


@pytest.mark.parametrize("path, action, rerun", [
    (r"/commit/main$", "drop", "published"),  # the commit never arrived
    (r"/commit/main$", "drop_after", "tagged"),  # it landed, the client never heard: tag it, commit nothing
    (r"/tag/", "drop", "tagged"),
    (r"/tag/", "drop_after", "unchanged"),
])
def test_a_dropped_connection_then_a_rerun_ends_with_one_commit(hub, corpora, path, action, rerun):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    hub.inject_fault("POST", path, action=action)
    with pytest.raises(PublishError) as err:
        publish(corpora["v2"], version="1.1.0", repo_id=REPO)
    assert "Re-run the same command" in str(err.value) or "re-run the same command" in str(err.value)
    assert "v1.1.0" not in hub.tags(REPO) or action == "drop_after"

    hub.clear_requests()
    result = publish(corpora["v2"], version="1.1.0", repo_id=REPO)
    assert result.status == rerun
    assert titles(hub) == ["Release v1.1.0", "Release v1.0.0", "initial commit"]
    assert hub.tags(REPO)["v1.1.0"] == hub.head(REPO)
    assert uploads(hub)["put"] == 0 and uploads(hub)["commit"] == (rerun == "published")
    assert loaded("v1.1.0") == rows(corpora["v2"])


def test_a_commit_the_client_skips_is_checked_before_tagging(hub, corpora):
    # Client quirk: when main already has every file of the commit, create_commit sends nothing and
    # returns main's head, whatever parent_commit says. Here main holds the release plus a stranger.
    publish(corpora["v2"], version="1.0.0", repo_id=REPO)
    target = HubTarget(REPO)
    plan = plan_release(corpora["v3"], target, version="2.0.0")
    assert not plan.delete
    hub.commit(REPO, {**{f.path: f.data() for f in plan.staged}, "stranger.txt": b"x"})
    hub.clear_requests()
    with pytest.raises(PublishError, match=r"does not hold the release as planned.*v2\.0\.0 was not tagged"):
        publish_plan(plan, target)
    assert uploads(hub)["commit"] == 0 and "v2.0.0" not in hub.tags(REPO)


def test_dry_run_uploads_nothing_and_creates_nothing(hub, corpora, capsys):
    result = publish(corpora["v1"], version="1.0.0", repo_id=REPO, dry_run=True)
    assert result.status == "dry-run" and not hub.repos
    assert hub.count("POST") == hub.count("PUT") == 0
    assert "one commit against an empty repository" in result.lines()[0]

    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    hub.clear_requests()
    assert main(["publish", str(corpora["v2"]), "--repo", REPO, "--version", "1.1.0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "  delete  NOTES.md" in out and "  change  README.md" in out and "Compared with v1.0.0:" in out
    assert hub.count("POST") == hub.count("PUT") == 0


def test_private_repo_is_created_private(hub, corpora):
    publish(corpora["v1"], version="0.1.0", repo_id=REPO, private=True)
    assert hub.repos[("dataset", REPO)].private and list(hub.tags(REPO)) == ["v0.1.0"]


def test_the_token_is_used_but_never_shown(hub, corpora, capsys, caplog):
    secret = "hf_publishsecret0123456789abcdefXYZ"
    caplog.set_level(logging.DEBUG)
    assert main(["publish", str(corpora["v1"]), "--repo", REPO, "--version", "1.0.0", "--token", secret]) == 0
    assert main(["publish", str(corpora["v2"]), "--repo", REPO, "--version", "1.1.0", "--token", secret,
                 "--dry-run"]) == 0
    hub.inject_fault("POST", r"/commit/main$", action="status", status=500)
    assert main(["publish", str(corpora["v2"]), "--repo", REPO, "--version", "1.1.0", "--token", secret]) == 2
    assert main(["versions", f"hf://datasets/{REPO}", "--token", secret]) == 0
    out, err = capsys.readouterr()
    assert "corpus: error: hf://datasets/corpus-org/news: the commit failed: HTTP 500: Injected failure" in err
    sent = [{k.lower(): v for k, v in r.headers.items()}.get("authorization") for r in hub.log]
    assert f"Bearer {secret}" in sent and f"Bearer {DUMMY_TOKEN}" not in sent  # --token was used, not HF_TOKEN

    published = b"".join(hub.read(REPO, path, rev) for rev in ("v1.0.0", "main") for path in hub.files(REPO, rev))
    history = "".join(c.title + c.message for c in hub.history(REPO))
    tag_messages = "".join(m for _, m in hub.repos[("dataset", REPO)].tags.values())
    folders = b"".join(p.read_bytes() for name in ("v1", "v2") for p in corpora[name].rglob("*") if p.is_file())
    for token in (secret, DUMMY_TOKEN):
        assert token not in out + err + caplog.text + history + tag_messages
        assert token.encode() not in published + folders


def test_hub_errors_become_one_line_publish_errors(hub, corpora):
    with pytest.raises(PublishError, match="repo id 'not-a-repo' is not owner/name"):
        publish(corpora["v1"], version="1.0.0", repo_id="not-a-repo")
    hub.inject_fault("POST", r"/preupload/", action="status", status=403, times=10)
    with pytest.raises(PublishError) as err:
        publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    assert "HTTP 403" in str(err.value) and "\n" not in str(err.value) and hub.tags(REPO) == {}


def test_split_a_published_release_from_the_hub(hub, corpora, tmp_path):
    """corpus split hf://datasets/owner/name@vX re-splits a release from its Parquet alone."""
    import json

    from builder.resplit import resplit
    from splits import SplitSpec

    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    spec = SplitSpec.from_sizes(test_size=0.3, salt="other", group="dup_cluster")
    resplit(f"hf://datasets/{REPO}@v1.0.0", tmp_path / "from-hub", spec=spec)
    resplit(corpora["v1"], tmp_path / "local", spec=spec)
    for name in ("splits.json",):
        assert json.loads((tmp_path / "from-hub" / name).read_text()) == json.loads((tmp_path / "local" / name).read_text())
    assert sorted(p.name for p in (tmp_path / "from-hub" / "data").iterdir()) == \
        sorted(p.name for p in (tmp_path / "local" / "data").iterdir())
    with pytest.raises(Exception, match="in place"):
        resplit(f"hf://datasets/{REPO}@v1.0.0", spec=spec)
