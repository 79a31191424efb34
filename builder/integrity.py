"""Refuse a damaged dataset folder before its rows are passed on: `corpus split` and
`corpus publish` check it first, with the check `corpus verify` makes (`splits.find_damage`)."""
from __future__ import annotations

import os

from splits import find_damage

from .errors import IntegrityError


def check_intact(folder: str | os.PathLike, *, shown: str | None = None) -> None:
    """Raise IntegrityError naming the first shard of `folder` that is missing, unlisted, not
    readable Parquet, not the bytes croissant.json lists, or of a split whose rows differ from
    splits.json's count. `shown` is how the folder is named in the message (default: its path)."""
    problem = find_damage(folder, shown=shown)
    if problem is not None:
        raise IntegrityError(problem)
