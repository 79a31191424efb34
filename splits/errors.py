"""The errors `splits` raises on purpose, under one root.

`splits` must import without the build dependencies, so it cannot share
`builder/errors.py`; `SplitError` is its root. `SpecError` is also a `ValueError`,
so callers can catch the standard type for a bad spec or bad input columns.
"""
from __future__ import annotations


class SplitError(Exception):
    """Root of every error `splits` raises on purpose."""


class SpecError(SplitError, ValueError):
    """A split spec, or the columns given to it, is invalid; the message names the value and the fix."""


class PublishedDataError(SplitError):
    """A published output folder (manifest or Parquet shards) cannot be read as expected."""
