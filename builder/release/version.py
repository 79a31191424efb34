"""Release versions: semver (the one definition of a version the project accepts) and the bump rule.

The bump rule, an invariant users rely on when they pin `revision="v1.2.0"` and upgrade
within a major version: a release that moves an existing row to another split, or removes or
retypes a column, is a major version. Adding, removing or changing rows, or adding columns,
may be any bump.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import VersionError

if TYPE_CHECKING:
    from .diff import ReleaseDiff

# MAJOR.MINOR.PATCH, an optional leading "v"; no pre-release or build suffix (a release is
# tagged v<version> on main, and `revision=` pins it): "1.2.0-rc1" is not a version.
SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


@dataclass(frozen=True, order=True)
class Version:
    """A release version: MAJOR.MINOR.PATCH, tagged `vMAJOR.MINOR.PATCH`."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str | Version) -> Version:
        if isinstance(text, Version):
            return text
        m = SEMVER.match(str(text).strip())
        if not m:
            raise VersionError(f"version {str(text)!r} is not MAJOR.MINOR.PATCH (e.g. 1.2.0)")
        return cls(*(int(g) for g in m.groups()))

    @classmethod
    def from_tag(cls, tag: str) -> Version | None:
        """The version a tag names (`v1.2.0`), or None for a tag that is not a release."""
        if not tag.startswith("v"):
            return None
        try:
            return cls.parse(tag)
        except VersionError:
            return None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def tag(self) -> str:
        return f"v{self}"

    def bump_from(self, previous: Version) -> str:
        """"major", "minor" or "patch": what kind of step this is from `previous` (which it must exceed)."""
        if self <= previous:
            raise VersionError(f"{self} is not greater than {previous}")
        if self.major != previous.major:
            return "major"
        return "minor" if self.minor != previous.minor else "patch"

    def next(self, kind: str) -> Version:
        if kind == "major":
            return Version(self.major + 1, 0, 0)
        if kind == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)


def check_version(version: Version, *, latest: Version | None, diff: ReleaseDiff | None) -> None:
    """Refuse a new release `version` that does not go up from `latest` or that breaks users
    without a major bump (see the module docstring). `latest` None: the first release."""
    if latest is None:
        return
    if version <= latest:
        raise VersionError(
            f"version {version} is not greater than the latest release {latest.tag}: versions only go up; "
            f"publish {latest.next('patch')}, {latest.next('minor')} or {latest.next('major')}")
    kind = version.bump_from(latest)
    if diff is not None and diff.breaking and kind != "major":
        raise VersionError(
            f"{version} is a {kind} release, but compared with {latest.tag} it "
            + "; ".join(diff.breaking_reasons())
            + f": that breaks users of {latest.tag} and needs a major version: publish {latest.next('major')}")
