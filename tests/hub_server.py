"""A loopback, Hugging Face Hub-compatible HTTP server for tests.

The project's tests drive the real ``huggingface_hub`` and ``datasets`` clients over HTTP
against this server instead of mocking them. It implements the part of the Hub's HTTP
surface those clients use to create a dataset repo, publish a release (one atomic
commit through the classic LFS path, with ``parentCommit`` optimistic concurrency),
tag it, list refs/commits/trees and download files (``hf_hub_download``,
``load_dataset``, ``HfFileSystem`` range reads). Branches (``create_branch``, commits to any
branch) and pull requests: ``create_commit(create_pr=True)`` opens ``refs/pr/N`` from
``parentCommit`` (else the branch's head) and answers ``pullRequestUrl``
(``…/discussions/N``); a commit to ``refs/pr/N`` adds to an open PR; ``list_repo_refs(
include_pull_requests=True)`` lists them and ``merge_pull_request`` merges one started from its
target's current head. See /work/shared/docs/HUB_PROTOCOL.md
for the calls and their order.

Model: state lives in memory, file bytes on disk under ``blob_dir`` (content-addressed by
sha256). Each repo is git-like: commits (40-hex oids) that each hold a full snapshot of
the tree ``{path: Entry}``, branches and tags pointing at commits. A new repo gets the
Hub's "initial commit" holding the default ``.gitattributes``, like the real Hub.

Test hooks (all thread-safe):

* ``requests`` / ``log`` / ``count()`` / ``calls()`` / ``received()``: every request received
  (``log``: with its body's size, and the body itself for API requests such as commits).
* ``inject_fault()``: drop the connection (before or after the request took effect),
  answer an HTTP error, or cut a download short, on the Nth matching request.
* ``on_request()``: run a callback just before the Nth matching request is handled,
  e.g. ``commit()`` to advance ``main`` as a concurrent writer would.
* ``commit()``, ``head()``, ``read()``, ``files()``, ``history()``, ``tags()``: write and
  inspect repo state directly, bypassing HTTP.

Xet is not implemented: run the clients with ``HF_HUB_DISABLE_XET=1`` (the fixture does).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import re
import socket
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

try:
    import yaml
except ImportError:  # YAML front matter is then not validated, only accepted
    yaml = None

# URL prefix of each repo type, as in huggingface_hub.constants.REPO_TYPES_URL_PREFIXES.
PREFIXES = {"dataset": "datasets/", "space": "spaces/", "model": ""}
API_TYPES = {"datasets": "dataset", "spaces": "space", "models": "model"}
USER = "user"  # namespace of repos created without an organization, and whoami's answer

# The Hub stores files of 10 MB or more through LFS whatever their name.
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024

# The .gitattributes the Hub puts in a new repo's initial commit: it decides which paths go
# through LFS (preupload answers "lfs" for them), e.g. every *.parquet.
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.lz4 *.mds *.mlmodel *.model "
        "*.msgpack *.npy *.npz *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors "
        "saved_model/**/* *.tar.* *.tar *.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents* "
        "*.pcm *.sam *.raw *.aac *.flac *.mp3 *.ogg *.wav *.bmp *.gif *.png *.tiff *.jpg *.jpeg *.webp "
        "*.mp4 *.webm"
    ).split()
)

STALE_PARENT_MESSAGE = "A commit has happened since. Please refresh and try again."
DANGLING_LFS_MESSAGE = (
    "Your push was rejected because an LFS pointer pointed to a file that does not exist. "
    "For instance, this can happen if you used git push --no-verify to push your changes. Offending file: - {path}"
)


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's oid and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def now_iso() -> str:
    # The clients parse '%Y-%m-%dT%H:%M:%S.%fZ' (huggingface_hub.utils.parse_datetime).
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Entry:
    """One file of a commit's tree."""

    sha256: str  # content address in the blob store (and the LFS oid for LFS files)
    size: int
    lfs: bool
    oid: str  # git blob id the Hub reports: of the content, or of the LFS pointer for LFS files

    @property
    def pointer_size(self) -> int:
        return len(lfs_pointer(self.sha256, self.size))


@dataclass
class Commit:
    oid: str
    parents: tuple[str, ...]
    title: str
    message: str
    date: str
    author: str
    tree: dict[str, Entry]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (commit oid, message)
    # Pull requests: number -> PullRequest; their head is the ref refs/pr/{number}.
    prs: dict[int, "PullRequest"] = field(default_factory=dict)
    lfs_oids: set[str] = field(default_factory=set)  # LFS objects uploaded to this repo

    @property
    def url_path(self) -> str:
        return PREFIXES[self.repo_type] + self.repo_id


@dataclass
class PullRequest:
    """A pull request opened by ``create_commit(create_pr=True)``: its commits sit on
    ``refs/pr/{num}``, started from ``base`` (the parent commit, else the target branch's head)."""

    num: int
    target: str  # the branch it asks to be merged into
    base: str  # the commit it started from
    head: str  # refs/pr/{num}
    title: str
    status: str = "open"  # "open" | "merged"


@dataclass
class RequestRecord:
    method: str
    path: str  # percent-decoded, without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int | None = None  # set once answered; stays None when the connection was dropped
    size: int = 0  # the body's length in bytes, as received
    body: bytes | None = None  # the body of an API request (a commit's NDJSON); not kept for LFS transfers


