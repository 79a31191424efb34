"""A dataset repository on the Hugging Face Hub as a release target, through `huggingface_hub`.

The token is never printed, logged or put in an error: the clients' errors become our own
messages (the status and the server's words, never the request, whose headers carry the
token), and the text of the error kept as their cause is scrubbed too.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator
from urllib.parse import quote

from ...errors import PublishError
from ..files import RemoteFile, StagedFile
from .base import BRANCH, Refs, Release, Target

REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class HubTarget(Target):
    """A dataset repository on the Hugging Face Hub, through `huggingface_hub`. The token comes
    from `token`, else HF_TOKEN or the saved login; it is never printed, logged or put in an error."""

    pull_requests = True

    def __init__(self, repo_id: str, *, token: str | None = None, private: bool = False):
        if not REPO_ID.match(repo_id or ""):
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

    def already_stored(self, listed: Iterable[RemoteFile]) -> Callable[[StagedFile], bool]:
        # An LFS object is stored once for the repo, whatever its path: the client's LFS batch
        # request finds it there and skips the upload. A regular file travels inside the commit.
        lfs = {f.sha256 for f in listed if f.sha256}
        return lambda file: file.sha256 in lfs

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
