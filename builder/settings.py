"""Build settings: one frozen, picklable value every stage reads, and that a worker process
(or a Ray task) receives whole. Changing a setting that shapes rows changes `fingerprint`."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from .transform.dates import resolve_zone
from .dedup import DedupSettings
from .transform.quality import QualitySettings
from .errors import ConfigError

DEFAULT_SUFFIXES = (".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class BuildSettings:
    suffixes: tuple[str, ...] = DEFAULT_SUFFIXES
    naive_timezone: str = "UTC"          # zone for dates written without one
    rules_dirs: tuple[str, ...] = ()     # extra rule folders, after the built-in ones
    exclude: tuple[str, ...] = ()        # globs of paths (or names) within the source never read: SOURCES.md
    max_file_bytes: int = 32 * 2**20     # larger files are rejected unread
    max_frontmatter_bytes: int = 256 * 2**10
    max_alias_nodes: int = 10_000        # YAML alias expansion budget (billion-laughs guard)
    max_html_depth: int = 100_000        # deeper nesting is rejected (html_too_deep); past 200 it is flattened
    max_html_elements: int = 1_000_000   # more elements are rejected (too_many_elements): ~0.5 GB to parse
    max_seconds_per_file: float = 30.0   # longer is rejected (timeout); enforced by the build, not process_file
    min_chars_for_text_title: int = 200  # an untitled file with this much text takes its first sentence as title
    quality: QualitySettings = field(default_factory=QualitySettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "suffixes", tuple(s.lower() if s.startswith(".") else "." + s.lower()
                                                   for s in self.suffixes))
        if not self.suffixes:
            raise ConfigError("suffixes is empty: give at least one article suffix such as '.md'")
        if isinstance(self.exclude, str):  # exclude="*.md" would otherwise exclude by each character
            raise ConfigError(f"exclude must be a list of globs such as ['SOURCES.md'], got {self.exclude!r}")
        object.__setattr__(self, "exclude", tuple(self.exclude))
        if not all(isinstance(g, str) and g.strip() for g in self.exclude):
            raise ConfigError(f"exclude {list(self.exclude)!r} holds an empty glob: give globs such as 'SOURCES.md'")
        if any(len(s) < 2 for s in self.suffixes):
            raise ConfigError(f"suffixes {','.join(self.suffixes)!r} has an empty suffix: "
                              "write them as '.md,.html'")
        try:
            resolve_zone(self.naive_timezone)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        for name in ("max_file_bytes", "max_frontmatter_bytes", "max_alias_nodes", "max_html_depth",
                     "max_html_elements", "max_seconds_per_file", "min_chars_for_text_title"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        # Their own to_dict records derived values too (LSH bands and rows, the keep policy).
        d["quality"], d["dedup"] = self.quality.to_dict(), self.dedup.to_dict()
        return d

    @property
    def fingerprint(self) -> str:
        """Hash of everything that shapes a row (for caches and provenance)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
