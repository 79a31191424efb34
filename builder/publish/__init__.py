"""Publish a built dataset folder as a release: one atomic commit and one semver tag, on the
Hugging Face Hub (`HubTarget`) or in a local git repository (`GitTarget`).

`plan_release` compares the folder with the target's head and releases and decides what to
do; `publish_plan` does it: one commit whose parent is the head the plan compared against (if
the branch moved meanwhile the commit is refused: never an overwrite), then the tag. A tag is
never moved. Every step can be re-run: a run cut off after its commit landed finds the head
already holding the release and only tags it; re-publishing a version with the same content
does nothing. "The same content" means the same files, byte for byte, except what a release
itself writes into the card (its `version:` and its changelog, which carries a date).

files.py      the release's files (staged from the folder) and a target's (listed)
plan.py       the plan: what a release will do and send
execute.py    carrying a plan out; `publish` plans and carries out in one call
listing.py    a target's releases: `versions`, `checkout`
targets/      the Target interface (base.py), the Hub (hub.py), a local git registry (git.py)
"""
from .execute import PublishResult, publish, publish_plan
from .files import CARD, CROISSANT, TARGET_OWNED, RemoteFile, StagedFile, stage_folder
from .listing import ReleaseInfo, checkout, listed_target, versions
from .plan import FileChange, Plan, check_branch, plan_release
from .targets import BRANCH, GitTarget, HubTarget, Refs, Release, Target, open_target

__all__ = ["BRANCH", "CARD", "CROISSANT", "TARGET_OWNED", "FileChange", "GitTarget", "HubTarget", "Plan",
           "PublishResult", "Refs", "Release", "ReleaseInfo", "RemoteFile", "StagedFile", "Target", "check_branch",
           "checkout", "listed_target", "open_target", "plan_release", "publish", "publish_plan", "stage_folder",
           "versions"]
