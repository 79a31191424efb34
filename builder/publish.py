"""Publish a built dataset folder as a release: one atomic commit and one semver tag, on the
Hugging Face Hub (`HubTarget`) or in a local git repository (`GitTarget`).

`plan_release` compares the folder with the target's head and releases and decides what to
do; `publish_plan` does it: one commit whose parent is the head the plan compared against (if
the branch moved meanwhile the commit is refused: never an overwrite), then the tag. A tag is
never moved. Every step can be re-run: a run cut off after its commit landed finds the head
already holding the release and only tags it; re-publishing a version with the same content
does nothing. "The same content" means the same files, byte for byte, except what a release
itself writes into the card (its `version:` and its changelog, which carries a date).
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
from urllib.parse import quote
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import pyarrow as pa

from . import __version__
from .card import render_release
from .croissant import croissant_identity
from .errors import ConfigError, PublishError, VersionError
from .integrity import check_intact
from .release import (ReleaseDiff, Version, apply_release, card_version, changelog_entry, check_version,
                      diff_releases, release_identity, split_of)

log = logging.getLogger(__name__)

CARD = "README.md"
CROISSANT = "croissant.json"
BRANCH = "main"
# Files a target keeps for itself: the Hub's .gitattributes (which paths go through LFS) is
# neither published by us nor deleted.
TARGET_OWNED = {".gitattributes"}
_HF_URL = re.compile(r"^hf://datasets/(?P<repo>[^/@]+/[^/@]+)/?$")
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
# A branch name both git and the Hub take: no "..", "@{", control characters, spaces or ~^:?*[\,
# not starting or ending with "/" or ".", no "//", no ".lock" ending.
_BAD_BRANCH = re.compile(r"""\.\.|@\{|//|/\.|\.lock$|\.lock/|[\x00-\x20\x7f~^:?*\[\\"']|^[./-]|[/.]$""")


def check_branch(name: str) -> str:
    """`name` as a branch a release may be committed to (`--revision`); ConfigError otherwise. `main`
    is the main line itself (tagged releases); `refs/...`, a release tag's name (`v1.2.0`) and
    names git refuses are not branches."""
    if not name or _BAD_BRANCH.search(name) or name.startswith("refs/") or name == "HEAD":
        raise ConfigError(f"--revision {name!r} is not a branch name: give a plain branch name such as 'staging' "
                          "(no spaces, '..', ':', '~', '^', '?', '*', '[' or '\\'; not refs/...)")
    if Version.from_tag(name) is not None:
        raise ConfigError(f"--revision {name!r} has the form of a release tag, which would make revision={name!r} "
                          "ambiguous: give the branch another name (e.g. 'staging')")
    return name


# ------------------------------------------------------------------------------ files


@dataclass(frozen=True)
class RemoteFile:
    """A file of a target's commit, as its listing describes it."""

    path: str
    size: int
    blob_id: str  # git blob id (for an LFS file: of its pointer)
    sha256: str | None = None  # LFS files only

    def same_as(self, staged: StagedFile) -> bool:
        return staged.sha256 == self.sha256 if self.sha256 else staged.blob_id == self.blob_id


@dataclass(frozen=True)
class StagedFile:
    """A file of the release: its path in the target, hashes, and where its bytes are."""

    path: str
    size: int
    sha256: str
    blob_id: str  # git blob id, what the Hub and git list for a regular file
    source: Path | bytes

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> StagedFile:
        return cls(path, len(data), hashlib.sha256(data).hexdigest(), _git_blob_id(data), data)

    @classmethod
    def from_file(cls, path: str, file: Path) -> StagedFile:
        size = file.stat().st_size
        sha256, sha1 = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha256.update(chunk)
                sha1.update(chunk)
        return cls(path, size, sha256.hexdigest(), sha1.hexdigest(), file)

    def data(self) -> bytes:
        return self.source if isinstance(self.source, bytes) else self.source.read_bytes()

    def opener(self) -> Callable[[], BinaryIO]:
        return lambda: io.BytesIO(self.source) if isinstance(self.source, bytes) else open(self.source, "rb")


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def stage_folder(folder: str | os.PathLike) -> tuple[list[StagedFile], str]:
    """The files of a built dataset folder (the card apart) and the card's text. Hidden files and
    folders (caches, editor files) are not part of a release."""
    folder = Path(folder)
    if not (folder / CARD).is_file() or not any((folder / "data").rglob("*.parquet")):
        raise PublishError(f"{str(folder)!r} is not a built dataset folder (no {CARD} or data/*.parquet): "
                           "run `corpus build` first")
    staged = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        if path.is_symlink():
            raise PublishError(f"{rel} in {str(folder)!r} is a symbolic link: a release holds regular files only")
        if path.is_file() and rel != CARD:
            staged.append(StagedFile.from_file(rel, path))
    return staged, (folder / CARD).read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Release:
    version: Version
    tag: str
    commit: str
    date: datetime | None = None


@dataclass(frozen=True)
class Refs:
    head: str | None  # main's commit; None when the target has no commit yet
    tags: dict[str, str]  # tag -> commit
    branches: dict[str, str] = field(default_factory=dict)  # every branch (main too) -> commit

    def releases(self) -> list[Release]:
        out = [Release(v, tag, oid) for tag, oid in self.tags.items() if (v := Version.from_tag(tag)) is not None]
        return sorted(out, key=lambda r: r.version)


class Target(ABC):
    """Where releases go: a branch of commits with their files, and tags."""

    url: str  # for messages: hf://datasets/owner/name or the registry's path
    repo_id: str | None = None  # the Hub's owner/name, named in a release's card
    pull_requests = False  # whether `open_pr` works here

    def download_base(self, revision: str) -> str | None:
        """The URL a release's files are downloaded under at `revision` (a tag or a branch:
        croissant.json's links), if any."""
        return None

    @abstractmethod
    def refs(self) -> Refs: ...

    @abstractmethod
    def files(self, revision: str) -> dict[str, RemoteFile]: ...

    @abstractmethod
    def read(self, revision: str, path: str) -> bytes: ...

    def opener(self, revision: str, path: str) -> Callable[[], BinaryIO]:
        """A function opening the file for reading (for Parquet: only the ranges read)."""
        return lambda: io.BytesIO(self.read(revision, path))

    @contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Turn this target's own errors, raised while `doing`, into PublishError."""
        yield

    @abstractmethod
    def dates(self, releases: list[Release]) -> dict[str, datetime]:
        """When each release (by tag) was made, for listings."""

    def check(self) -> None:
        """Raise PublishError when `prepare` would refuse this target (a dry run checks it too)."""

    @abstractmethod
    def prepare(self) -> None:
        """Create the repository when there is none."""

    @abstractmethod
    def commit(self, *, add: list[StagedFile], delete: list[str], parent: str | None, commit_message: str,
               commit_description: str, branch: str = BRANCH, create: bool = False) -> str:
        """One commit on `branch`, made only if the branch is still at `parent` (with `create`: only
        if the branch does not exist yet; it is created at the commit, whose parent is `parent`); its id."""

    def open_pr(self, *, add: list[StagedFile], delete: list[str], parent: str | None, commit_message: str,
                commit_description: str) -> tuple[str, str]:
        """A pull request against main holding one commit on top of `parent`: (commit id, PR URL)."""
        raise _no_pull_requests(self)

    @abstractmethod
    def tag(self, tag: str, *, revision: str, tag_message: str) -> None:
        """Tag `revision`; nothing to do when the tag already names it; PublishError when it names another."""


def _no_pull_requests(target: Target) -> ConfigError:
    return ConfigError(f"{target.url} is a local git registry, which has no pull requests: drop --create-pr "
                       "(--revision BRANCH puts the release on a branch instead)")


class HubTarget(Target):
    """A dataset repository on the Hugging Face Hub, through `huggingface_hub`. The token comes
    from `token`, else HF_TOKEN or the saved login; it is never printed, logged or put in an error."""

    pull_requests = True

    def __init__(self, repo_id: str, *, token: str | None = None, private: bool = False):
        if not _REPO_ID.match(repo_id or ""):
            raise PublishError(f"repo id {repo_id!r} is not owner/name")
        self.repo_id, self.private, self._token = repo_id, private, token
        self.url = f"hf://datasets/{repo_id}"

    def download_base(self, revision: str) -> str | None:
        from huggingface_hub import constants

        return f"{constants.ENDPOINT}/datasets/{self.repo_id}/resolve/{quote(revision, safe='')}/"

    def _api(self):
        from huggingface_hub import HfApi

        return HfApi(token=self._token)  # built per call: the endpoint is read when it is built

    def refs(self) -> Refs:
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            with self._errors("cannot read the refs"):
                refs = self._api().list_repo_refs(self.repo_id, repo_type="dataset")
        except PublishError as exc:
            if isinstance(exc.__cause__, RepositoryNotFoundError):
                return Refs(None, {})
            raise
        branches = {b.name: b.target_commit for b in refs.branches}
        return Refs(branches.get(BRANCH), {t.name: t.target_commit for t in refs.tags}, branches)

    def must_exist(self) -> None:
        """PublishError naming the repo when the Hub has no such dataset repo (or hides it)."""
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            with self._errors("cannot read the repository"):
                self._api().repo_info(self.repo_id, repo_type="dataset")
        except PublishError as exc:
            if isinstance(exc.__cause__, RepositoryNotFoundError):
                raise PublishError(f"{self.url}: no such dataset repo on the Hub: check the spelling of "
                                   f"{self.repo_id!r} (a private repo needs a token that can read it; a local registry: give its "
                                   "path, or --to PATH)") from None
            raise

    def files(self, revision: str) -> dict[str, RemoteFile]:
        from huggingface_hub.hf_api import RepoFile

        with self._errors(f"cannot list the files of {revision[:12]}"):
            tree = self._api().list_repo_tree(self.repo_id, recursive=True, revision=revision, repo_type="dataset")
            return {f.path: RemoteFile(f.path, f.size, f.blob_id, f.lfs.sha256 if f.lfs else None)
                    for f in tree if isinstance(f, RepoFile)}

    def read(self, revision: str, path: str) -> bytes:
        with self._errors(f"cannot download {path} at {revision[:12]}"):
            local = self._api().hf_hub_download(self.repo_id, path, repo_type="dataset", revision=revision)
        return Path(local).read_bytes()

    def opener(self, revision: str, path: str) -> Callable[[], BinaryIO]:
        def open_remote() -> BinaryIO:
            from huggingface_hub import HfFileSystem

            with self._errors(f"cannot read {path} at {revision[:12]}"):
                return HfFileSystem(token=self._token).open(f"datasets/{self.repo_id}@{revision}/{path}", "rb")

        return open_remote

    def dates(self, releases: list[Release]) -> dict[str, datetime]:
        # The Hub keeps no date for a tag: a release is dated by its commit.
        api, by_commit = self._api(), {}
        with self._errors("cannot list the commits"):
            if releases:
                for c in api.list_repo_commits(self.repo_id, repo_type="dataset", revision=BRANCH):
                    by_commit[c.commit_id] = c.created_at
            for r in releases:
                if r.commit not in by_commit:  # a tag off the branch's history
                    by_commit[r.commit] = api.list_repo_commits(self.repo_id, repo_type="dataset",
                                                                revision=r.commit)[0].created_at
        return {r.tag: by_commit[r.commit] for r in releases}

    def prepare(self) -> None:
        with self._errors("cannot create the repository"):
            self._api().create_repo(self.repo_id, repo_type="dataset", private=self.private, exist_ok=True)

    def commit(self, *, add, delete, parent, commit_message, commit_description, branch=BRANCH, create=False) -> str:
        if create:
            # As `hf upload --revision` does, but from the commit the release was planned against
            # (not whatever main is now); a branch someone made meanwhile is fine if it is still
            # there: the commit's parent check decides.
            with self._errors(f"cannot create the branch {branch!r}"):
                self._api().create_branch(self.repo_id, branch=branch, revision=parent, repo_type="dataset",
                                          exist_ok=True)
        with self._errors("the commit failed", committing=True, parent=parent, branch=branch):
            info = self._api().create_commit(self.repo_id, self._operations(add, delete),
                                             commit_message=commit_message, commit_description=commit_description,
                                             repo_type="dataset", revision=branch, parent_commit=parent)
        return info.oid

    def open_pr(self, *, add, delete, parent, commit_message, commit_description) -> tuple[str, str]:
        with self._errors("opening the pull request failed", committing=True, parent=parent, pr=True):
            info = self._api().create_commit(self.repo_id, self._operations(add, delete),
                                             commit_message=commit_message, commit_description=commit_description,
                                             repo_type="dataset", revision=BRANCH, parent_commit=parent,
                                             create_pr=True)
        if not info.pr_url:  # the client skips a commit with nothing to change, and opens no PR
            raise PublishError(f"{self.url}: the Hub opened no pull request (main at {(parent or '?')[:12]} may hold "
                               "these files already): nothing was changed")
        return info.oid, info.pr_url

    @staticmethod
    def _operations(add: list[StagedFile], delete: list[str]) -> list:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        ops = [CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=f.source) for f in add]
        return ops + [CommitOperationDelete(path_in_repo=p) for p in delete]

    def tag(self, tag: str, *, revision: str, tag_message: str) -> None:
        from huggingface_hub.errors import HfHubHTTPError

        try:
            with self._errors(f"cannot create the tag {tag}"):
                self._api().create_tag(self.repo_id, tag=tag, revision=revision, tag_message=tag_message,
                                       repo_type="dataset")
        except PublishError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, HfHubHTTPError) and cause.response is not None
                    and cause.response.status_code == 409):
                raise
            other = self.refs().tags.get(tag)
            if other != revision:
                raise PublishError(f"{self.url}: the tag {tag} was created meanwhile by someone else, on commit "
                                   f"{(other or '?')[:12]}; the commit {revision[:12]} holds this release untagged"
                                   ) from None

    def guard(self, doing: str):
        return self._errors(doing)

    @contextmanager
    def _errors(self, doing: str, *, committing: bool = False, parent: str | None = None, branch: str = BRANCH,
                pr: bool = False) -> Iterator[None]:
        """Turn the clients' errors into a PublishError whose message is ours: the status and the
        server's message, never the request (its headers carry the token). The cause stays
        attached for callers that branch on it, and its text is scrubbed too."""
        from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

        try:
            yield
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status == 412 and committing:
                message = (f"{self.url}: {branch} moved since the release was planned against "
                           f"{(parent or 'nothing')[:12]} (someone else committed or published meanwhile); nothing was "
                           "changed. Re-run to plan against the new head.")
            else:
                detail = exc.server_message or (exc.response.reason_phrase if exc.response is not None else "")
                message = f"{self.url}: {doing}: HTTP {status}: {' '.join(detail.split())}".rstrip(": ")
                if status in (401, 403):
                    message += (": the Hub refused the token: set HF_TOKEN or run `hf auth login` with a token "
                                "that has write access to this repo (or give --token)")
            self._scrub_cause(exc)
            raise PublishError(self._scrub(message)) from exc
        except EntryNotFoundError as exc:  # hf_hub_download: not there, and no cached copy
            self._scrub_cause(exc)
            raise PublishError(self._scrub(f"{self.url}: {doing}: {exc}".splitlines()[0])) from exc
        except _transport_errors() as exc:
            if type(exc).__name__ == "OfflineModeIsEnabled":
                raise PublishError(f"{self.url}: {doing}: HF_HUB_OFFLINE is set, and publishing needs the Hub: "
                                   "unset it") from None
            if committing and pr:
                message = (f"{self.url}: the connection dropped while opening the pull request "
                           f"({type(exc).__name__}); it may or may not have been opened. Look at the repo's pull "
                           "requests before you re-run the same command: each run opens a new one.")
            elif committing:
                message = (f"{self.url}: the connection dropped during the commit ({type(exc).__name__}); it may "
                           "or may not have landed. Re-run the same command: it finds out and finishes the release "
                           "with one commit.")
            else:
                message = (f"{self.url}: {doing}: the connection failed ({type(exc).__name__}: {exc}); re-run the "
                           "same command: it picks up where this one stopped")
            self._scrub_cause(exc)
            raise PublishError(self._scrub(message)) from exc

    def _secret(self) -> str | None:
        if self._token:
            return self._token
        from huggingface_hub import get_token

        return get_token()

    def _scrub(self, text: str) -> str:
        secret = self._secret()
        return text.replace(secret, "***") if secret and len(secret) >= 8 else text

    def _scrub_cause(self, exc: BaseException) -> None:
        exc.args = tuple(self._scrub(a) if isinstance(a, str) else a for a in exc.args)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's "no answer" errors (huggingface_hub raises them as they are, e.g. when
    the connection drops during the commit POST)."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for name in ("httpx2", "httpx"):
        try:
            errors.append(__import__(name).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


class GitTarget(Target):
    """A local git repository (a "registry"): one commit on `main` and one annotated tag per
    release; the work tree is kept at `main`, and any tag's checkout loads with `load_dataset`.
    Commits are built with plumbing against the expected parent and `main` is moved by a
    compare-and-swap, so a concurrent publish fails instead of being overwritten."""

    # A fixed identity: no global git configuration is needed (CI has none), and the history
    # does not record who ran the build.
    IDENTITY = {"GIT_AUTHOR_NAME": "corpus-builder", "GIT_AUTHOR_EMAIL": "corpus-builder@localhost",
                "GIT_COMMITTER_NAME": "corpus-builder", "GIT_COMMITTER_EMAIL": "corpus-builder@localhost"}
    # A user's signing or line-ending settings must not change (or block) what is stored.
    CONFIG = ("-c", "commit.gpgSign=false", "-c", "tag.gpgSign=false", "-c", "core.autocrlf=false",
              "-c", "core.safecrlf=false", "-c", "core.hooksPath=/dev/null")

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).absolute()
        self.url = str(self.path)

    @property
    def _git_dir(self) -> Path:
        return self.path / ".git"

    def _git(self, *args: str, input: bytes | None = None, env: dict | None = None, check: bool = True
             ) -> subprocess.CompletedProcess:
        # An explicit git dir: no discovery, so a registry inside another repository is never confused with it.
        cmd = ["git", *self.CONFIG, f"--git-dir={self._git_dir}", f"--work-tree={self.path}", *args]
        # Inherited GIT_* variables (GIT_DIR, GIT_INDEX_FILE when run from a hook) would redirect the commands.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        full_env = {**inherited, **self.IDENTITY, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        try:
            proc = subprocess.run(cmd, input=input, capture_output=True, env=full_env, cwd=self.path)
        except FileNotFoundError:
            raise PublishError("git is not installed: the local registry needs it") from None
        if check and proc.returncode != 0:
            detail = " ".join(proc.stderr.decode(errors="replace").split())
            raise PublishError(f"{self.url}: git {args[0]} failed: {detail}")
        return proc

    def _exists(self) -> bool:
        return self._git_dir.is_dir()

    def refs(self) -> Refs:
        if not self._exists():
            return Refs(None, {})
        heads = self._git("for-each-ref", "--format=%(refname:strip=2)%00%(objectname)", "refs/heads").stdout.decode()
        branches = dict(line.split("\0") for line in heads.splitlines())
        out = self._git("for-each-ref", "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)",
                        "refs/tags").stdout.decode()
        tags = {}
        for line in out.splitlines():
            name, oid, peeled = line.split("\0")
            tags[name] = peeled or oid
        return Refs(branches.get(BRANCH), tags, branches)

    def files(self, revision: str) -> dict[str, RemoteFile]:
        out = self._git("ls-tree", "-r", "-l", "-z", revision).stdout.decode()
        files = {}
        for record in filter(None, out.split("\0")):
            meta, path = record.split("\t", 1)
            _, kind, oid, size = meta.split()
            if kind == "blob":
                files[path] = RemoteFile(path, int(size), oid)
        return files

    def read(self, revision: str, path: str) -> bytes:
        return self._git("cat-file", "blob", f"{revision}:{path}").stdout

    def dates(self, releases: list[Release]) -> dict[str, datetime]:
        # An annotated tag's own date (a lightweight tag's: its commit's) is when the release was made.
        out = self._git("for-each-ref", "--format=%(refname:strip=2)%00%(creatordate:iso-strict)",
                        "refs/tags").stdout.decode() if releases else ""
        dates = {name: datetime.fromisoformat(date) for name, date in (line.split("\0") for line in out.splitlines())}
        return {r.tag: dates[r.tag] for r in releases if r.tag in dates}

    def check(self) -> None:
        if not self._exists() and self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise PublishError(f"{self.url} exists and is not a git repository: give a new or empty folder, "
                               "or an existing registry")

    def prepare(self) -> None:
        self.check()
        if self._exists():
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._git("init", "-q", f"--initial-branch={BRANCH}")

    def commit(self, *, add, delete, parent, commit_message, commit_description, branch=BRANCH, create=False) -> str:
        with tempfile.TemporaryDirectory(prefix="corpus-publish-") as tmp:
            # A private index: the registry's own index and work tree are not touched until main has moved.
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self._git("read-tree", parent, env=env)
            paths = []
            for i, f in enumerate(add):
                if isinstance(f.source, bytes):
                    spill = Path(tmp) / f"blob-{i}"
                    spill.write_bytes(f.source)
                    paths.append(str(spill))
                else:
                    paths.append(str(Path(f.source).absolute()))
            blobs = self._git("hash-object", "-w", "--no-filters", "--stdin-paths",
                              input="".join(p + "\n" for p in paths).encode()).stdout.decode().split()
            for f, oid in zip(add, blobs):
                if oid != f.blob_id:
                    raise PublishError(f"{f.path} changed while it was being published: re-run")
            records = [f"100644 {oid}\t{f.path}" for f, oid in zip(add, blobs)]
            records += [f"0 {'0' * 40}\t{path}" for path in delete]
            self._git("update-index", "-z", "--index-info", input="".join(r + "\0" for r in records).encode(), env=env)
            tree = self._git("write-tree", env=env).stdout.decode().strip()
            message = commit_message + ("\n\n" + commit_description if commit_description else "") + "\n"
            commit = self._git("commit-tree", tree, *(("-p", parent) if parent else ()), "-F", "-",
                               input=message.encode()).stdout.decode().strip()
        # Compare-and-swap: moves the branch only if it is still at `parent` (absent, for a first
        # release or a new branch: then it is created only if nobody created it meanwhile).
        moved = self._git("update-ref", "-m", f"corpus publish: {commit_message}", f"refs/heads/{branch}", commit,
                          "0" * 40 if create or not parent else parent, check=False)
        if moved.returncode != 0:
            detail = " ".join(moved.stderr.decode(errors="replace").split())
            was = f"a new branch from {(parent or 'nothing')[:12]}" if create else (parent or "an empty registry")[:12]
            raise PublishError(f"{self.url}: {branch} moved since the release was planned against {was} (someone "
                               f"else committed or published meanwhile); nothing was changed. Re-run to plan against "
                               f"the new head. (git: {detail})")
        if branch == BRANCH:
            self._refresh()  # the work tree is main's: another branch's commit leaves it as it is
        return commit

    def tag(self, tag: str, *, revision: str, tag_message: str) -> None:
        made = self._git("tag", "-a", tag, "-m", tag_message, revision, check=False)
        if made.returncode != 0:
            other = self.refs().tags.get(tag)
            if other != revision:
                detail = " ".join(made.stderr.decode(errors="replace").split())
                raise PublishError(f"{self.url}: cannot create the tag {tag}: {detail}")
        self._refresh()

    def _refresh(self) -> None:
        """Bring the registry's work tree to main, when main is what it has checked out."""
        branch = self._git("symbolic-ref", "-q", "HEAD", check=False).stdout.decode().strip()
        if branch != f"refs/heads/{BRANCH}":
            return
        done = self._git("reset", "-q", "--hard", check=False)
        if done.returncode != 0:
            # The release (commit, main, tag) is complete without it: the commit was built on a
            # private index. A git command killed mid-way (an interrupted publish's own reset)
            # leaves .git/index.lock behind, and git cannot tell whether it is stale; say so.
            detail = " ".join(done.stderr.decode(errors="replace").split())
            log.warning("%s: the release is complete, but the registry's checkout was not brought up to "
                        "date (git reset: %s). If no git command is running there, remove %s and run "
                        "`git reset --hard` in it.", self.url, detail, self._git_dir / "index.lock")


