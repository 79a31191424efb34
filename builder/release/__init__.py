"""Releases, the pure parts: semver versions and the bump rule (version.py), the diff between two
releases' Parquet (diff.py), the changelog entry that records it and the card edits a release
makes (changelog.py).

Nothing here talks to a target: builder.publish does, with these.
"""
from .changelog import (CHANGELOG_HEADING, LISTED_IDS, UNRELEASED_CHANGELOG, apply_release, card_version,
                        changelog_entries, changelog_entry, release_identity)
from .diff import KEY, ParquetSource, ReleaseDiff, SchemaChange, diff_releases, split_of
from .version import SEMVER, Version, check_version

__all__ = ["CHANGELOG_HEADING", "KEY", "LISTED_IDS", "SEMVER", "UNRELEASED_CHANGELOG", "ParquetSource", "ReleaseDiff",
           "SchemaChange", "Version", "apply_release", "card_version", "changelog_entries", "changelog_entry",
           "check_version", "diff_releases", "release_identity", "split_of"]
