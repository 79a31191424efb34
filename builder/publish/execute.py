"""Carry out a release's plan (`publish_plan`), and `publish`, which plans and carries out in one call."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from ..errors import PublishError
from ..integrity import check_intact
from .files import TARGET_OWNED
from .plan import Plan, _branch, _listing, _size, plan_release
from .targets import Target, no_pull_requests, open_target

log = logging.getLogger(__name__)


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
        raise no_pull_requests(target)
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
