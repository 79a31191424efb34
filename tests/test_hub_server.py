"""The loopback Hub (tests/hub_server.py) against the real huggingface_hub and datasets clients.

These prove the server is faithful enough for the publish tests to rely on: a release is one
commit with a parent check, LFS files go through batch/PUT/verify, tags pin what
load_dataset reads, and the fault hooks do what they say.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = "corpus-org/articles"
SHARD = "data/train-00000-of-00001.parquet"
README = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
---
# Articles

Test corpus.
"""


def parquet_bytes(rows: list[dict]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


ROWS_V1 = [{"id": "a1", "title": "第一篇", "text": "one"}, {"id": "a2", "title": "第二篇", "text": "two"}]
ROWS_V2 = [{"id": "b1", "title": "新", "text": "replaced"}]


def release_ops(rows, readme: str = README):
    from huggingface_hub import CommitOperationAdd

    return [
        CommitOperationAdd("README.md", readme.encode()),
        CommitOperationAdd(SHARD, parquet_bytes(rows)),
    ]


@pytest.fixture
def api(hub):
    from huggingface_hub import HfApi

    return HfApi()


@pytest.fixture
def repo(api):
    api.create_repo(REPO, repo_type="dataset")
    return REPO


def publish(api, repo_id, rows, *, parent=None, message="Release", readme=README):
    return api.create_commit(
        repo_id, release_ops(rows, readme), commit_message=message, repo_type="dataset", parent_commit=parent
    )


def test_create_repo_starts_with_the_hubs_initial_commit(hub, api):
    from huggingface_hub import create_repo
    from huggingface_hub.errors import HfHubHTTPError

    url = create_repo(REPO, repo_type="dataset")  # module-level function: bound to an import-time HfApi
    assert url.repo_id == REPO and url.repo_type == "dataset" and url.startswith(hub.url)
    assert api.list_repo_files(REPO, repo_type="dataset") == [".gitattributes"]
    assert [c.title for c in api.list_repo_commits(REPO, repo_type="dataset")] == ["initial commit"]
    assert api.dataset_info(REPO).sha == hub.head(REPO)

    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(REPO, repo_type="dataset")
    assert err.value.response.status_code == 409
    api.create_repo(REPO, repo_type="dataset", exist_ok=True)
    assert hub.count("POST", r"^/api/repos/create$") == 3


def test_release_is_one_commit_with_lfs_upload_then_tag(hub, api, repo):
    parent = api.dataset_info(repo).sha
    hub.clear_requests()

    commit = publish(api, repo, ROWS_V1, parent=parent, message="Release 1.0.0")

    assert commit.oid == hub.head(repo) and len(commit.oid) == 40
    lfs = f"/_lfs/datasets/{repo}/{hashlib.sha256(parquet_bytes(ROWS_V1)).hexdigest()}"
    assert hub.requests == [
        ("POST", "/api/validate-yaml"),  # README.md is in the commit
        ("POST", f"/api/datasets/{repo}/preupload/main"),  # README regular, parquet LFS
        ("POST", f"/datasets/{repo}.git/info/lfs/objects/batch"),
        ("PUT", lfs),  # the parquet bytes; README goes inline in the commit
        ("POST", f"{lfs}/verify"),
        ("POST", f"/api/datasets/{repo}/commit/main"),  # the one commit
    ]
    assert hub.files(repo)[SHARD].lfs and not hub.files(repo)["README.md"].lfs

    api.create_tag(repo, tag="v1.0.0", revision=commit.oid, repo_type="dataset", tag_message="Release 1.0.0")

    refs = api.list_repo_refs(repo, repo_type="dataset")
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", commit.oid)]
    assert [(t.name, t.ref, t.target_commit) for t in refs.tags] == [("v1.0.0", "refs/tags/v1.0.0", commit.oid)]
    assert [c.title for c in api.list_repo_commits(repo, repo_type="dataset", revision="v1.0.0")] == [
        "Release 1.0.0",
        "initial commit",
    ]
    assert sorted(api.list_repo_files(repo, repo_type="dataset", revision="v1.0.0")) == [
        ".gitattributes", "README.md", SHARD,
    ]
    tree = {f.path: f for f in api.list_repo_tree(repo, repo_type="dataset", recursive=True, expand=True)}
    assert tree[SHARD].lfs.size == len(parquet_bytes(ROWS_V1)) and tree["README.md"].lfs is None
    assert tree["data"].last_commit.oid == commit.oid  # RepoFolder, with expand=True

    readme = api.hf_hub_download(repo, "README.md", repo_type="dataset", revision="v1.0.0")
    shard = api.hf_hub_download(repo, SHARD, repo_type="dataset", revision="v1.0.0")
    assert open(readme, encoding="utf-8").read() == README
    assert pq.read_table(shard).to_pylist() == ROWS_V1
    assert hub.count("HEAD", rf"/resolve/v1.0.0/{SHARD}$") == 1 and hub.count("GET", rf"/resolve/v1.0.0/{SHARD}$") == 1


def test_stale_parent_commit_is_refused_with_412(hub, api, repo):
    from huggingface_hub.errors import HfHubHTTPError

    parent = hub.head(repo)
    other = hub.commit(repo, {"notes.txt": b"someone else"})

    with pytest.raises(HfHubHTTPError) as err:
        publish(api, repo, ROWS_V1, parent=parent)
    assert err.value.response.status_code == 412
    assert "A commit has happened since" in str(err.value)
    assert hub.head(repo) == other


def test_concurrent_commit_between_upload_and_commit_is_caught(hub, api, repo):
    from huggingface_hub.errors import HfHubHTTPError

    parent = hub.head(repo)
    race = hub.on_request("POST", r"/commit/main$", lambda s: s.commit(repo, {"notes.txt": b"racer"}))

    with pytest.raises(HfHubHTTPError) as err:
        publish(api, repo, ROWS_V1, parent=parent)
    assert err.value.response.status_code == 412 and race.fired == 1
    assert sorted(hub.files(repo)) == [".gitattributes", "notes.txt"]

    # Re-read the head and retry: the LFS object is already on the server, so nothing is re-sent.
    hub.clear_requests()
    commit = publish(api, repo, ROWS_V1, parent=hub.head(repo))
    assert hub.count("PUT") == 0 and commit.oid == hub.head(repo)
    assert sorted(hub.files(repo)) == [".gitattributes", "README.md", SHARD, "notes.txt"]


def test_client_quirk_a_no_op_commit_skips_the_parent_check(hub, api, repo):
    # When every file matches the branch head, create_commit sends no commit at all and
    # returns the head, even with a stale parent_commit: the oid may be someone else's commit.
    publish(api, repo, ROWS_V1)
    stale = hub.head(repo)
    other = hub.commit(repo, {"notes.txt": b"someone else"})
    hub.clear_requests()

    assert publish(api, repo, ROWS_V1, parent=stale).oid == other
    assert hub.count("POST", r"/commit/") == 0


def test_branches(hub, api, repo):
    release = publish(api, repo, ROWS_V1)
    api.create_branch(repo, branch="staging", revision=release.oid, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"wip", path_in_repo="wip.txt", repo_id=repo, repo_type="dataset",
                    revision="staging")
    assert "wip.txt" in hub.files(repo, "staging") and "wip.txt" not in hub.files(repo)
    assert {b.name for b in api.list_repo_refs(repo, repo_type="dataset").branches} == {"main", "staging"}
    api.delete_branch(repo, branch="staging", repo_type="dataset")
    assert [b.name for b in api.list_repo_refs(repo, repo_type="dataset").branches] == ["main"]


def test_tagging_twice_is_a_409(hub, api, repo):
    from huggingface_hub.errors import HfHubHTTPError

    commit = publish(api, repo, ROWS_V1)
    api.create_tag(repo, tag="v1.0.0", revision=commit.oid, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as err:
        api.create_tag(repo, tag="v1.0.0", revision=commit.oid, repo_type="dataset")
    assert err.value.response.status_code == 409
    api.create_tag(repo, tag="v1.0.0", revision=commit.oid, repo_type="dataset", exist_ok=True)

    api.delete_tag(repo, tag="v1.0.0", repo_type="dataset")
    assert hub.tags(repo) == {}


def test_unchanged_files_are_not_uploaded_again(hub, api, repo):
    first = publish(api, repo, ROWS_V1)
    hub.clear_requests()

    second = publish(api, repo, ROWS_V1, readme=README + "\nMore words.\n", message="Card only")
    assert hub.count("PUT") == 0  # the batch answer says the shard is stored
    assert second.oid != first.oid
    assert hub.history(repo)[0].title == "Card only"

    hub.clear_requests()
    # Nothing changed at all: the client sends no commit and returns the current head.
    third = publish(api, repo, ROWS_V1, readme=README + "\nMore words.\n", message="No-op")
    assert third.oid == second.oid == hub.head(repo)
    assert hub.count("POST", r"/commit/") == 0 and hub.count("PUT") == 0


def test_commit_deleting_files(hub, api, repo):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import EntryNotFoundError

    publish(api, repo, ROWS_V1)
    api.create_commit(
        repo,
        [CommitOperationAdd("data/extra.txt", b"x"), CommitOperationDelete(SHARD)],
        commit_message="Swap",
        repo_type="dataset",
    )
    assert sorted(api.list_repo_files(repo, repo_type="dataset")) == [".gitattributes", "README.md", "data/extra.txt"]
    api.create_commit(repo, [CommitOperationDelete("data/")], commit_message="Drop data", repo_type="dataset")
    assert sorted(hub.files(repo)) == [".gitattributes", "README.md"]
    assert not api.file_exists(repo, SHARD, repo_type="dataset")

    with pytest.raises(EntryNotFoundError):
        api.create_commit(repo, [CommitOperationDelete("missing.txt")], commit_message="x", repo_type="dataset")
    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download(repo, SHARD, repo_type="dataset")


def test_commit_referencing_an_lfs_object_never_uploaded_is_refused(hub, api, repo):
    from huggingface_hub.errors import BadRequestError
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    lines = [
        {"key": "header", "value": {"summary": "Dangling", "description": ""}},
        {"key": "lfsFile", "value": {"path": SHARD, "algo": "sha256", "oid": "0" * 64, "size": 3}},
    ]
    response = get_session().post(
        f"{hub.url}/api/datasets/{repo}/commit/main",
        content=b"".join(json.dumps(line).encode() + b"\n" for line in lines),
        headers={"Content-Type": "application/x-ndjson", **build_hf_headers()},
    )
    with pytest.raises(BadRequestError, match="LFS pointer pointed to a file that does not exist"):
        hf_raise_for_status(response)
    assert sorted(hub.files(repo)) == [".gitattributes"]


def test_errors_carry_the_codes_the_client_maps(hub, api, repo):
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info("corpus-org/nope")
    with pytest.raises(RevisionNotFoundError):
        api.dataset_info(repo, revision="v9.9.9")
    with pytest.raises(RevisionNotFoundError):
        api.hf_hub_download(repo, "README.md", repo_type="dataset", revision="v9.9.9")
    assert not api.revision_exists(repo, "v9.9.9", repo_type="dataset")
    assert api.repo_exists(repo, repo_type="dataset") and not api.repo_exists("corpus-org/nope", repo_type="dataset")


def test_load_dataset_at_a_tag_keeps_reading_that_release(hub, api, repo):
    import datasets

    release = publish(api, repo, ROWS_V1, parent=hub.head(repo), message="Release 1.0.0")
    api.create_tag(repo, tag="v1.0.0", revision=release.oid, repo_type="dataset")
    publish(api, repo, ROWS_V2, parent=release.oid, message="Release 2.0.0")  # same shard path, new rows

    v1 = datasets.load_dataset(repo, revision="v1.0.0")
    assert list(v1) == ["train"] and v1["train"].to_list() == ROWS_V1
    assert datasets.load_dataset(repo)["train"].to_list() == ROWS_V2

    hub.clear_requests()
    streamed = datasets.load_dataset(repo, revision="v1.0.0", split="train", streaming=True)
    assert list(streamed) == ROWS_V1
    # Streaming reads the shard with Range requests, pinned to the tag's commit.
    ranged = [r for r in hub.log if r.method == "GET" and r.path.endswith(SHARD)]
    assert ranged and all(r.status == 206 and f"/resolve/{release.oid}/" in r.path for r in ranged)
    assert {p for _, p in hub.unhandled} <= {"/api/agent-harnesses"}


def test_fault_drop_before_and_after_commit(hub, api, repo):
    import httpx2

    before = hub.inject_fault("POST", r"/commit/main$", action="drop")
    with pytest.raises(httpx2.RemoteProtocolError):
        publish(api, repo, ROWS_V1)
    assert before.fired == 1 and sorted(hub.files(repo)) == [".gitattributes"]

    head = hub.head(repo)
    after = hub.inject_fault("POST", r"/commit/main$", action="drop_after")
    with pytest.raises(httpx2.RemoteProtocolError):
        publish(api, repo, ROWS_V1, parent=head)
    assert after.fired == 1 and hub.head(repo) != head  # it landed, the client never heard
    assert sorted(hub.files(repo)) == [".gitattributes", "README.md", SHARD]

    # A re-run finds nothing to change and makes no commit.
    hub.clear_requests()
    assert publish(api, repo, ROWS_V1).oid == hub.head(repo)
    assert hub.count("POST", r"/commit/") == 0


def test_fault_status_and_truncated_download(hub, api, repo):
    from huggingface_hub.errors import HfHubHTTPError

    hub.inject_fault("POST", r"/tag/", action="status", status=500)
    commit = publish(api, repo, ROWS_V1)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_tag(repo, tag="v1.0.0", revision=commit.oid, repo_type="dataset")
    assert err.value.response.status_code == 500 and hub.tags(repo) == {}

    cut = hub.inject_fault("GET", rf"/resolve/main/{SHARD}$", action="truncate")
    shard = api.hf_hub_download(repo, SHARD, repo_type="dataset")
    assert cut.fired == 1 and pq.read_table(shard).to_pylist() == ROWS_V1
    # The client writes 10 MB chunks, so nothing of the cut body was kept: it downloads again from 0
    # (after a 1 s pause). Larger files resume with a Range request.
    gets = [r for r in hub.log if r.method == "GET" and r.path.endswith(SHARD)]
    assert [(r.status, r.headers.get("Range")) for r in gets] == [(200, None), (200, None)]


def test_multipart_lfs_upload(hub, api, repo):
    hub.multipart_chunk_size = 1024
    rows = [{"id": str(i), "text": base64.b64encode(bytes([i % 251]) * 200).decode()} for i in range(40)]
    commit = publish(api, repo, rows)
    assert hub.count("PUT", r"/part/\d+$") > 1 and hub.count("POST", r"/complete$") == 1
    assert pq.read_table(io.BytesIO(hub.read(repo, SHARD, revision=commit.oid))).to_pylist() == rows


def test_the_fixture_keeps_the_clients_on_loopback(hub):
    import httpx2
    from huggingface_hub import HfApi

    with pytest.raises(httpx2.ConnectError):
        HfApi(endpoint="https://huggingface.co").dataset_info(REPO)
    assert hub.blocked_hosts == ["huggingface.co"]
    hub.blocked_hosts.clear()  # expected here; the fixture fails any other test that leaves some
