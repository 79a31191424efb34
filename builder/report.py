"""What a build did: files found, rows, rejects and warnings by code, splits, dedup, audit."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .read.discover import EXCLUDED


@dataclass
class BuildReport:
    source: str
    output: str
    files_found: int = 0
    rows: int = 0
    rejected: Counter = field(default_factory=Counter)
    ignored: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    splits: dict[str, int] = field(default_factory=dict)
    dedup: dict = field(default_factory=dict)
    audit: dict = field(default_factory=dict)
    seconds: float = 0.0
    # Article files whose result the cache gave: known by their stat (unread) or read and found
    # the same bytes. Not in the published summary: a cached build's output equals a clean one's.
    from_cache: Counter = field(default_factory=Counter)

    @property
    def balanced(self) -> bool:
        return self.rows + sum(self.rejected.values()) + sum(self.ignored.values()) == self.files_found

    def to_dict(self) -> dict:
        return {
            "source": self.source, "output": self.output, "files_found": self.files_found, "rows": self.rows,
            "rejected": dict(sorted(self.rejected.items())), "ignored": dict(sorted(self.ignored.items())),
            "warnings": dict(sorted(self.warnings.items())), "splits": self.splits, "dedup": self.dedup,
            "accounting_ok": self.balanced, "seconds": round(self.seconds, 3),
            "from_cache": dict(sorted(self.from_cache.items())),
        }

    def summary_lines(self) -> list[str]:
        def fmt(c: Counter) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"

        cached = ([f"taken from the cache: {sum(self.from_cache.values())} files ({self.from_cache['stat']} unread,"
                   f" {self.from_cache['bytes']} read and the same)"] if self.from_cache else [])
        return [
            f"files found {self.files_found}: rows {self.rows} + rejected {sum(self.rejected.values())}"
            f" + ignored {sum(self.ignored.values())}" + ("" if self.balanced else "  (MISMATCH: please report)"),
            f"rejected: {fmt(self.rejected)}",
            f"ignored by suffix: {fmt(self.ignored - Counter({EXCLUDED: self.ignored[EXCLUDED]}))}",
            *([f"excluded by --exclude: {self.ignored[EXCLUDED]}"] if self.ignored[EXCLUDED] else []),
            f"warnings: {fmt(self.warnings)}",
            *cached,
            f"written to {self.output} in {self.seconds:.1f} s",
        ]
