"""The Article: one file on its way to a row, the carrier every per-file step takes and gives back.

A read builds it from a file's path and bytes (and their sha256, when the reader has them);
the steps (builder.transform.process.STEPS) fill it in: the decoded text, the front matter and body, the
cleaner's work in progress, the row's columns as they are found (`fields`) and warning codes.
The last step makes the row (`row`, the columns of schema.ROW_SCHEMA a file gives). A step
that finds the file cannot become a row sets `reject` (a reason code and a message), and no
later step sees it. Exactly one of `row` and `reject` is set once the steps have run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Reject


@dataclass(slots=True)
class Article:
    path: str                    # within the source root, as shown ('/'-separated)
    data: bytes | None = None    # the file's bytes, until decoded
    sha256: str | None = None    # of the bytes, for the build's input manifest (None: not read by a reader)
    reject: Reject | None = None
    text: str | None = None      # the decoded file; from the paragraphs on, the clean text
    encoding: str | None = None
    front_matter: dict[str, Any] = field(default_factory=dict)
    front_matter_format: str = "none"
    used: set[str] = field(default_factory=set)  # front-matter keys a column took (the rest: `extra`)
    body: str = ""               # what follows the front matter (less a heading taken as the title)
    is_html: bool = False
    rules: tuple = ()            # the rule sets that apply to this file (builder.transform.rules)
    # The cleaner's work in progress (builder.transform.clean), each dropped once the next is made.
    html: str | None = None
    marked: bytes | None = None
    lines: list[str] | None = None
    found: dict[str, Any] = field(default_factory=dict)  # what the body's boilerplate said (rules)
    paragraphs: list[str] | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # the row's columns, as they are found
    warnings: list[str] = field(default_factory=list)
    row: dict[str, Any] | None = None

    def rejected(self, reason: str, message: str) -> Article:
        """This article, rejected: `reason` is a code of errors.REJECT_REASONS."""
        self.reject = Reject(self.path, reason, message)
        return self
