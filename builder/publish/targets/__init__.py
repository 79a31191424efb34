"""Release targets: the interface (base.py), the Hub (hub.py), a local git registry (git.py); `open_target` names one."""
from __future__ import annotations

import os
import re

from ...errors import PublishError
from .base import BRANCH, Refs, Release, Target, no_pull_requests
from .git import GitTarget
from .hub import REPO_ID, HubTarget

_HF_URL = re.compile(r"^hf://datasets/(?P<repo>[^/@]+/[^/@]+)/?$")


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


__all__ = ["BRANCH", "REPO_ID", "GitTarget", "HubTarget", "Refs", "Release", "Target", "no_pull_requests", "open_target"]
