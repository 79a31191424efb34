"""The plan of a release: compare the built folder with the target's head and releases, and decide what to do.

`plan_release` only reads the target. A plan says the action (one commit then the tag, only
the tag, or nothing), the parent the commit must have, and the files to add, change and
delete (the rest are unchanged and not sent): what `corpus publish --dry-run` prints, and
what execute.publish_plan carries out.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa

from .. import __version__
from ..card import render_release
from ..card.croissant import croissant_identity
from ..errors import ConfigError, PublishError, VersionError
from ..release import (ReleaseDiff, Version, apply_release, card_version, changelog_entry, check_version,
                       diff_releases, release_identity, split_of)
from .files import CARD, CROISSANT, TARGET_OWNED, RemoteFile, StagedFile, stage_folder
from .targets import BRANCH, Release, Target

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


@dataclass
class FileChange:
    path: str
    size: int
    old_size: int | None = None
    stored: bool = False  # the target holds this content already (e.g. at another path): nothing is sent


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
        """The bytes of the files the commit sends: added and changed ones, but those the target
        stores already (see Target.already_stored). Over the Hub's Xet transfer the client may send
        fewer: only the chunks the Hub does not have."""
        return sum(f.size for f in self.add + self.change if not f.stored)

    @property
    def unchanged_bytes(self) -> int:
        unchanged = set(self.unchanged)
        return sum(f.size for f in self.staged if f.path in unchanged)

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
                stored = " (stored already: not uploaded)" if f.stored else ""
                out.append(f"  {kind:<7} {f.path:<{width}}  {_size(f.size)}{was}{stored}")
        sent = [f for f in self.add + self.change if not f.stored]
        exact = f" ({self.upload_bytes:,} bytes)" if self.upload_bytes >= 1000 else ""
        out.append(f"  {len(self.add)} added, {len(self.change)} changed, {len(self.delete)} deleted, "
                   f"{len(self.unchanged)} unchanged ({_size(self.unchanged_bytes)}, not uploaded)")
        out.append(f"  to upload: {_size(self.upload_bytes)}{exact} in {len(sent)} file{'s' * (len(sent) != 1)}")
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
                              base_url=target.download_base(branch if on_branch else version.tag),
                              revision=branch if on_branch else None)
    compared = card  # what the releases' cards are compared with: the main line's rendering
    if rendered is not None:
        card, croissant = rendered
        # The releases are tagged on main, and their cards name their tags: a branch's card,
        # which names the branch, is compared as the main line would render it.
        compared = render_release(dataset, version=str(version), repo_id=target.repo_id)[0] if on_branch else card
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
    stored = target.already_stored([*head_files.values(), *latest_files.values()])
    for f in staged:
        remote = head_files.get(f.path)
        if remote is None:
            plan.add.append(FileChange(f.path, f.size, stored=stored(f)))
        elif not remote.same_as(f):
            plan.change.append(FileChange(f.path, f.size, remote.size, stored=stored(f)))
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

