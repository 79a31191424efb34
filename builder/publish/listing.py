"""A target's releases: listed with dates and rows (`corpus versions`), one written out as a folder (`corpus checkout`)."""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import PublishError
from ..release import Version
from .targets import REPO_ID, GitTarget, HubTarget, Target, open_target


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
        if not Path(text).exists() and REPO_ID.match(text) and not text.startswith(("./", "../")):
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


def checkout(target: str | os.PathLike | None = None, version: str | Version = "", *, output: str | os.PathLike,
             repo_id: str | None = None, to: str | os.PathLike | None = None, token: str | None = None) -> Path:
    """Write release `version` of `target` (as for `versions`) into the new folder `output`,
    which `load_dataset(output)` then reads: the way to load a local registry's older release
    (`datasets` ignores `revision` for a local folder). Returns the folder."""
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
