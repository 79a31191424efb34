"""Every error and every reason code of the project, in one place.

Two kinds of trouble, kept apart:
- A bad *input file* is not an exception the user sees: it becomes a `Reject` with a
  stable reason code (REJECT_REASONS) or a warning code on its row (WARNINGS), and the
  build goes on.
- A bad *call* (no such folder, unwritable output, a bad setting) raises a subclass of
  `CorpusError`, whose message names the value and the fix; the CLI prints it on one line.
"""
from __future__ import annotations

from dataclasses import dataclass


class CorpusError(Exception):
    """Root of every error this project raises on purpose. `exit_code` is what the CLI exits
    with: 2 for a call it refused before changing anything, 1 for a build that ran and failed."""

    exit_code = 2


class ConfigError(CorpusError):
    """A setting or argument is invalid."""


class SourceError(CorpusError):
    """The source folder cannot be read."""


class OutputError(CorpusError):
    """The output folder cannot be written, or may not be replaced: it holds files this tool
    did not write."""


class BusyError(OutputError):
    """Another build (or split) is writing the same output folder now."""


class NoRowsError(CorpusError):
    """The build gave no rows: no article files, or every one rejected. The previous output
    is left as it was."""

    exit_code = 1


class StorageError(CorpusError):
    """The machine refused the build a write or a read it needed (a full disk, a read-only or
    vanished folder, a permission error). The previous output is left as it was."""

    exit_code = 1


class CacheError(CorpusError):
    """The build cache gave fewer rows than its index promised (its files were changed or
    damaged): it is deleted, and the build stops rather than lose rows."""


class CacheFolderError(CorpusError):
    """The build cache folder cannot be used: it is a file, or it cannot be created, read or
    written. The message names the folder and the fix (another folder, or no cache)."""


class IntegrityError(CorpusError):
    """A dataset folder's shards differ from what it lists (croissant.json's sha256, splits.json's
    counts): one is damaged, missing or extra. It is refused, not split or published; the message
    names the file and the fix (rebuild the dataset or download it again)."""


class WorkerError(CorpusError):
    """The same files stopped a reading worker process twice (a crash in a parser, or memory
    running out): the build stops, naming them, rather than loop."""


class RuleError(ConfigError):
    """A boilerplate rule file is invalid."""


class CardError(CorpusError):
    """The dataset card cannot be rendered or would be invalid: an unreadable template, an
    unknown placeholder or metadata key, or `configs` that do not match the files written."""


class PublishError(CorpusError):
    """A release cannot be published: the target is unreachable or refused the commit (e.g.
    its main branch moved meanwhile). Messages never carry the token."""


class VersionError(PublishError):
    """The release's version is refused: not semver, not greater than the latest release, an
    existing version with other content, or too small a bump for a breaking change."""


# Stable reject reason codes: published in rejects.jsonl and the card, so never renamed.
REJECT_REASONS: dict[str, str] = {
    "outside_root": "a symbolic link that leads outside the source root (not followed)",
    "unreadable": "the file could not be read (permissions, a broken link, an I/O error)",
    "empty_file": "the file is empty or holds only whitespace",
    "binary": "the file is binary (NUL bytes or a known binary signature), not text",
    "undecodable": "no supported encoding decodes the file",
    "too_large": "the file is larger than the max_file_bytes limit",
    "frontmatter_too_large": "the front matter is larger than the max_frontmatter_bytes limit",
    "html_too_deep": "the HTML nests elements deeper than the max_html_depth limit (or so deep the parser would stop)",
    "too_many_elements": "the HTML (or the Markdown rendered to it) has more elements than the max_html_elements limit",
    "no_title": "neither the front matter nor a '# ' heading gives a title, and the text is too short to take one from",
    "empty_text": "no text is left once markup and boilerplate are removed",
    "error_page": "the file is a saved HTTP error page or a request-failure message",
    "template": "the file is an unfilled template ({TITLE}, 替换为中文标题, ...)",
    "duplicate_id": "another file (earlier in path order) has the same id",
    "duplicate": "the same text (after normalisation) as a kept row: see duplicate_of",
    "near_duplicate": "nearly the same text as a kept row (MinHash similarity over the threshold): see duplicate_of",
    "contained": "a shorter text (a brief) whose shingles sit inside a longer kept article of the same story (containment over the threshold): see duplicate_of",
    "too_short": "the clean text is shorter than min_chars",
    "title_only": "the text only repeats the title",
    "language": "the text's language is not in the allowed languages",
    "timeout": "reading the file took longer than the per-file time limit",
    "internal_error": "an unexpected error while reading the file (a bug: please report it)",
}

# Warning codes: the row is kept, the warning is recorded on it and counted in the summary.
WARNINGS: dict[str, str] = {
    "frontmatter_lenient": "the front matter is not valid YAML/TOML/JSON; it was read line by line",
    "frontmatter_alias_limit": "the YAML front matter expands aliases past the limit; it was read line by line",
    "frontmatter_unterminated": "the front matter has no closing delimiter",
    "no_frontmatter": "the file has no front matter; the title comes from its first heading",
    "date_missing": "no date in the front matter",
    "date_unparseable": "the date could not be parsed; the date column is null",
    "encoding_fallback": "the encoding was guessed with low confidence; some characters were replaced",
    "title_from_text": "neither the front matter nor a '# ' heading gives a title; it is the text's first sentence",
    "html_truncated": "the HTML nests deeper than 200 elements; the elements below were flattened (their text kept)",
}


@dataclass(frozen=True)
class Reject:
    """A file that cannot become a row: where it is, why (a code) and what to tell a person."""

    path: str
    reason: str
    message: str
    duplicate_of: str | None = None  # the kept row's id, for duplicate / near_duplicate / contained

    def __post_init__(self) -> None:
        if self.reason not in REJECT_REASONS:
            raise ValueError(f"unknown reject reason {self.reason!r}")

    def to_dict(self) -> dict:
        d = {"path": self.path, "reason": self.reason, "message": self.message}
        if self.duplicate_of is not None:
            d["duplicate_of"] = self.duplicate_of
        return d
