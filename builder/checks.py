"""Checks a build makes before it reads a file, and the one-line reasons a build gave no rows.

Everything a user can get wrong in a call (a rules folder, a split column, a language code)
is checked here, before the first article is read and before the previous output is touched,
so a mistake costs a second and one line, not a whole read and a broken dataset.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa

from splits import SplitSpec

from .errors import ConfigError
from .transform.rules import load_rules
from .run import check_engine
from .schema import ROW_SCHEMA
from .settings import BuildSettings

# What to try when every file was rejected for this reason.
_HINTS = {
    "language": "--languages allows none of the languages found; widen it or leave it out",
    "too_short": "the texts are shorter than --min-chars; lower it",
    "title_only": "the texts only repeat their titles",
    "no_title": "the files have neither a front-matter title nor a '# ' heading",
    "empty_text": "no text is left once markup is removed: check the --rules patterns",
    "too_large": "raise --max-file-bytes",
    "timeout": "raise --max-seconds-per-file",
    "binary": "these are not text files: check SOURCE and --suffixes",
    "undecodable": "these are not text files: check SOURCE and --suffixes",
    "empty_file": "the files are empty",
    "internal_error": "this is a bug: please report it with one of the files",
}


def check_before_reading(settings: BuildSettings, spec: SplitSpec, workers: int | None = None, *,
                         engine: str = "local") -> None:
    """Raise ConfigError (RuleError for rule files) for anything that would fail later."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers must be a whole number >= 1 (or left out for one per core), got {workers!r}")
    check_engine(engine)
    load_rules.cache_clear()  # a rule file edited since this process last read it is read again
    load_rules(settings.rules_dirs)
    check_split_columns(spec, ROW_SCHEMA)


def check_split_columns(spec: SplitSpec, schema: pa.Schema) -> None:
    """The columns a split spec names are columns of `schema`, one value per row."""
    named = {"--group": spec.group, "--stratify": spec.stratify,
             "time_column": spec.time_column if spec.strategy == "time" else None}
    for flag, name in named.items():
        if name is not None:
            check_one_value_column(flag, name, schema, "a split needs one value per row, such as feed")


def check_one_value_column(flag: str, name: str, schema: pa.Schema, why: str) -> None:
    """`name` (given as `flag`) is a column of `schema` holding one value per row, not a list."""
    if name not in schema.names:
        choices = ", ".join(f.name for f in schema if not pa.types.is_list(f.type))
        raise ConfigError(f"{flag} {name!r} is not a column of the dataset; choose one of: {choices}")
    if pa.types.is_list(schema.field(name).type):
        raise ConfigError(f"{flag} {name!r} is a list column; {why}")


def no_articles_message(src: Path, suffixes: tuple[str, ...], ignored: Counter) -> str:
    n = sum(ignored.values())
    others = f"; {n} other file{'s' if n != 1 else ''} ignored ({_top(ignored)})" if ignored else ""
    return (f"no article files found under {str(src)!r} (looked for {', '.join(suffixes)}{others}): "
            "check the folder, or name your files' suffixes with --suffixes; the previous output is unchanged")


def all_rejected_message(src: Path, reasons: Counter) -> str:
    top = reasons.most_common(1)[0][0]
    hint = _HINTS.get(top, "see the table of reject reasons in the README")
    return (f"no rows: every article file under {str(src)!r} was rejected ({_top(reasons)}); {hint}. "
            "The previous output is unchanged")


def _top(counts: Counter, n: int = 3) -> str:
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n])
    return shown + (", ..." if len(counts) > n else "")