def open_target(target: str | os.PathLike | None = None, *, repo_id: str | None = None,
                to: str | os.PathLike | None = None, token: str | None = None, private: bool = False) -> Target:
    """The target named by `repo_id` (the Hub), `to` (a local registry path), or `target`
    (`hf://datasets/owner/name` or a registry path)."""
    given = [x for x in (target, repo_id, to) if x is not None]
    if len(given) != 1:
        raise PublishError("give one target: a Hub repo (--repo owner/name) or a local registry (--to PATH)")
    if repo_id is not None:
        return HubTarget(repo_id, token=token, private=private)
    if to is not None:
        return GitTarget(to)
    m = _HF_URL.match(str(target))
    if m:
        return HubTarget(m.group("repo"), token=token, private=private)
    if str(target).startswith("hf://"):
        raise PublishError(f"{target!r} is not hf://datasets/owner/name")
    return GitTarget(target)


# ------------------------------------------------------------------------------ plan


@dataclass
class FileChange:
    path: str
    size: int
    old_size: int | None = None


@dataclass
class Plan:
    """What publishing `version` to `target` will do. `action`: "commit" (one commit, then the
    tag on main), "tag" (main's head already holds this release: an earlier run stopped after its
    commit), or "none" (the version is published with this content already, or the branch holds
    it already). Off the main line (`branch` other than main, or `pr`) there is no tag."""

    target: str
    version: Version
    action: str
    parent: str | None  # the head compared against: the commit's expected parent
    branch: str = BRANCH  # the branch committed to (a pull request's: the branch it is opened against)
    new_branch: bool = False  # the branch does not exist yet: it is created from `parent`
    pr: bool = False  # a pull request against main instead of a commit on it
    latest: Release | None = None  # the release this one is compared with
    existing: Release | None = None  # this version, when it is published already
    add: list[FileChange] = field(default_factory=list)
    change: list[FileChange] = field(default_factory=list)
    delete: list[FileChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    staged: list[StagedFile] = field(default_factory=list)
    diff: ReleaseDiff | None = None
    entry: str = ""
    commit_message: str = ""
    commit_description: str = ""

    @property
    def tag(self) -> str:
        return self.version.tag

    @property
    def tagged(self) -> bool:
        """Whether this release gets its tag: only on the main line."""
        return self.branch == BRANCH and not self.pr

    @property
    def upload_bytes(self) -> int:
        return sum(f.size for f in self.add + self.change)

    def lines(self) -> list[str]:
        if self.action == "none" and self.existing is not None:
            return [f"{self.tag} is already published at {self.target} (commit {self.existing.commit[:12]}) "
                    "with this content: nothing to do"]
        if self.action == "none" and self.pr:
            return [f"{self.target}: {BRANCH} ({(self.parent or '')[:12]}) already holds {self.tag}, untagged (a pull "
                    f"request merged?): nothing to propose; publish without --create-pr to tag it"]
        if self.action == "none":
            return [f"{self.target}: the branch {self.branch} ({(self.parent or '')[:12]}) already holds {self.tag}: "
                    "nothing to do (no tag: tags are made on main only)"]
        if self.action == "tag":
            return [f"{self.target}: {BRANCH} ({(self.parent or '')[:12]}) already holds this release (an earlier "
                    f"run stopped after its commit): only the tag {self.tag} is created"]
        against = f"{BRANCH} at {self.parent[:12]}" if self.parent else "an empty repository"
        if self.pr:
            out = [f"{self.tag} -> {self.target}: a pull request against {against} holding one commit; no tag (tags "
                   f"are made on main only: once it is merged, publish {self.version} without --create-pr to tag it)"]
        elif self.branch != BRANCH:
            start = (f"the new branch {self.branch} (from {against})" if self.new_branch
                     else f"the branch {self.branch} at {(self.parent or '')[:12]}")
            out = [f"{self.tag} -> {self.target}: one commit on {start}; no tag: tags are made on main only"]
        else:
            out = [f"{self.tag} -> {self.target}: one commit against {against}, then the tag {self.tag}"]
        width = max((len(f.path) for f in self.add + self.change + self.delete), default=0)
        for kind, files in (("add", self.add), ("change", self.change), ("delete", self.delete)):
            for f in files:
                was = f" (was {_size(f.old_size)})" if f.old_size is not None and kind == "change" else ""
                out.append(f"  {kind:<7} {f.path:<{width}}  {_size(f.size)}{was}")
        out.append(f"  {len(self.unchanged)} file{'s' * (len(self.unchanged) != 1)} unchanged (not uploaded); "
                   f"to upload: {_size(self.upload_bytes)} in {len(self.add) + len(self.change)} files")
        out += ["", *self.entry.splitlines()]
        return out


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _branch(revision: str | None, create_pr: bool) -> str:
    """The branch a release goes to (main unless `revision` names another, checked); ConfigError
    for --create-pr with another branch: a pull request is against main."""
    branch = BRANCH if revision in (None, BRANCH) else check_branch(revision)
    if create_pr and branch != BRANCH:
        raise ConfigError(f"--create-pr opens a pull request against {BRANCH}, and --revision {branch!r} commits to "
                          "a branch: give one of them (as `hf upload`)")
    return branch


def plan_release(dataset: str | os.PathLike, target: Target, *, version: str | Version,
                 commit_message: str | None = None, date: str | None = None, revision: str | None = None,
                 create_pr: bool = False) -> Plan:
    """Compare the dataset folder with `target` and decide how `version` is published: on main,
    tagged; with `revision`, on that branch (created from main's head when missing), untagged;
    with `create_pr`, as a pull request against main, untagged. The version rules compare with
    the latest tagged release in every case. Reads the target only. Raises VersionError when the
    version is refused (see release.check_version; an existing version with other content;
    nothing changed since the latest release)."""
    version = Version.parse(version)
    branch = _branch(revision, create_pr)
    staged, card = stage_folder(dataset)
    # The release's own card and croissant.json: its repo id, tag (a branch's name, off the main
    # line: there is no tag there) and download links.
    on_branch = branch != BRANCH
    rendered = render_release(dataset, version=str(version), repo_id=target.repo_id,
                              base_url=target.download_base(branch if on_branch else version.tag))
    compared = card  # what the releases' cards are compared with: the main line's rendering
    if rendered is not None:
        card, croissant = rendered
        compared = card
        if on_branch and target.repo_id:  # the card's examples pin the branch: there is no tag to pin
            card = card.replace(f'revision="{version.tag}"', f'revision="{branch}"').replace(
                f"--revision {version.tag}", f"--revision {branch}")
        elif on_branch:  # a registry's branch: cloned by its name (corpus checkout takes tags)
            card = card.replace(f"corpus checkout path/to/registry {version.tag} -o release-{version.tag}",
                                f"git clone --branch {branch} path/to/registry release-{branch}").replace(
                f'load_dataset("release-{version.tag}")', f'load_dataset("release-{branch}")')
        staged = sorted([f for f in staged if f.path != CROISSANT]
                        + [StagedFile.from_bytes(CROISSANT, croissant.encode("utf-8"))], key=lambda f: f.path)
    refs = target.refs()
    if on_branch and branch in refs.tags:
        raise ConfigError(f"--revision {branch!r} is a tag of {target.url}, not a branch: give a branch name")
    releases = refs.releases()
    existing = next((r for r in releases if r.version == version), None)
    if existing is not None:
        differ = _differences(target, existing.commit, target.files(existing.commit), staged, compared)
        if differ:
            newer = max(r.version for r in releases)
            raise VersionError(
                f"{version.tag} is already published at {target.url} (commit {existing.commit[:12]}) with other "
                f"content ({_listing(differ)} differ); a published version never changes: publish "
                f"{newer.next('patch')}, {newer.next('minor')} or {newer.next('major')}")
        return Plan(target.url, version, "none", refs.head, existing=existing, branch=branch, pr=create_pr)

    latest = releases[-1] if releases else None
    latest_files = target.files(latest.commit) if latest else {}
    if latest is not None:
        check_version(version, latest=latest.version, diff=None)  # refuse a smaller version before reading rows
        if not _differences(target, latest.commit, latest_files, staged, compared):
            raise VersionError(f"nothing changed since {latest.tag} (commit {latest.commit[:12]}): it holds this "
                               f"exact content already, so there is nothing to release as {version.tag}")
    try:
        with target.guard(f"cannot read the rows of {latest.tag if latest else 'the release'}"):
            diff = diff_releases({p: target.opener(latest.commit, p) for p in latest_files if split_of(p)},
                                 {f.path: f.opener() for f in staged if split_of(f.path)})
    except (OSError, pa.ArrowException) as exc:
        raise PublishError(f"cannot read the Parquet files to compare {version.tag} with "
                           f"{latest.tag if latest else 'nothing'}: {exc}") from None
    check_version(version, latest=latest.version if latest else None, diff=diff)
    entry = changelog_entry(version, diff, date=date or datetime.now(timezone.utc).date().isoformat(),
                            previous=latest.version if latest else None)
    previous_card = target.read(latest.commit, CARD).decode("utf-8") if latest and CARD in latest_files else None
    staged.append(StagedFile.from_bytes(CARD, apply_release(card, version=version, entry=entry, previous_card=previous_card,
                                                            branch=branch if on_branch else None).encode("utf-8")))
    # A branch that does not exist yet starts at main's head, as `hf upload --revision` makes it.
    new_branch = on_branch and branch not in refs.branches
    head = refs.branches[branch] if on_branch and not new_branch else refs.head
    note = "" if branch == BRANCH and not create_pr else \
        f"\n\nNot tagged: {'a pull request' if create_pr else f'the branch {branch}'}; tags are made on main only."
    plan = Plan(target.url, version, "commit", head, latest=latest, staged=staged, diff=diff, entry=entry,
                branch=branch, new_branch=new_branch, pr=create_pr,
                commit_message=commit_message or f"Release {version.tag}",
                commit_description=f"{entry}\n\nPublished with corpus-builder {__version__}.{note}")
    head_files = {} if head is None else latest_files if latest and head == latest.commit else target.files(head)
    if head is not None and _holds_release(target, head, head_files, staged, version):
        # On main: an earlier run stopped after its commit, so only the tag is left. Off the main
        # line there is no tag: the branch (or main, for a pull request) holds it already.
        plan.action = "tag" if plan.tagged else "none"
        return plan
    by_path = {f.path: f for f in staged}
    for f in staged:
        remote = head_files.get(f.path)
        if remote is None:
            plan.add.append(FileChange(f.path, f.size))
        elif not remote.same_as(f):
            plan.change.append(FileChange(f.path, f.size, remote.size))
        else:
            plan.unchanged.append(f.path)
    plan.delete = [FileChange(p, r.size) for p, r in sorted(head_files.items())
                   if p not in by_path and p not in TARGET_OWNED]
    return plan


def _differences(target: Target, revision: str, files: dict[str, RemoteFile], staged: list[StagedFile],
                 card: str) -> list[str]:
    """Paths whose content differs between a commit of the target (`files`, its listing) and the
    release staged from the folder; the cards are compared without what a release writes into them."""
    remote = {p: f for p, f in files.items() if p not in TARGET_OWNED and p != CARD}
    ours = {f.path: f for f in staged if f.path != CARD}
    differ = sorted(p for p in set(remote) | set(ours)
                    if p not in remote or p not in ours or not remote[p].same_as(ours[p]))
    if CROISSANT in differ and CROISSANT in remote and CROISSANT in ours and \
            croissant_identity(target.read(revision, CROISSANT)) == croissant_identity(ours[CROISSANT].data()):
        differ.remove(CROISSANT)  # only the version and links a release writes differ
    if CARD not in files or release_identity(target.read(revision, CARD).decode("utf-8")) != release_identity(card):
        differ.append(CARD)
    return differ


def _holds_release(target: Target, revision: str, files: dict[str, RemoteFile], staged: list[StagedFile],
                   version: Version) -> bool:
    """Whether the commit holds exactly the staged release (its card stating this version): the
    commit of an earlier run that stopped before tagging."""
    files = {p: f for p, f in files.items() if p not in TARGET_OWNED}
    ours = {f.path: f for f in staged}
    if set(files) != set(ours) or any(not files[p].same_as(ours[p]) for p in ours if p != CARD):
        return False
    if files[CARD].same_as(ours[CARD]):
        return True
    # Same release, re-planned on another day: the changelog's date differs, nothing else.
    remote_card = target.read(revision, CARD).decode("utf-8")
    return (card_version(remote_card) == str(version)
            and release_identity(remote_card) == release_identity(ours[CARD].data().decode("utf-8")))


def _listing(paths: list[str], shown: int = 5) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


# ------------------------------------------------------------------------------ execute


@dataclass
class PublishResult:
    """`status`: "published" (commit and tag made), "tagged" (the commit was there: tag made),
    "committed" (one commit on a branch other than main: no tag), "pull-request" (a pull request
    opened: no tag; `pr_url`), "unchanged" (already published with this content, or the branch
    holds it already) or "dry-run"."""

    status: str
    plan: Plan
    commit: str | None = None
    pr_url: str | None = None

    def lines(self) -> list[str]:
        commit, plan = (self.commit or "")[:12], self.plan
        done = {"published": f"published {plan.tag}: commit {commit} at {plan.target}",
                "tagged": f"tagged {plan.tag} on commit {commit} at {plan.target}",
                "committed": f"published {plan.version} to the branch {plan.branch}: commit {commit} at {plan.target} "
                             "(no tag: tags are made on main only)",
                "pull-request": f"opened a pull request with {plan.version}: {self.pr_url} (commit {commit}; no tag: "
                                f"once it is merged, publish {plan.version} without --create-pr to tag it)",
                "unchanged": f"{plan.tag} unchanged at {plan.target}: nothing uploaded",
                "dry-run": "dry run: nothing uploaded"}[self.status]
        return plan.lines() + ["", done]


def publish_plan(plan: Plan, target: Target) -> PublishResult:
    """Carry out a plan from `plan_release` on the same target."""
    if plan.action == "none":
        return PublishResult("unchanged", plan, plan.existing.commit if plan.existing else plan.parent)
    tag_message = f"Release {plan.tag}"
    if plan.action == "tag":
        target.tag(plan.tag, revision=plan.parent, tag_message=tag_message)
        log.debug("tagged %s on %s", plan.tag, plan.parent[:12])
        return PublishResult("tagged", plan, plan.parent)
    parent = plan.parent
    if parent is None:
        target.prepare()
        parent = target.refs().head
        if parent is not None:  # a new Hub repo starts with its own commit (.gitattributes): only that is expected
            extra = set(target.files(parent)) - TARGET_OWNED
            if extra:
                raise PublishError(f"{target.url} was filled meanwhile ({_listing(sorted(extra))}): re-run")
    by_path = {f.path: f for f in plan.staged}
    log.info("committing %s: %s to upload", plan.tag, _size(plan.upload_bytes))
    change = dict(add=[by_path[f.path] for f in plan.add + plan.change], delete=[f.path for f in plan.delete],
                  parent=parent, commit_message=plan.commit_message, commit_description=plan.commit_description)
    pr_url = None
    if plan.pr:
        commit, pr_url = target.open_pr(**change)
    else:
        commit = target.commit(**change, branch=plan.branch, create=plan.new_branch)
    # Never tag blindly: huggingface_hub answers a commit with nothing to change (main already
    # equal to the release) with the current head, whoever made it, without checking the parent.
    landed = {p: f for p, f in target.files(commit).items() if p not in TARGET_OWNED}
    if set(landed) != set(by_path) or any(not landed[p].same_as(f) for p, f in by_path.items()):
        raise PublishError(f"{target.url}: commit {commit[:12]} does not hold the release as planned "
                           f"({plan.branch} moved meanwhile?)"
                           + (f"; {plan.tag} was not tagged" if plan.tagged else "") + ". Re-run to plan again.")
    if plan.pr:
        log.debug("opened %s with %s: commit %s", pr_url, plan.tag, commit[:12])
        return PublishResult("pull-request", plan, commit, pr_url)
    if not plan.tagged:
        log.debug("published %s to %s: commit %s", plan.tag, plan.branch, commit[:12])
        return PublishResult("committed", plan, commit)
    target.tag(plan.tag, revision=commit, tag_message=tag_message)
    log.debug("published %s: commit %s", plan.tag, commit[:12])
    return PublishResult("published", plan, commit)


def publish(dataset: str | os.PathLike, *, version: str, repo_id: str | None = None,
            to: str | os.PathLike | None = None, token: str | None = None, private: bool = False,
            commit_message: str | None = None, dry_run: bool = False, target: Target | None = None,
            revision: str | None = None, create_pr: bool = False) -> PublishResult:
    """Publish the built dataset folder `dataset` as release `version` (semver; tag `v{version}`)
    to the Hub repo `repo_id` or the local git registry `to` (or a `target` you built). With
    `revision` (a branch) the release is one commit on that branch, created from main's head when
    missing, and not tagged; with `create_pr` (the Hub only) it is one commit in a new pull
    request against main, not tagged either: tags are made on main only, as `hf upload
    --revision/--create-pr` would place the files. With `dry_run` nothing is created or
    uploaded: the result's plan says what would be. A damaged folder (a shard that differs from
    croissant.json or splits.json) is refused first, with IntegrityError: the target is not
    touched."""
    target = target or open_target(repo_id=repo_id, to=to, token=token, private=private)
    if create_pr and not target.pull_requests:
        raise _no_pull_requests(target)
    _branch(revision, create_pr)  # a bad --revision is refused before anything is read
    check_intact(dataset)
    target.check()  # a dry run fails where the real run would
    if not dry_run and target.refs().head is None:
        target.prepare()  # first, so the plan compares with what the new repository starts with
    plan = plan_release(dataset, target, version=version, commit_message=commit_message, revision=revision,
                        create_pr=create_pr)
    if dry_run:
        return PublishResult("dry-run", plan)
    return publish_plan(plan, target)


# ------------------------------------------------------------------------------ listing


@dataclass(frozen=True)
class ReleaseInfo:
    version: Version
    tag: str
    commit: str
    date: datetime | None
    rows: dict[str, int]  # split -> rows, from the release's splits.json

    def line(self) -> str:
        date = self.date.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if self.date else "?"
        rows = ", ".join(f"{k} {v:,}" for k, v in self.rows.items()) or "?"
        return f"{self.tag:<10} {date}  {self.commit[:12]}  {sum(self.rows.values()):,} rows ({rows})"


def listed_target(target: str | os.PathLike | None = None, *, repo_id: str | None = None,
                  to: str | os.PathLike | None = None, token: str | None = None) -> Target:
    """The target to read releases from: a Hub repo (`owner/name`, `hf://datasets/owner/name`
    or `repo_id`) or a local registry (an existing path, or `to`). A missing registry, a folder
    that is not one, and a Hub repo that does not exist are errors, never "no releases"."""
    if target is not None and repo_id is None and to is None:
        text = str(target)
        if not Path(text).exists() and _REPO_ID.match(text) and not text.startswith(("./", "../")):
            repo_id, target = text, None
    t = open_target(target, repo_id=repo_id, to=to, token=token)
    if isinstance(t, GitTarget):
        if not t.path.exists():
            raise PublishError(f"no registry at {str(t.path)!r}: check the path (for a Hub repo give owner/name)")
        if not t._exists():
            raise PublishError(f"{str(t.path)!r} is not a registry (no git repository): give the folder "
                               "`corpus publish --to` wrote")
    return t


def versions(target: str | os.PathLike | None = None, *, repo_id: str | None = None,
             to: str | os.PathLike | None = None, token: str | None = None) -> list[ReleaseInfo]:
    """The releases of `target` (`owner/name`, `hf://datasets/owner/name` or a registry path;
    or `repo_id` / `to`), oldest first, with their dates and rows per split. Raises
    PublishError for a repo or registry that does not exist."""
    import json

    t = listed_target(target, repo_id=repo_id, to=to, token=token)
    if isinstance(t, HubTarget):
        t.must_exist()
    releases = t.refs().releases()
    dates = t.dates(releases)
    out = []
    for r in releases:
        try:
            counts = json.loads(t.read(r.commit, "splits.json")).get("counts", {})
        except (PublishError, ValueError):
            counts = {}
        out.append(ReleaseInfo(r.version, r.tag, r.commit, dates.get(r.tag), counts))
    return out


# ------------------------------------------------------------------------------ checkout


def checkout(target: str | os.PathLike | None = None, version: str | Version = "", *, output: str | os.PathLike,
             repo_id: str | None = None, to: str | os.PathLike | None = None, token: str | None = None) -> Path:
    """Write release `version` of `target` (as for `versions`) into the new folder `output`,
    which `load_dataset(output)` then reads: the way to load a local registry's older release
    (`datasets` ignores `revision` for a local folder). Returns the folder."""
    import tarfile

    version = Version.parse(version)
    out = Path(output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PublishError(f"{str(out)!r} exists and is not empty: give a new folder (-o)")
    t = listed_target(target, repo_id=repo_id, to=to, token=token)
    refs = t.refs()  # one request
    if version.tag not in refs.tags:
        known = ", ".join(r.tag for r in refs.releases()) or "none"
        raise PublishError(f"{t.url} has no release {version.tag} (releases: {known}): see `corpus versions`")
    if isinstance(t, HubTarget):
        from huggingface_hub import snapshot_download

        with t.guard(f"cannot download {version.tag}"):
            snapshot_download(t.repo_id, repo_type="dataset", revision=version.tag, local_dir=out, token=t._token)
        if (out / ".cache").is_dir():  # the client's own bookkeeping is not part of the release
            shutil.rmtree(out / ".cache")
        return out
    archive = t._git("archive", "--format=tar", version.tag).stdout
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(out, filter="data")
    return out
