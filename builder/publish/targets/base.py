"""Where releases go: the `Target` interface, which the Hub (hub.py) and a local git registry (git.py) implement.

A target has refs (main, other branches, tags), lists and reads the files of a commit, makes
one commit only if its branch is still at the expected parent, and tags a commit.
"""
from __future__ import annotations

import io
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Callable, Iterable, Iterator

from ...errors import ConfigError
from ...release import Version
from ..files import RemoteFile, StagedFile

BRANCH = "main"


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

    def already_stored(self, listed: Iterable[RemoteFile]) -> Callable[[StagedFile], bool]:
        """A test of whether committing a file sends none of its bytes, because the target holds
        its content already (listed in `listed`, at any path): what a plan counts as not uploaded."""
        return lambda file: False

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
        raise no_pull_requests(self)

    @abstractmethod
    def tag(self, tag: str, *, revision: str, tag_message: str) -> None:
        """Tag `revision`; nothing to do when the tag already names it; PublishError when it names another."""


def no_pull_requests(target: Target) -> ConfigError:
    return ConfigError(f"{target.url} is a local git registry, which has no pull requests: drop --create-pr "
                       "(--revision BRANCH puts the release on a branch instead)")