@dataclass
class Trigger:
    """A fault or callback armed on requests matching ``method`` and the ``path`` regex."""

    method: str
    path: re.Pattern
    nth: int
    times: int
    action: str  # "drop" | "drop_after" | "status" | "truncate" | "callback"
    status: int = 503
    callback: Callable[["HubServer"], Any] | None = None
    seen: int = 0
    fired: int = 0  # how many times it took effect

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.path.search(path) is not None


class Resp(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


class HubError(Exception):
    """Raised by handlers; turned into the Hub's error answer (X-Error-Code / X-Error-Message + JSON)."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None, body=None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = headers or {}
        self.body = body


def _json(status: int, data: Any, headers: dict | None = None) -> Resp:
    headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Resp(status, headers, json.dumps(data).encode())


def _repo_not_found(key: tuple[str, str]) -> HubError:
    return HubError(404, f"Repository not found: {key[1]}", "RepoNotFound")


def _revision_not_found(rev: str) -> HubError:
    return HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")


class HubServer:
    """The server and its state. ``start()`` it, use ``url``, ``stop()`` it."""

    def __init__(self, blob_dir: str | os.PathLike, host: str = "127.0.0.1", port: int = 0):
        self.blob_dir = Path(blob_dir)
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.host, self.port = host, port
        # When set, LFS uploads larger than this go through the multipart protocol in parts of this size.
        self.multipart_chunk_size: int | None = None
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.log: list[RequestRecord] = []
        self.unhandled: list[tuple[str, str]] = []  # requests no route knew: tells what the clients need next
        self.errors: list[str] = []  # tracebacks of server bugs (answered with a 500)
        self.blocked_hosts: list[str] = []  # filled by the fixture's guard: non-loopback hosts the clients tried
        self._triggers: list[Trigger] = []
        self._lock = threading.RLock()
        self._seq = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "HubServer":
        server = self

        class Handler(_Handler):
            hub = server

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ test hooks

    def inject_fault(
        self, method: str, path: str, *, nth: int = 1, action: str = "drop", status: int = 503, times: int = 1
    ) -> Trigger:
        """Make the ``nth`` (1-based) request matching ``method`` (or "*") and the ``path`` regex fail.

        ``path`` is searched in the percent-decoded request path, e.g. ``r"/commit/"``. Actions:

        * ``"drop"``: read the request, then close the connection without answering; nothing
          changes on the server (the client sees "Server disconnected without sending a response").
        * ``"drop_after"``: handle the request (the commit lands, the tag is created...), then
          close the connection without answering: the client cannot know it succeeded.
        * ``"status"``: answer ``status`` (e.g. 500, 503) without handling the request.
        * ``"truncate"``: handle it, send the headers and half the body, then close (a download
          cut midway; the client sees an incomplete body).

        ``times`` consecutive matching requests fail from the ``nth`` on. Returns the trigger;
        its ``fired`` counts the failures produced. Note the clients retry some calls on their
        own (preupload, LFS batch/upload/verify, tree/commit listing) with backoff from 1 s; the
        commit POST, tag and branch calls are not retried.
        """
        if action not in ("drop", "drop_after", "status", "truncate"):
            raise ValueError(f"unknown action {action!r}")
        trigger = Trigger(method.upper(), re.compile(path), nth, times, action, status=status)
        with self._lock:
            self._triggers.append(trigger)
        return trigger

    def on_request(
        self, method: str, path: str, callback: Callable[["HubServer"], Any], *, nth: int = 1, times: int = 1
    ) -> Trigger:
        """Call ``callback(server)`` just before the ``nth`` matching request is handled.

        For a concurrent writer racing a publish::

            hub.on_request("POST", r"/commit/main$", lambda s: s.commit("me/ds", {"other.txt": b"x"}))
        """
        trigger = Trigger(method.upper(), re.compile(path), nth, times, "callback", callback=callback)
        with self._lock:
            self._triggers.append(trigger)
        return trigger

    def clear_triggers(self) -> None:
        with self._lock:
            self._triggers.clear()

    def count(self, method: str = "*", path: str = "") -> int:
        """Number of requests received matching ``method`` (or "*") and the ``path`` regex."""
        return len(self.calls(method, path))

    def calls(self, method: str = "*", path: str = "") -> list[str]:
        pattern = re.compile(path)
        with self._lock:
            return [p for m, p in self.requests if method.upper() in ("*", m) and pattern.search(p)]

    def received(self, method: str = "*", path: str = "") -> int:
        """Bytes of request bodies received on requests matching ``method`` and the ``path`` regex."""
        pattern = re.compile(path)
        with self._lock:
            return sum(r.size for r in self.log if method.upper() in ("*", r.method) and pattern.search(r.path))

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()
            self.log.clear()
            self.unhandled.clear()

    # ------------------------------------------------------------------ direct state access

    def create_repo(self, repo_id: str, repo_type: str = "dataset", private: bool = False) -> Repo:
        with self._lock:
            key = (repo_type, repo_id)
            if key in self.repos:
                raise HubError(409, f"You already created this {repo_type} repo")
            repo = Repo(repo_type, repo_id, private, now_iso())
            self.repos[key] = repo
            init = self._new_commit((), "initial commit", "", "system", {})
            init.tree[".gitattributes"] = self._store_regular(DEFAULT_GITATTRIBUTES.encode())
            init = self._seal(repo, init)
            repo.branches["main"] = init.oid
            return repo

    def commit(
        self,
        repo_id: str,
        files: dict[str, bytes] | None = None,
        *,
        delete: list[str] = (),
        message: str = "Concurrent commit",
        branch: str = "main",
        repo_type: str = "dataset",
    ) -> str:
        """Commit directly on ``branch`` (as another writer would) and return the new head oid."""
        with self._lock:
            repo = self._repo((repo_type, repo_id))
            head = repo.commits[repo.branches[branch]]
            tree = dict(head.tree)
            for path in delete:
                tree.pop(path, None)
            for path, data in (files or {}).items():
                sample, size = data[:512], len(data)
                if self._upload_mode(tree, path, size, sample) == "lfs":
                    sha = self._write_blob(data)
                    repo.lfs_oids.add(sha)
                    tree[path] = Entry(sha, size, True, git_blob_oid(lfs_pointer(sha, size)))
                else:
                    tree[path] = self._store_regular(data)
            new = self._seal(repo, self._new_commit((head.oid,), message, "", USER, tree))
            repo.branches[branch] = new.oid
            return new.oid

    def head(self, repo_id: str, branch: str = "main", repo_type: str = "dataset") -> str:
        with self._lock:
            return self._repo((repo_type, repo_id)).branches[branch]

    def branches(self, repo_id: str, repo_type: str = "dataset") -> dict[str, str]:
        with self._lock:
            return dict(self._repo((repo_type, repo_id)).branches)

    def pull_requests(self, repo_id: str, repo_type: str = "dataset") -> dict[int, PullRequest]:
        with self._lock:
            return dict(self._repo((repo_type, repo_id)).prs)

    def tags(self, repo_id: str, repo_type: str = "dataset") -> dict[str, str]:
        with self._lock:
            return {name: oid for name, (oid, _) in self._repo((repo_type, repo_id)).tags.items()}

    def history(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> list[Commit]:
        """Commits reachable from ``revision`` by first parents, newest first."""
        with self._lock:
            repo = self._repo((repo_type, repo_id))
            return self._history(repo, self._resolve(repo, revision))

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> dict[str, Entry]:
        with self._lock:
            repo = self._repo((repo_type, repo_id))
            return dict(repo.commits[self._resolve(repo, revision)].tree)

    def read(self, repo_id: str, path: str, revision: str = "main", repo_type: str = "dataset") -> bytes:
        return self._blob_path(self.files(repo_id, revision, repo_type)[path].sha256).read_bytes()

    # ------------------------------------------------------------------ state internals

    def _repo(self, key: tuple[str, str]) -> Repo:
        repo = self.repos.get(key)
        if repo is None:
            raise _repo_not_found(key)
        return repo

    def _resolve(self, repo: Repo, rev: str) -> str:
        """Commit oid of a branch, tag, full oid or unique oid prefix (7+ hex); RevisionNotFound otherwise."""
        for prefix, refs in (("refs/heads/", repo.branches), ("refs/tags/", None)):
            if rev.startswith(prefix):
                name = rev[len(prefix):]
                if refs is not None:
                    if name in refs:
                        return refs[name]
                elif name in repo.tags:
                    return repo.tags[name][0]
                raise _revision_not_found(rev)
        m = re.fullmatch(r"refs/pr/(\d+)", rev)
        if m:
            pr = repo.prs.get(int(m.group(1)))
            if pr is None:
                raise _revision_not_found(rev)
            return pr.head
        if rev in repo.branches:
            return repo.branches[rev]
        if rev in repo.tags:
            return repo.tags[rev][0]
        if re.fullmatch(r"[0-9a-f]{7,40}", rev):
            found = [oid for oid in repo.commits if oid.startswith(rev)]
            if len(found) == 1:
                return found[0]
        raise _revision_not_found(rev)

    def _history(self, repo: Repo, oid: str) -> list[Commit]:
        out = []
        while True:
            commit = repo.commits[oid]
            out.append(commit)
            if not commit.parents:
                return out
            oid = commit.parents[0]

    @staticmethod
    def _new_commit(parents: tuple[str, ...], title: str, message: str, author: str, tree) -> Commit:
        return Commit("", parents, title, message, now_iso(), author, dict(tree))

    def _seal(self, repo: Repo, commit: Commit) -> Commit:
        """Give ``commit`` its oid (sha1 of its content plus a counter, so it is unique) and store it."""
        self._seq += 1
        content = json.dumps(
            [self._seq, repo.repo_id, commit.parents, commit.title, commit.message, commit.date,
             sorted((path, entry.oid) for path, entry in commit.tree.items())]
        )
        commit.oid = hashlib.sha1(content.encode()).hexdigest()
        repo.commits[commit.oid] = commit
        return commit

    def _blob_path(self, sha256: str) -> Path:
        return self.blob_dir / sha256

    def _write_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self._blob_path(sha)
        if not path.exists():
            # Write then rename: a reader never sees a half-written blob.
            fd, tmp = tempfile.mkstemp(dir=self.blob_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return sha

    def _store_regular(self, data: bytes) -> Entry:
        return Entry(self._write_blob(data), len(data), False, git_blob_oid(data))

    def _lfs_patterns(self, tree: dict[str, Entry]) -> list[tuple[str, bool]]:
        entry = tree.get(".gitattributes")
        if entry is None:
            return []
        patterns = []
        for line in self._blob_path(entry.sha256).read_text(errors="replace").splitlines():
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            attrs = parts[1:]
            if "filter=lfs" in attrs:
                patterns.append((parts[0], True))
            elif "-filter" in attrs or "!filter" in attrs:
                patterns.append((parts[0], False))
        return patterns

    def _upload_mode(self, tree: dict[str, Entry], path: str, size: int, sample: bytes) -> str:
        if size >= LFS_SIZE_THRESHOLD or b"\0" in sample[:512]:
            return "lfs"
        mode = "regular"
        # gitattributes semantics, simplified: a pattern without "/" matches the basename,
        # one with "/" the whole path (fnmatch's "*" also crosses "/"); the last match wins.
        for pattern, is_lfs in self._lfs_patterns(tree):
            target = path if "/" in pattern else path.rsplit("/", 1)[-1]
            if fnmatch.fnmatchcase(target, pattern.lstrip("/")):
                mode = "lfs" if is_lfs else "regular"
        return mode

    @staticmethod
    def _dirs(tree: dict[str, Entry]) -> set[str]:
        dirs = set()
        for path in tree:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        return dirs

    @staticmethod
    def _dir_oid(tree: dict[str, Entry], directory: str) -> str:
        prefix = directory + "/"
        listing = sorted((p, e.oid) for p, e in tree.items() if p.startswith(prefix))
        return hashlib.sha1(json.dumps(listing).encode()).hexdigest()

    def _last_commit(self, repo: Repo, oid: str, path: str, is_dir: bool) -> Commit:
        """The oldest commit, walking first parents back from ``oid``, since which ``path`` is unchanged."""

        def state(commit: Commit):
            return self._dir_oid(commit.tree, path) if is_dir else commit.tree.get(path)

        commit = repo.commits[oid]
        current = state(commit)
        while commit.parents and state(repo.commits[commit.parents[0]]) == current:
            commit = repo.commits[commit.parents[0]]
        return commit

    def _tree_item(self, repo: Repo, commit: Commit, path: str, expand: bool) -> dict:
        entry = commit.tree.get(path)
        if entry is None:
            item: dict[str, Any] = {"type": "directory", "oid": self._dir_oid(commit.tree, path), "size": 0}
            item["path"] = path
        else:
            item = {"type": "file", "oid": entry.oid, "size": entry.size, "path": path}
            if entry.lfs:
                item["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": entry.pointer_size}
        if expand:
            last = self._last_commit(repo, commit.oid, path, entry is None)
            item["lastCommit"] = {"id": last.oid, "title": last.title, "date": last.date}
        return item

    # ------------------------------------------------------------------ request dispatch

    def _before(self, method: str, path: str) -> Trigger | None:
        """Count the request against the armed triggers; run callbacks; return the fault to apply."""
        fault, callbacks = None, []
        with self._lock:
            for trigger in self._triggers:
                if not trigger.matches(method, path):
                    continue
                trigger.seen += 1
                if trigger.nth <= trigger.seen < trigger.nth + trigger.times:
                    trigger.fired += 1
                    if trigger.action == "callback":
                        callbacks.append(trigger)
                    elif fault is None:
                        fault = trigger
        for trigger in callbacks:
            trigger.callback(self)
        return fault

    def _route(self, method: str, segs: list[str], query: dict, body: bytes, headers) -> Resp:
        """Dispatch on the raw (still percent-encoded) path segments."""
        n = len(segs)
        if n >= 1 and segs[0] == "api":
            if segs[1:] == ["repos", "create"] and method == "POST":
                return self._h_create_repo(body, headers)
            if segs[1:] == ["repos", "delete"] and method == "DELETE":
                return self._h_delete_repo(body, headers)
            if segs[1:] == ["validate-yaml"] and method == "POST":
                return self._h_validate_yaml(body)
            if segs[1:] == ["whoami-v2"] and method == "GET":
                self._require_auth(headers)
                return _json(200, {"type": "user", "name": USER, "fullname": "Test User", "orgs": [],
                                   "auth": {"type": "access_token", "accessToken": {"role": "write"}}})
            if n >= 4 and segs[1] in API_TYPES:
                key = (API_TYPES[segs[1]], f"{unquote(segs[2])}/{unquote(segs[3])}")
                return self._route_repo_api(method, key, segs[4:], query, body, headers)
        if n >= 5 and segs[0] == "_lfs":
            return self._route_lfs_transfer(method, segs, body)
        # /{prefix}{ns}/{name}.git/info/lfs/objects/batch and /{prefix}{ns}/{name}/resolve/{rev}/{path}
        repo_type, rest = "model", segs  # model repos have no URL prefix
        if n >= 3 and segs[0] in ("datasets", "spaces") and (segs[2].endswith(".git") or segs[3:4] == ["resolve"]):
            repo_type, rest = API_TYPES[segs[0]], segs[1:]
        if len(rest) == 6 and rest[1].endswith(".git") and rest[2:] == ["info", "lfs", "objects", "batch"]:
            if method == "POST":
                key = (repo_type, f"{unquote(rest[0])}/{unquote(rest[1][:-4])}")
                return self._h_lfs_batch(key, body, headers)
        if len(rest) >= 5 and rest[2] == "resolve" and method in ("GET", "HEAD"):
            key = (repo_type, f"{unquote(rest[0])}/{unquote(rest[1])}")
            return self._h_resolve(key, unquote(rest[3]), unquote("/".join(rest[4:])), headers)
        raise HubError(404, "Not Found")

    def _route_repo_api(self, method: str, key, rest: list[str], query: dict, body: bytes, headers) -> Resp:
        verb = rest[0] if rest else ""
        arg = unquote("/".join(rest[1:])) if len(rest) > 1 else None
        if verb == "" and method == "GET":
            return self._h_repo_info(key, None, query)
        if verb == "revision" and arg and method == "GET":
            return self._h_repo_info(key, arg, query)
        if verb == "preupload" and arg and method == "POST":
            return self._h_preupload(key, arg, body, headers)
        if verb == "commit" and arg and method == "POST":
            return self._h_commit(key, arg, query, body, headers)
        if verb == "tag" and arg and method == "POST":
            return self._h_create_tag(key, arg, body, headers)
        if verb == "tag" and arg and method == "DELETE":
            return self._h_delete_tag(key, arg, headers)
        if verb == "branch" and arg and method == "POST":
            return self._h_create_branch(key, arg, body, headers)
        if verb == "branch" and arg and method == "DELETE":
            return self._h_delete_branch(key, arg, headers)
        if verb == "discussions" and len(rest) == 3 and rest[2] == "merge" and method == "POST":
            return self._h_merge_pr(key, rest[1], headers)
        if verb == "refs" and method == "GET":
            return self._h_refs(key, query)
        if verb == "commits" and arg and method == "GET":
            return self._h_commits(key, arg)
        if verb == "tree" and len(rest) >= 2 and method == "GET":
            # The revision is one (quoted) segment; the path may be one quoted segment or several.
            return self._h_tree(key, unquote(rest[1]), unquote("/".join(rest[2:])), query)
        if verb == "paths-info" and arg and method == "POST":
            return self._h_paths_info(key, arg, body, headers)
        raise HubError(404, "Not Found")

    @staticmethod
    def _require_auth(headers) -> None:
        if not (headers.get("Authorization") or "").startswith("Bearer "):
            raise HubError(401, "Invalid credentials in Authorization header")

    @staticmethod
    def _json_body(body: bytes) -> Any:
        try:
            return json.loads(body or b"{}")
        except ValueError as exc:
            raise HubError(400, f"Invalid JSON body: {exc}") from None

    # ------------------------------------------------------------------ handlers: repos

    def _h_create_repo(self, body: bytes, headers) -> Resp:
        self._require_auth(headers)
        payload = self._json_body(body)
        name, org = payload.get("name"), payload.get("organization")
        repo_type = payload.get("type") or "model"
        if not name or repo_type not in PREFIXES:
            raise HubError(400, "Invalid repo name or type")
        repo_id = f"{org or USER}/{name}"
        private = bool(payload.get("private")) or payload.get("visibility") == "private"
        url = f"{self.url}/{PREFIXES[repo_type]}{repo_id}"
        try:
            self.create_repo(repo_id, repo_type, private)
        except HubError as exc:
            # create_repo(exist_ok=True) accepts exactly this 409.
            raise HubError(409, exc.message, body={"error": exc.message, "url": url}) from None
        return _json(200, {"url": url, "name": repo_id, "id": repo_id})

    def _h_delete_repo(self, body: bytes, headers) -> Resp:
        self._require_auth(headers)
        payload = self._json_body(body)
        key = (payload.get("type") or "model", f"{payload.get('organization') or USER}/{payload.get('name')}")
        with self._lock:
            self._repo(key)
            del self.repos[key]
        return _json(200, {})

    def _h_repo_info(self, key, revision: str | None, query: dict) -> Resp:
        with self._lock:
            repo = self._repo(key)
            commit = repo.commits[self._resolve(repo, revision or "main")]
            blobs = query.get("blobs", ["false"])[-1].lower() in ("1", "true")
            siblings = []
            for path, entry in sorted(commit.tree.items()):
                sibling: dict[str, Any] = {"rfilename": path}
                if blobs:
                    sibling.update(size=entry.size, blobId=entry.oid)
                    if entry.lfs:
                        sibling["lfs"] = {"sha256": entry.sha256, "size": entry.size, "pointerSize": entry.pointer_size}
                siblings.append(sibling)
            info = {
                "_id": hashlib.md5(f"{key}".encode()).hexdigest()[:24],
                "id": repo.repo_id,
                "author": repo.repo_id.split("/")[0],
                "sha": commit.oid,
                "lastModified": commit.date,
                "createdAt": repo.created_at,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": siblings,
                "usedStorage": sum(e.size for e in commit.tree.values()),
            }
            if repo.repo_type == "model":
                info["modelId"] = repo.repo_id
            card = self._card_data(commit)
            if card is not None:
                info["cardData"] = card
        return _json(200, info)

    def _card_data(self, commit: Commit) -> dict | None:
        entry = commit.tree.get("README.md")
        if entry is None or yaml is None:
            return None
        try:
            data = yaml.safe_load(_front_matter(self._blob_path(entry.sha256).read_text(errors="replace")) or "")
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None

    def _h_validate_yaml(self, body: bytes) -> Resp:
        content = self._json_body(body).get("content") or ""
        front = _front_matter(content)
        if front is None:
            # Same as the Hub: no metadata is a warning, which the client turns into a UserWarning.
            return _json(200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]})
        if yaml is not None:
            try:
                data = yaml.safe_load(front)
            except yaml.YAMLError as exc:
                return _json(400, {"errors": [{"message": f"Invalid YAML: {exc}"}], "warnings": []})
            if data is not None and not isinstance(data, dict):
                return _json(400, {"errors": [{"message": "YAML metadata must be a mapping"}], "warnings": []})
        return _json(200, {"errors": [], "warnings": []})

    def _h_refs(self, key, query: dict) -> Resp:
        with self._lock:
            repo = self._repo(key)
            branches = sorted(repo.branches.items(), key=lambda kv: (kv[0] != "main", kv[0]))
            data: dict[str, Any] = {
                "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": oid} for n, oid in branches],
                "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": oid}
                         for n, (oid, _) in sorted(repo.tags.items())],
                "converts": [],
            }
            if query.get("include_prs"):
                data["pullRequests"] = [{"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": pr.head}
                                        for n, pr in sorted(repo.prs.items())]
        return _json(200, data)

    def _h_commits(self, key, rev: str) -> Resp:
        with self._lock:
            repo = self._repo(key)
            history = self._history(repo, self._resolve(repo, rev))
            items = [
                {"id": c.oid, "title": c.title, "message": c.message, "date": c.date,
                 "authors": [{"user": c.author, "avatar": ""}]}
                for c in history
            ]
        return _json(200, items)

    def _h_tree(self, key, rev: str, path: str, query: dict) -> Resp:
        recursive = query.get("recursive", ["false"])[-1].lower() in ("1", "true")
        expand = query.get("expand", ["false"])[-1].lower() in ("1", "true")
        path = path.strip("/")
        with self._lock:
            repo = self._repo(key)
            commit = repo.commits[self._resolve(repo, rev)]
            dirs = self._dirs(commit.tree)
            if path and path not in dirs:
                raise HubError(404, f"Entry not found: {path}", "EntryNotFound", headers={"X-Repo-Commit": commit.oid})
            prefix = path + "/" if path else ""
            paths = [p for p in sorted(dirs) + sorted(commit.tree) if p.startswith(prefix)]
            if not recursive:
                paths = [p for p in paths if "/" not in p[len(prefix):]]
            # Folders first, then files, each sorted: what a non-paginated Hub listing looks like.
            items = [self._tree_item(repo, commit, p, expand) for p in paths]
        return _json(200, items)

    def _h_paths_info(self, key, rev: str, body: bytes, headers) -> Resp:
        if "json" in (headers.get("Content-Type") or ""):
            payload = self._json_body(body)
            paths, expand = payload.get("paths") or [], bool(payload.get("expand"))
        else:  # the client posts a form: paths=a&paths=b&expand=false
            form = parse_qs(body.decode(), keep_blank_values=True)
            paths, expand = form.get("paths", []), form.get("expand", ["false"])[-1].lower() in ("1", "true")
        with self._lock:
            repo = self._repo(key)
            commit = repo.commits[self._resolve(repo, rev)]
            dirs = self._dirs(commit.tree)
            items = [
                self._tree_item(repo, commit, p.strip("/"), expand)
                for p in paths
                if p.strip("/") in commit.tree or p.strip("/") in dirs
            ]
        return _json(200, items)

    # ------------------------------------------------------------------ handlers: refs

    def _h_create_tag(self, key, rev: str, body: bytes, headers) -> Resp:
        self._require_auth(headers)
        payload = self._json_body(body)
        tag = payload.get("tag")
        if not tag:
            raise HubError(400, "Missing tag name")
        with self._lock:
            repo = self._repo(key)
            oid = self._resolve(repo, rev)
            if tag in repo.tags:
                raise HubError(409, f"Tag {tag} already exists")
            repo.tags[tag] = (oid, payload.get("message") or "")
        return _json(200, {})

    def _h_delete_tag(self, key, tag: str, headers) -> Resp:
        self._require_auth(headers)
        with self._lock:
            repo = self._repo(key)
            if tag not in repo.tags:
                raise _revision_not_found(tag)
            del repo.tags[tag]
        return _json(200, {})

    def _h_create_branch(self, key, branch: str, body: bytes, headers) -> Resp:
        self._require_auth(headers)
        payload = self._json_body(body)
        if branch.startswith("refs/"):
            raise HubError(400, f"Invalid reference for a branch: {branch}")
        with self._lock:
            repo = self._repo(key)
            oid = self._resolve(repo, payload.get("startingPoint") or "main")
            if branch in repo.branches:
                raise HubError(409, f"Branch {branch} already exists")
            repo.branches[branch] = oid
        return _json(200, {})

    def _h_delete_branch(self, key, branch: str, headers) -> Resp:
        self._require_auth(headers)
        with self._lock:
            repo = self._repo(key)
            if branch not in repo.branches:
                raise _revision_not_found(branch)
            if branch == "main":
                raise HubError(403, "Cannot delete the default branch")
            del repo.branches[branch]
        return _json(200, {})

    def _h_merge_pr(self, key, num: str, headers) -> Resp:
        """Merge a pull request into its target branch: one merge commit whose tree is the PR's.
        Only a PR started from the target's current head merges (no three-way merge here)."""
        self._require_auth(headers)
        with self._lock:
            repo = self._repo(key)
            pr = repo.prs.get(int(num)) if num.isdigit() else None
            if pr is None:
                raise HubError(404, f"Discussion {num} not found")
            if pr.status != "open":
                raise HubError(400, f"Pull request #{num} is {pr.status}")
            target = repo.branches[pr.target]
            if target != pr.base:
                raise HubError(409, f"Pull request #{num} cannot be merged: {pr.target} moved since it was opened")
            tree = repo.commits[pr.head].tree
            merged = self._seal(repo, self._new_commit((target, pr.head), f"Merge pull request #{num}", pr.title,
                                                       USER, tree))
            repo.branches[pr.target] = merged.oid
            pr.status = "merged"
        return _json(200, {})

    # ------------------------------------------------------------------ handlers: upload and commit

    def _h_preupload(self, key, rev: str, body: bytes, headers) -> Resp:
        self._require_auth(headers)
        files = self._json_body(body).get("files") or []
        with self._lock:
            repo = self._repo(key)
            tree = repo.commits[self._resolve(repo, rev)].tree
            out = []
            for f in files:
                path, size = f["path"], int(f.get("size", 0))
                sample = base64.b64decode(f.get("sample") or "")
                mode = self._upload_mode(tree, path, size, sample)
                existing = tree.get(path)
                # The client skips a file whose oid matches its own: sha256 for LFS, git sha1 otherwise.
                oid = None if existing is None else existing.sha256 if existing.lfs else existing.oid
                out.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return _json(200, {"files": out})

    def _h_lfs_batch(self, key, body: bytes, headers) -> Resp:
        self._require_auth(headers)
        payload = self._json_body(body)
        if payload.get("operation") != "upload":
            raise HubError(400, "Only the upload operation is supported")
        with self._lock:
            repo = self._repo(key)
            objects = []
            for obj in payload.get("objects") or []:
                oid, size = obj["oid"], int(obj["size"])
                if oid in repo.lfs_oids:
                    objects.append({"oid": oid, "size": size})  # already stored: no actions
                    continue
                base = f"{self.url}/_lfs/{repo.repo_type}s/{repo.repo_id}/{oid}"
                upload: dict[str, Any] = {"href": base, "header": {}}
                chunk = self.multipart_chunk_size
                if chunk and size > chunk:
                    part_urls = {str(i): f"{base}/part/{i}" for i in range(1, -(-size // chunk) + 1)}
                    upload = {"href": f"{base}/complete", "header": {"chunk_size": str(chunk), **part_urls}}
                objects.append({"oid": oid, "size": size,
                                "actions": {"upload": upload, "verify": {"href": f"{base}/verify", "header": {}}}})
        return _json(200, {"transfer": "basic" if not self.multipart_chunk_size else "multipart", "objects": objects},
                     headers={"Content-Type": "application/vnd.git-lfs+json"})

    def _route_lfs_transfer(self, method: str, segs: list[str], body: bytes) -> Resp:
        """/_lfs/{datasets|spaces|models}/{ns}/{name}/{oid}[/verify|/part/{n}|/complete]: our stand-in for S3."""
        key = (API_TYPES.get(segs[1], "model"), f"{unquote(segs[2])}/{unquote(segs[3])}")
        oid, rest = segs[4], segs[5:]
        with self._lock:
            repo = self._repo(key)
        parts_dir = self.blob_dir / "parts" / oid
        if not rest and method == "PUT":
            self._accept_lfs_object(repo, oid, body)
            return Resp(200, {"ETag": f'"{hashlib.md5(body).hexdigest()}"'}, b"")
        if rest[:1] == ["part"] and len(rest) == 2 and method == "PUT":
            parts_dir.mkdir(parents=True, exist_ok=True)
            (parts_dir / rest[1]).write_bytes(body)
            # The client collects each part's ETag for the completion call.
            return Resp(200, {"ETag": f'"{hashlib.md5(body).hexdigest()}"'}, b"")
        if rest == ["complete"] and method == "POST":
            payload = self._json_body(body)
            data = b""
            for part in sorted(payload.get("parts") or [], key=lambda p: p["partNumber"]):
                chunk = (parts_dir / str(part["partNumber"])).read_bytes()
                if part["etag"].strip('"') != hashlib.md5(chunk).hexdigest():
                    raise HubError(400, f"ETag mismatch for part {part['partNumber']}")
                data += chunk
            self._accept_lfs_object(repo, payload.get("oid", oid), data)
            return _json(200, {})
        if rest == ["verify"] and method == "POST":
            payload = self._json_body(body)
            with self._lock:
                ok = oid in repo.lfs_oids and self._blob_path(oid).stat().st_size == int(payload.get("size", -1))
            if not ok:
                raise HubError(404, f"LFS object {oid} not found or wrong size")
            return _json(200, {})
        raise HubError(404, "Not Found")

    def _accept_lfs_object(self, repo: Repo, oid: str, data: bytes) -> None:
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, f"Uploaded content does not match oid {oid}")
        self._write_blob(data)
        with self._lock:
            repo.lfs_oids.add(oid)

    def _h_commit(self, key, branch: str, query: dict, body: bytes, headers) -> Resp:
        self._require_auth(headers)
        create_pr = query.get("create_pr", ["0"])[-1] in ("1", "true")
        try:
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        except ValueError as exc:
            raise HubError(400, f"Invalid NDJSON body: {exc}") from None
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first line of a commit must be its header")
        header = lines[0]["value"]
        with self._lock:
            repo = self._repo(key)
            pr_match = re.fullmatch(r"refs/pr/(\d+)", branch)
            pr = repo.prs.get(int(pr_match.group(1))) if pr_match else None
            if pr_match and (create_pr or pr is None or pr.status != "open"):
                raise _revision_not_found(branch)  # an open PR takes commits; a PR of a PR does not exist
            if pr is None and branch not in repo.branches:
                raise _revision_not_found(branch)
            head = repo.commits[pr.head if pr else repo.branches[branch]]
            parent = header.get("parentCommit")
            if create_pr:
                # The Hub opens the PR from `parentCommit` when given (no 412: a PR may start from an
                # older commit), else from the branch's head.
                if parent:
                    head = repo.commits[self._resolve(repo, parent.lower())]
            elif parent and not head.oid.startswith(parent.lower()):
                # Optimistic concurrency: the branch moved since the client read it.
                raise HubError(412, STALE_PARENT_MESSAGE)
            tree = dict(head.tree)
            for line in lines[1:]:
                kind, value = line.get("key"), line.get("value") or {}
                path = (value.get("path") or "").strip("/")
                if kind == "file":
                    if value.get("encoding", "base64") != "base64":
                        raise HubError(400, f"Unsupported encoding for {path}")
                    tree[path] = self._store_regular(base64.b64decode(value.get("content") or ""))
                elif kind == "lfsFile":
                    oid = value.get("oid")
                    if oid not in repo.lfs_oids:
                        raise HubError(400, DANGLING_LFS_MESSAGE.format(path=path))
                    size = self._blob_path(oid).stat().st_size
                    if value.get("size") is not None and int(value["size"]) != size:
                        raise HubError(400, f"Size mismatch for LFS file {path}")
                    tree[path] = Entry(oid, size, True, git_blob_oid(lfs_pointer(oid, size)))
                elif kind == "deletedFile":
                    if tree.pop(path, None) is None:
                        raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                elif kind == "deletedFolder":
                    doomed = [p for p in tree if p.startswith(path + "/")]
                    if not doomed:
                        raise HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                    for p in doomed:
                        del tree[p]
                else:
                    raise HubError(400, f"Unknown commit operation {kind!r}")
            commit = self._new_commit((head.oid,), header.get("summary") or "", header.get("description") or "",
                                      USER, tree)
            commit = self._seal(repo, commit)
            pr_url = None
            if create_pr:
                num = max(repo.prs, default=0) + 1
                repo.prs[num] = PullRequest(num, branch, head.oid, commit.oid, commit.title)
                pr_url = f"{self.url}/{repo.url_path}/discussions/{num}"
            elif pr is not None:
                pr.head = commit.oid
            else:
                repo.branches[branch] = commit.oid
            url = f"{self.url}/{repo.url_path}/commit/{commit.oid}"
        return _json(200, {"success": True, "commitOid": commit.oid, "commitUrl": url, "hookOutput": "",
                           "pullRequestUrl": pr_url})

    # ------------------------------------------------------------------ handlers: download

    def _h_resolve(self, key, rev: str, path: str, headers) -> Resp:
        with self._lock:
            repo = self._repo(key)
            oid = self._resolve(repo, rev)
            entry = repo.commits[oid].tree.get(path)
        if entry is None:
            # The client caches the absence of a file per commit from this header.
            raise HubError(404, "Entry not found", "EntryNotFound", headers={"X-Repo-Commit": oid})
        data = self._blob_path(entry.sha256).read_bytes()
        out = {
            "X-Repo-Commit": oid,
            "ETag": f'"{entry.sha256 if entry.lfs else entry.oid}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if entry.lfs:
            # On the Hub these come with a redirect to the CDN; we serve the bytes ourselves.
            out.update({"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)})
        byte_range = headers.get("Range")
        if byte_range:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", byte_range.strip())
            if m and (m.group(1) or m.group(2)) and entry.size > 0:
                if m.group(1):
                    start = int(m.group(1))
                    end = min(int(m.group(2)), entry.size - 1) if m.group(2) else entry.size - 1
                else:  # suffix range: the last N bytes
                    start, end = max(entry.size - int(m.group(2)), 0), entry.size - 1
                if start >= entry.size or start > end:
                    raise HubError(416, "Range Not Satisfiable", headers={"Content-Range": f"bytes */{entry.size}"})
                out["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
                return Resp(206, out, data[start:end + 1])
        return Resp(200, out, data)


def _front_matter(text: str) -> str | None:
    """The YAML block between the leading '---' lines of a README, or None."""
    m = re.match(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*$", text, re.S | re.M)
    return m.group(1) if m else None


class _Handler(BaseHTTPRequestHandler):
    """One request: record it, apply faults/callbacks, route it, answer or drop."""

    hub: HubServer
    protocol_version = "HTTP/1.1"  # keep-alive: the clients pool connections

    def setup(self) -> None:
        super().setup()
        # Without this, a small answer waits ~40 ms on Nagle + delayed ACK: seconds per test.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr logging
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        hub = self.hub
        split = urlsplit(self.path)
        method, path = self.command, unquote(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        record = RequestRecord(method, path, query, dict(self.headers.items()))
        with hub._lock:
            hub.requests.append((method, path))
            hub.log.append(record)
        body = self._read_body()
        with hub._lock:
            record.size = len(body)
            record.body = None if path.startswith("/_lfs/") else body
        fault = hub._before(method, path)
        if fault is not None and fault.action == "drop":
            self.close_connection = True
            return
        if fault is not None and fault.action == "status":
            resp = _error_resp(HubError(fault.status, f"Injected failure ({fault.status})"))
        else:
            try:
                resp = hub._route(method, split.path.split("/")[1:], query, body, self.headers)
            except HubError as exc:
                if exc.status == 404 and exc.code is None and exc.message == "Not Found":
                    with hub._lock:
                        hub.unhandled.append((method, path))
                resp = _error_resp(exc)
            except Exception as exc:  # a server bug: answer 500 and keep the traceback for the fixture to report
                with hub._lock:
                    hub.errors.append(f"{method} {path}\n{traceback.format_exc()}")
                resp = _error_resp(HubError(500, f"Test Hub error: {type(exc).__name__}: {exc}"))
        if fault is not None and fault.action == "drop_after":
            self.close_connection = True
            return
        record.status = resp.status
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if method == "HEAD":
            return
        if fault is not None and fault.action == "truncate":
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.close_connection = True
            return
        self.wfile.write(resp.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle


def _error_resp(exc: HubError) -> Resp:
    headers = {"X-Error-Message": exc.message.encode("latin-1", "replace").decode("latin-1"), **exc.headers}
    if exc.code:
        headers["X-Error-Code"] = exc.code
    return _json(exc.status, exc.body if exc.body is not None else {"error": exc.message}, headers)
