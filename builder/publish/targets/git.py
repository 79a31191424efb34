"""A local git repository (a "registry") as a release target: releases without the Hub."""
from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

from ...errors import PublishError
from ..files import RemoteFile, StagedFile
from .base import BRANCH, Refs, Release, Target

log = logging.getLogger(__name__)


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

    def already_stored(self, listed: Iterable[RemoteFile]) -> Callable[[StagedFile], bool]:
        # A blob git has is not written again (hash-object finds it by its id).
        blobs = {f.blob_id for f in listed}
        return lambda file: file.blob_id in blobs

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
