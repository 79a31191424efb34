"""The dataset card: dataset_card.md (the owner's template) rendered with what the build knows.

The owner's YAML keys survive; the build adds `configs` (so `load_dataset` finds the splits),
`dataset_info` (features and per-split sizes) and `size_categories`, and fills the body's
placeholders (`{{name}}`) from the Parquet files actually written, so the card is always
true. Every figure is computed column-wise (pyarrow.compute) from the shards under data/,
except what only the build knows (rejected and ignored files, duplicate detection, the
split manifest). The card is checked before it is returned: `huggingface_hub` parses it,
its metadata keys are ones the Hub knows, and its `configs` match the files on disk.

`write_card` writes README.md, croissant.json and the plots (assets/*.png) together.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from json.encoder import encode_basestring as _json_str  # json.dumps's own string encoder (C)
from typing import Iterable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from . import plots as plotting
from .croissant import croissant_metadata, data_files
from .errors import REJECT_REASONS, WARNINGS, CardError, ConfigError
from .schema import COLUMNS, DESCRIPTIONS, hf_features_yaml
from .subsets import DEFAULT_CONFIG, subsets_of
from .write import TEXT_BYTES_KEY

DEFAULT_TEMPLATE = Path(__file__).with_name("dataset_card.md")
CROISSANT = "croissant.json"
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_VERSION = re.compile(r"^v?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)$")

# Metadata keys the Hub knows for a dataset card: the fields of huggingface_hub's
# DatasetCardData, and the keys of the Hub's dataset card spec (hub-docs datasetcard.md,
# datasets-gated, datasets-viewer-configure). Anything else is ignored by the Hub, so it is
# refused here: usually a typo (licence:, tag:) that would silently do nothing.
HUB_METADATA_KEYS = frozenset({
    # huggingface_hub.DatasetCardData
    "language", "license", "annotations_creators", "language_creators", "multilinguality",
    "size_categories", "source_datasets", "task_categories", "task_ids", "paperswithcode_id",
    "pretty_name", "train-eval-index", "config_names",
    # the Hub's dataset card spec
    "license_name", "license_link", "license_details", "language_details", "tags", "configs",
    "dataset_info", "viewer",
    "extra_gated_prompt", "extra_gated_fields", "extra_gated_heading", "extra_gated_description",
    "extra_gated_button_content",
})
# The build's own keys: always computed from the data, whatever the template says.
BUILD_KEYS = ("configs", "dataset_info", "size_categories")
# The release's version (MAJOR.MINOR.PATCH): written by the publish step, or by
# render_card(version=...). Not a Hub key, but the Hub keeps any key as card data.
VERSION_KEY = "version"
# Template keys that are not Hub metadata: they fill the body (and croissant.json).
TEMPLATE_KEYS = ("source_description", "citation")
PLACEHOLDERS = ("pretty_name", "version", "source_description", "summary", "how_to_load", "schema",
                "statistics", "splits", "provenance", "changelog", "citation")
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
                   (10_000_000_000, "1B<n<10B"), (100_000_000_000, "10B<n<100B"),
                   (1_000_000_000_000, "100B<n<1T"))
PERCENTILES = (5, 25, 50, 75, 95)
TOP = 10  # feeds and categories listed (the rest summed as "other")
NO_CHANGELOG = "No releases yet."
# The card's `language:` lists the ISO 639-1 codes the `language` column holds ("other" is no code).
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English", "ja": "Japanese", "ko": "Korean"}
# A placeholder's value is written between two HTML comments (invisible on the Hub), so that a
# card can be read back as its own template (`template_from_card`): `corpus split` and a
# release re-render a dataset's card from the card itself, keeping what its owner wrote there.
_MARKED = re.compile(r"<!-- corpus:(\w+) -->\n?(.*?)\n?<!-- /corpus:\1 -->", re.S)
_STAT_COLUMNS = ["id", "date", "language", "n_chars", "feed", "categories", "warnings", "dup_cluster"]


def input_manifest_hash(pairs: Iterable[tuple[str, str]]) -> str:
    """sha256 of a build's inputs: over the sorted (source_path, file sha256) pairs, one JSON
    array per line (`["a/b.md", "<hex>"]\\n`, UTF-8), so any added, removed, renamed or edited
    input file changes it, and file-system order does not."""
    hasher = InputManifest()
    for path, digest in sorted(pairs):
        hasher.add(path, digest)
    return hasher.hexdigest()


class InputManifest:
    """input_manifest_hash, fed one pair at a time in path order (as a build reads its files),
    so a build of a million files need not hold the pairs."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self._last: str | None = None

    def add(self, path: str, digest: str) -> None:
        self.add_many(((path, digest),))

    def add_many(self, pairs: Iterable[tuple[str, str]]) -> None:
        """The pairs, in path order after those added before, hashed in one update."""
        last, lines = self._last, []
        for path, digest in pairs:
            if last is not None and path <= last:
                raise ValueError(f"input manifest paths must come sorted: {path!r} after {last!r}")
            last = path
            # json.dumps([path, digest], ensure_ascii=False), three times faster (its own encoder).
            lines.append(f"[{_json_str(path)}, {_json_str(digest)}]\n")
        self._last = last
        self._h.update("".join(lines).encode("utf-8"))

    def hexdigest(self) -> str:
        return self._h.hexdigest()


# --- statistics, from the Parquet files -------------------------------------------------------

@dataclass(frozen=True)
class SplitStats:
    name: str
    files: tuple[Path, ...]
    rows: int
    file_bytes: int   # on disk (what is downloaded)
    arrow_bytes: int  # in memory once loaded: what `datasets` reports as num_bytes


@dataclass(frozen=True)
class CardStats:
    """Every figure the card shows that comes from the data, computed from the shards."""

    splits: tuple[SplitStats, ...]  # the split spec's order; splits without rows have no shard
    rows: int
    date_min: datetime | None
    date_max: datetime | None
    undated: int
    months: tuple[tuple[str, int], ...]          # every month first..last, zeros included
    languages: tuple[tuple[str, int], ...]       # most rows first
    n_chars: dict                                # min, p5..p95 (nearest-below rank), max, mean, total
    length_bins: tuple[float, ...]
    length_counts: tuple[int, ...]
    feeds: tuple[tuple[str | None, dict], ...]   # top feeds: (feed, rows per split), most rows first
    other_feeds: dict                            # rows per split of the feeds past the top
    n_feeds: int                                 # distinct feeds (a missing feed counts as one)
    categories: tuple[tuple[str, int], ...]
    n_categories: int
    warnings: tuple[tuple[str, int], ...]        # warning codes on the rows kept
    flagged_copies: int                          # rows kept although not their cluster's kept row


def card_stats(folder: str | Path, split_names: Iterable[str], under: str = "data") -> CardStats:
    """Read the shards under folder/data back one row group at a time (the text is only
    measured) and fold each group into running counts: memory holds one row group and the
    lengths (4 bytes a row, for their percentiles), whatever the number of rows. `under` is
    the shards' folder within `folder` (a glob: `data/*` for every subset, `data/zh` for one)."""
    folder = Path(folder)
    splits = []
    feeds_by_split: dict[str, Counter] = {}
    languages, categories, warnings, per_month = Counter(), Counter(), Counter(), Counter()
    lengths: list[np.ndarray] = []
    date_min = date_max = None
    undated = flagged = 0
    for name in split_names:
        paths = tuple(sorted(folder.glob(f"{under}/{name}-*.parquet")))
        if not paths:
            continue
        rows = arrow_bytes = 0
        feeds = feeds_by_split[name] = Counter()
        for path in paths:
            pf = pq.ParquetFile(path)
            columns, texts = _columns_to_read(pf)
            for i in range(pf.num_row_groups):
                # One thread: a reader thread per column kept freed buffers resident (allocator
                # arenas), ~150 MB after 100,000 rows.
                group = pf.read_row_group(i, columns=columns, use_threads=False)
                rows += group.num_rows
                arrow_bytes += group.nbytes
                group = group.select(_STAT_COLUMNS)  # the text's buffers go here
                _count(feeds, group.column("feed"))
                _count(languages, group.column("language"))
                _count(categories, pc.list_flatten(group.column("categories")))
                _count(warnings, pc.list_flatten(group.column("warnings")))
                lengths.append(group.column("n_chars").to_numpy())
                flagged += pc.sum(pc.not_equal(group.column("dup_cluster"), group.column("id"))).as_py() or 0
                dates = group.column("date")
                undated += dates.null_count
                if dates.null_count < len(dates):
                    lo, hi = (v.as_py() for v in pc.min_max(dates).values())
                    date_min = lo if date_min is None else min(date_min, lo)
                    date_max = hi if date_max is None else max(date_max, hi)
                    naive = dates.cast(pa.timestamp("us"))  # values are UTC: drop the zone, no tz database needed
                    key = pc.add(pc.multiply(pc.year(naive), 12), pc.subtract(pc.month(naive), 1))
                    _count(per_month, key)
            if texts is not None:  # the text column as Arrow counts it: 4 bytes of offset a row, and its bytes
                arrow_bytes += 4 * pf.metadata.num_rows + texts
        splits.append(SplitStats(name, paths, rows, sum(p.stat().st_size for p in paths), arrow_bytes))
    n = sum(s.rows for s in splits)

    months: tuple = ()
    per_month.pop(None, None)  # null: no date
    if per_month:
        first, last = min(per_month), max(per_month)
        months = tuple((f"{k // 12:04d}-{k % 12 + 1:02d}", per_month.get(k, 0)) for k in range(first, last + 1))

    n_chars: dict = {}
    bins: tuple = ()
    hist: tuple = ()
    if n:
        values = np.sort(np.concatenate(lengths).astype(np.int64))
        lo, hi = int(values[0]), int(values[-1])
        # Nearest rank below, as Arrow's quantile(interpolation="lower"): index floor(q * (n - 1)).
        qs = [int(values[math.floor((p / 100) * (n - 1))]) for p in PERCENTILES]
        total = int(values.sum())
        n_chars = {"min": lo, **{f"p{p}": v for p, v in zip(PERCENTILES, qs)}, "max": hi,
                   "mean": total / n, "total": total}
        # 40 log-spaced bins on whole numbers (lengths span 20 to 100,000+ characters).
        start = max(lo, 1)
        edges = np.unique(np.round(np.geomspace(start, hi + 1, 41))) if hi + 1 > start else np.array([lo, lo + 1])
        hist_counts, edges = np.histogram(values, bins=edges)
        bins, hist = tuple(float(e) for e in edges), tuple(int(c) for c in hist_counts)

    per_split = {name: dict(_ranked(c)) for name, c in feeds_by_split.items()}
    totals: dict = {}
    for split_counts in per_split.values():
        for feed, c in split_counts.items():
            totals[feed] = totals.get(feed, 0) + c
    ranked = sorted(totals, key=lambda f: (-totals[f], f is None, f or ""))
    feeds = tuple((f, {s: per_split[s].get(f, 0) for s in per_split}) for f in ranked[:TOP])
    other = {s: sum(per_split[s].get(f, 0) for f in ranked[TOP:]) for s in per_split}
    category_counts = _ranked(categories)
    return CardStats(
        splits=tuple(splits), rows=n, date_min=date_min, date_max=date_max, undated=undated, months=months,
        languages=tuple(_ranked(languages)), n_chars=n_chars, length_bins=bins, length_counts=hist,
        feeds=feeds, other_feeds=other, n_feeds=len(totals), categories=tuple(category_counts[:TOP]),
        n_categories=len(category_counts), warnings=tuple(sorted(_ranked(warnings))), flagged_copies=flagged)


@dataclass(frozen=True)
class SubsetStats:
    """One subset of a `--subset-by` build: its folder and config name, its value, its figures."""

    name: str
    value: str | None
    stats: CardStats


@dataclass(frozen=True)
class Subsets:
    column: str
    subsets: tuple[SubsetStats, ...]


_SUBSET_NAME = re.compile(r"^[a-z0-9_~-]+$")  # what subsets.subset_name writes


def _subset_list(summary: dict) -> tuple[str, list[dict]] | None:
    """The subsets build_summary.json records, their names checked (a name is a folder)."""
    found = subsets_of(summary)
    if found is None:
        return None
    for entry in found[1]:
        if not isinstance(entry["name"], str) or not _SUBSET_NAME.match(entry["name"]) \
                or entry["name"] == DEFAULT_CONFIG:
            raise CardError(f"build_summary.json names a subset {entry['name']!r}, which is not a subset name: "
                            "rebuild the dataset")
    return found


def _stats(folder: Path, summary: dict, manifest: dict) -> CardStats:
    """The figures of every row: the shards under data/, or under data/*/ for a subset build."""
    return card_stats(folder, _split_names(manifest), "data/*" if _subset_list(summary) else "data")


def _subset_stats(folder: Path, summary: dict, manifest: dict) -> Subsets | None:
    found = _subset_list(summary)
    if found is None:
        return None
    column, entries = found
    return Subsets(column, tuple(SubsetStats(e["name"], e.get("value"),
                                             card_stats(folder, _split_names(manifest), f"data/{e['name']}"))
                                 for e in entries))


def _columns_to_read(pf: pq.ParquetFile) -> tuple[list[str] | None, int | None]:
    """The columns card_stats reads from a shard (None: all), and the UTF-8 bytes of its texts
    when the shard's footer gives them (TEXT_BYTES_KEY, written by our ShardWriter): the
    texts, most of the bytes, are then not read."""
    value = (pf.metadata.metadata or {}).get(TEXT_BYTES_KEY.encode())
    schema = pf.schema_arrow
    if value is None or "text" not in schema.names or schema.field("text").type != pa.string() \
            or schema.field("text").nullable:
        return None, None
    return [name for name in schema.names if name != "text"], int(value)


def _count(counter: Counter, array) -> None:
    """Add an Arrow array's value counts (nulls included) to `counter`."""
    if len(array) == 0:
        return
    vc = pc.value_counts(array)
    for value, count in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
        counter[value] += count


def _ranked(counter: Counter) -> list[tuple[object, int]]:
    """(value, count) pairs, most frequent first, then by value (nulls last): a stable order."""
    return sorted(((v, c) for v, c in counter.items() if c), key=lambda p: (-p[1], p[0] is None,
                                                                            p[0] if p[0] is not None else ""))



# --- rendering ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    """The card template: the owner's YAML metadata and the Markdown body with placeholders."""

    path: Path
    metadata: dict
    body: str
    changelog: str = ""  # the entries of a released card read back as a template (template_from_card)


_HUB_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
_LICENSES = "https://huggingface.co/docs/hub/repositories-licenses"


@dataclass(frozen=True)
class CardOptions:
    """What the card says that the data cannot tell, over the template's own YAML: the owner's
    title, license and tags (`corpus build --pretty-name/--license/--license-name/--tag`, or the
    `[card]` table of a `--card-settings` TOML file). None keeps the template's value."""

    pretty_name: str | None = None
    license: str | None = None        # a Hub license id: cc-by-4.0, mit, other, unknown, ...
    license_name: str | None = None   # the id of an `other` license (implies license: other)
    license_link: str | None = None   # where that license is written
    tags: tuple[str, ...] | None = None
    source_description: str | None = None
    citation: str | None = None

    def __post_init__(self) -> None:
        if self.tags is not None:
            tags = tuple(dict.fromkeys(str(t).strip() for t in self.tags))
            bad = [t for t in tags if not t or "\n" in t]
            if bad:
                raise ConfigError(f"tag {bad[0]!r} is empty or spans lines: give a word such as 'news'")
            object.__setattr__(self, "tags", tags)
        if self.pretty_name is not None and (not self.pretty_name.strip() or "\n" in self.pretty_name):
            raise ConfigError(f"pretty_name {self.pretty_name!r} must be one non-empty line: e.g. 'Anime news'")
        for key in ("license", "license_name"):
            value = getattr(self, key)
            if value is not None and not _HUB_ID.match(value):
                raise ConfigError(f"{key} {value!r} is not a Hub license id (lowercase, no spaces, e.g. cc-by-4.0, "
                                  f"mit, other): see {_LICENSES}")
        if self.license_name is not None:
            if self.license not in (None, "other"):
                raise ConfigError(f"license_name {self.license_name!r} names an `other` license, but license is "
                                  f"{self.license!r}: drop --license-name, or use --license other")
            object.__setattr__(self, "license", "other")
        elif self.license == "other":
            raise ConfigError("license 'other' needs its name: add --license-name ID (e.g. my-license-1.0), "
                              "or give a Hub license id such as cc-by-4.0")

    @classmethod
    def from_toml(cls, path: str | Path) -> CardOptions:
        """The `[card]` table of a TOML settings file (keys: the fields of this class)."""
        try:
            with open(path, "rb") as fh:
                table = tomllib.load(fh).get("card", {})
        except OSError as exc:
            raise ConfigError(f"cannot read the card settings {str(path)!r}: {exc.strerror or exc}; "
                              "give a TOML file with a [card] table") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"card settings {str(path)!r} are not valid TOML: {exc}") from None
        known = [f.name for f in fields(cls)]
        if not isinstance(table, dict) or set(table) - set(known):
            unknown = sorted(set(table) - set(known)) if isinstance(table, dict) else table
            raise ConfigError(f"card settings {str(path)!r}: [card] has unknown key(s) {unknown}; "
                              f"the keys are {', '.join(known)}")
        for key, value in table.items():
            if key == "tags" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ConfigError(f"card settings {str(path)!r}: tags = {value!r} must be a list of strings")
            if key != "tags" and not isinstance(value, str):
                raise ConfigError(f"card settings {str(path)!r}: {key} = {value!r} must be a string")
        return cls(**{k: (tuple(v) if k == "tags" else v) for k, v in table.items()})

    def updated(self, **changes) -> CardOptions:
        """These options with the given values (None: keep this one's), e.g. flags over a file."""
        given = {k: v for k, v in changes.items() if v is not None}
        if "license" in given and "license_name" not in given and given["license"] != "other":
            given["license_name"] = None  # a new license drops the old one's name
        return replace(self, **given)

    def apply(self, metadata: dict) -> dict:
        """The template's metadata with these options over it."""
        out = dict(metadata)
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = list(value) if f.name == "tags" else value
        if self.license is not None and self.license != "other":
            out.pop("license_name", None)
            out.pop("license_link", None) if self.license_link is None else None
        return out


def read_template(template: str | Path | None = None, options: CardOptions | None = None) -> Template:
    """Read and check the card template (default: the bundled dataset_card.md): YAML front
    matter with keys the Hub knows (or TEMPLATE_KEYS), and only known placeholders. Cheap:
    call it before a long build to fail early. Raises CardError."""
    path = Path(template) if template is not None else DEFAULT_TEMPLATE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(f"cannot read the card template {str(path)!r}: {getattr(exc, 'strerror', None) or exc}; "
                        "pass a UTF-8 Markdown file with YAML front matter (--card-template)") from None
    match = re.match(r"\A\ufeff?---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", text, re.S)
    if not match:
        raise CardError(f"card template {str(path)!r} does not start with a YAML block between '---' lines")
    try:
        metadata = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError as exc:
        raise CardError(f"the YAML block of card template {str(path)!r} is invalid: {exc}") from None
    if not isinstance(metadata, dict):
        raise CardError(f"the YAML block of card template {str(path)!r} must be a mapping of keys to values")
    if VERSION_KEY in metadata:
        raise CardError(f"card template {str(path)!r} sets `version`; remove it: a release sets the version "
                        "(corpus publish --version)")
    unknown_keys = sorted(set(metadata) - HUB_METADATA_KEYS - set(TEMPLATE_KEYS), key=str)
    if unknown_keys:
        raise CardError(
            f"card template {str(path)!r} sets metadata key(s) {unknown_keys} that the Hub does not know; "
            f"fix the spelling or remove them (known keys: {', '.join(sorted(HUB_METADATA_KEYS))}; "
            f"{', '.join(TEMPLATE_KEYS)} fill the body)")
    body = text[match.end():]
    unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(body)} - set(PLACEHOLDERS))
    if unknown:
        raise CardError(f"card template {str(path)!r} has unknown placeholder(s) "
                        f"{', '.join('{{' + u + '}}' for u in unknown)}; the known ones are "
                        f"{', '.join('{{' + p + '}}' for p in PLACEHOLDERS)}")
    return Template(path, options.apply(metadata) if options else metadata, body)


def render_card(folder: str | Path, *, summary: dict, manifest: dict, template: str | Path | Template | None = None,
                repo_id: str | None = None, version: str | None = None, changelog: str | None = None,
                options: CardOptions | None = None) -> str:
    """The card (README.md text) for the built dataset in `folder`, checked (see `check_card`).

    `summary` is build_summary.json's content and `manifest` splits.json's. `version`
    (MAJOR.MINOR.PATCH, released as tag v{version}) and `changelog` (Markdown) are the publish
    step's; plots already in folder/assets are linked. `template` may be a `Template` (e.g.
    `template_from_card` of the folder's own card); `options` go over its YAML. Raises CardError.
    """
    tpl, version = _template(template, options), _version(version)
    folder = Path(folder)
    stats = _stats(folder, summary, manifest)
    plots = [plotting.Plot(f"{plotting.ASSETS}/{name}", alt) for name, alt in _PLOT_ALTS.items()
             if (folder / plotting.ASSETS / name).is_file()]
    return _render(folder, tpl, stats, plots, summary=summary, manifest=manifest, repo_id=repo_id,
                   version=version, changelog=changelog)


def write_card(folder: str | Path, *, summary: dict, manifest: dict, template: str | Path | Template | None = None,
               repo_id: str | None = None, version: str | None = None, changelog: str | None = None,
               plotter: plotting.BackgroundPlots | None = None, options: CardOptions | None = None) -> str:
    """Write folder/README.md (the card), folder/croissant.json and the plots under folder/assets
    (when matplotlib is installed); return the card. Arguments as for `render_card`; the card
    is checked before README.md or croissant.json is written. Raises CardError. A `plotter`
    draws the plots in its process while the card is rendered here (it is closed after)."""
    try:
        tpl, version = _template(template, options), _version(version)
        folder = Path(folder)
        stats = _stats(folder, summary, manifest)
        numbers = dict(months=stats.months, length_bins=stats.length_bins, length_counts=stats.length_counts,
                       length_median=stats.n_chars.get("p50"), composition=_composition(stats),
                       composition_labels=[f"#{i}" for i in range(1, len(stats.feeds) + 1)]
                       + (["other"] if any(stats.other_feeds.values()) else []),
                       feed_names=[feed if feed is not None else "(no feed)" for feed, _ in stats.feeds]
                       + (["other"] if any(stats.other_feeds.values()) else []))
        plots = plotter.start(folder, **numbers) if plotter else plotting.write_plots(folder, **numbers)
        text = _render(folder, tpl, stats, plots, summary=summary, manifest=manifest, repo_id=repo_id,
                       version=version, changelog=changelog)
        if plotter is not None:
            drawn = plotter.result()
            if drawn != plots:  # the helper failed: the card must not link images that are not there
                text = _render(folder, tpl, stats, drawn, summary=summary, manifest=manifest, repo_id=repo_id,
                               version=version, changelog=changelog)
    finally:
        if plotter is not None:
            plotter.close()
    (folder / CROISSANT).write_text(croissant_text(folder, tpl, stats, repo_id=repo_id, version=version),
                                    encoding="utf-8")
    (folder / "README.md").write_text(text, encoding="utf-8")
    return text


def croissant_text(folder: Path, tpl: Template, stats: CardStats, *, repo_id: str | None = None,
                   version: str | None = None, base_url: str | None = None) -> str:
    """croissant.json's text for the dataset in `folder`. `base_url` (a release's
    `.../resolve/<tag>/`) makes every shard's contentUrl a download link: the file then
    stands alone, away from the shards."""
    meta = tpl.metadata
    from huggingface_hub import constants

    doc = croissant_metadata(
        data_files(folder), splits=[s.name for s in stats.splits],
        name=repo_id or str(meta.get("pretty_name") or _default_name(stats)),
        description=str(meta.get("source_description") or "").strip(), license=meta.get("license"),
        url=f"{constants.ENDPOINT}/datasets/{repo_id}" if repo_id else None, version=version,
        cite_as=str(meta.get("citation") or "").strip() or None, base_url=base_url,
        keywords=_as_list(meta.get("tags")), languages=_language_codes(stats) or _as_list(meta.get("language")))
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def render_release(folder: str | Path, *, version: str, repo_id: str | None = None,
                   base_url: str | None = None) -> tuple[str, str] | None:
    """The card and croissant.json text of release `version` of the dataset in `folder`,
    re-rendered from the folder's own card: how to load names `repo_id` (else a local
    registry's checkout) and the release's tag, and croissant.json gives the version, the
    repo's URL and, with `base_url`, a download link for every shard. None when the folder
    lacks its card, build_summary.json or splits.json (not built by corpus build)."""
    folder = Path(folder)
    try:
        own = (folder / "README.md").read_text(encoding="utf-8")
        summary = json.loads((folder / "build_summary.json").read_text(encoding="utf-8"))
        manifest = json.loads((folder / "splits.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    tpl, version = template_from_card(own, path=folder / "README.md"), _version(version)
    stats = _stats(folder, summary, manifest)
    plots = [plotting.Plot(f"{plotting.ASSETS}/{name}", alt) for name, alt in _PLOT_ALTS.items()
             if (folder / plotting.ASSETS / name).is_file()]
    text = _render(folder, tpl, stats, plots, summary=summary, manifest=manifest, repo_id=repo_id,
                   version=version, changelog=None, registry=repo_id is None)
    return text, croissant_text(folder, tpl, stats, repo_id=repo_id, version=version, base_url=base_url)


def _template(template: str | Path | Template | None, options: CardOptions | None) -> Template:
    if isinstance(template, Template):
        return replace(template, metadata=options.apply(template.metadata)) if options else template
    return read_template(template, options)


_PLOT_ALTS = {plotting.MONTHS: "Articles per month", plotting.LENGTHS: "Distribution of text length in characters",
              plotting.COMPOSITION: "Share of each split's rows by feed"}


def _composition(stats: CardStats) -> list[tuple[str, list[float]]]:
    """Per split, the share of its rows from each top feed (then "other")."""
    out = []
    for split in stats.splits:
        counts = [rows[split.name] for _, rows in stats.feeds]
        if any(stats.other_feeds.values()):
            counts.append(stats.other_feeds[split.name])
        out.append((split.name, [c / split.rows for c in counts]))
    return out


def _render(folder: Path, tpl: Template, stats: CardStats, plots: list, *, summary: dict, manifest: dict,
            repo_id: str | None, version: str | None, changelog: str | None, registry: bool = False) -> str:
    owner = dict(tpl.metadata)
    owner.setdefault("pretty_name", _default_name(stats))
    meta = {k: v for k, v in owner.items() if k not in TEMPLATE_KEYS and k not in BUILD_KEYS}
    languages = _language_codes(stats)
    if languages:  # what the data holds, over the template's guess
        meta["language"] = languages
    subsets = _subset_stats(folder, summary, manifest)
    if subsets is not None:
        # `default` (every row) first: load_dataset(repo) and the viewer open it.
        named = [(DEFAULT_CONFIG, "data/*", stats)] + [(s.name, f"data/{s.name}", s.stats) for s in subsets.subsets
                                                      if s.stats.splits]
        meta["configs"] = [{"config_name": name, "data_files": [{"split": s.name, "path": f"{under}/{s.name}-*"}
                                                               for s in st.splits]} for name, under, st in named]
        meta["dataset_info"] = [{"config_name": name, **_dataset_info(st)} for name, _, st in named]
    else:
        if stats.splits:
            meta["configs"] = [{"config_name": "default",
                                "data_files": [{"split": s.name, "path": f"data/{s.name}-*"} for s in stats.splits]}]
        meta["dataset_info"] = _dataset_info(stats)
    meta["size_categories"] = [_size_category(stats.rows)]
    if version:
        meta[VERSION_KEY] = version
    plot_links = {p.path: f"![{p.alt}]({p.path})" for p in plots}
    values = {
        "pretty_name": str(owner.get("pretty_name") or "Dataset"),
        "version": f"Version {version} (tag `v{version}`)." if version else "Unreleased build (no version yet).",
        "source_description": str(owner.get("source_description") or "").strip(),
        "citation": _citation(owner.get("citation")),
        "summary": _summary(summary, stats, subsets),
        "how_to_load": _how_to_load(repo_id, version, stats, registry=registry, subsets=subsets),
        "schema": _schema_table(),
        "statistics": _statistics(summary, stats, plot_links, subsets),
        "splits": _splits(manifest, repo_id, version),
        "provenance": _provenance(summary),
        "changelog": (changelog or "").strip() or NO_CHANGELOG,
    }
    if tpl.changelog and not changelog:
        values["changelog"] = tpl.changelog  # a re-rendered release card keeps its history
    # One pass: placeholders inside the values (a feed named "{{x}}") are left as they are.
    rendered = _BLOCK_OR_INLINE.sub(lambda m: _marked(m, values), tpl.body)
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    text = f"---\n{head}---\n\n{rendered.strip()}\n"
    check_card(text, folder)
    return text


# A placeholder alone on its line is replaced by a block (its value between marker lines, blank
# lines around it so a table ends before the closing marker); any other, inline.
_BLOCK_OR_INLINE = re.compile(r"^([ \t]*)\{\{\s*(\w+)\s*\}\}[ \t]*$|\{\{\s*(\w+)\s*\}\}", re.M)


def _marked(m: re.Match, values: dict) -> str:
    if m.group(2):
        name = m.group(2)
        return f"<!-- corpus:{name} -->\n\n{values[name]}\n\n<!-- /corpus:{name} -->"
    name = m.group(3)
    return f"<!-- corpus:{name} -->{values[name]}<!-- /corpus:{name} -->"


def template_from_card(text: str, *, path: str | Path = "README.md") -> Template:
    """A rendered card read back as its own template: each marked value becomes its placeholder
    again, the YAML keeps every owner key (the build's keys and the release's `version` go), and
    the values of `source_description` and `citation` return to the YAML. A released card's
    changelog entries are kept in `changelog`. A card without markers (an older build's) gives
    the bundled template's body under the card's own YAML keys. Raises CardError."""
    from .release import changelog_entries

    match = re.match(r"\A\ufeff?---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", text, re.S)
    try:
        metadata = (yaml.safe_load(match.group(1) or "") if match else None) or {}
    except yaml.YAMLError as exc:
        raise CardError(f"the YAML block of the card {str(path)!r} does not parse: {exc}") from None
    if not isinstance(metadata, dict):
        raise CardError(f"the YAML block of the card {str(path)!r} must be a mapping of keys to values")
    metadata = {k: v for k, v in metadata.items() if k not in BUILD_KEYS and k != VERSION_KEY}
    body = text[match.end():] if match else text
    found: dict[str, str] = {}

    def unmark(m: re.Match) -> str:
        found[m.group(1)] = m.group(2).strip("\n")
        return "{{" + m.group(1) + "}}"

    body = _MARKED.sub(unmark, body)
    if not found:
        bundled = read_template()
        return Template(Path(path), {**bundled.metadata, **metadata}, bundled.body)
    unknown = sorted(set(found) - set(PLACEHOLDERS))
    if unknown:
        raise CardError(f"the card {str(path)!r} marks unknown value(s) {unknown}: remove those markers")
    if "source_description" in found:
        metadata["source_description"] = found["source_description"].strip()
    if "citation" in found:
        cite = found["citation"].strip()
        fenced = re.fullmatch(r"```bibtex\n(.*)\n```", cite, re.S)
        metadata["citation"] = fenced.group(1) if fenced else ""
    return Template(Path(path), metadata, body, "\n\n".join(changelog_entries(found.get("changelog", ""))))


def template_text(tpl: Template) -> str:
    """A template as the text of a template file (a released card's changelog entries written
    into the body in place of {{changelog}}, where a release finds them again)."""
    body = tpl.body
    if tpl.changelog:
        body = _PLACEHOLDER.sub(lambda m: tpl.changelog if m.group(1) == "changelog" else m.group(0), body)
    head = yaml.safe_dump(tpl.metadata, allow_unicode=True, sort_keys=False, width=1000) if tpl.metadata else ""
    return f"---\n{head}---\n{body}"


def _language_codes(stats: CardStats) -> list[str]:
    """The language codes of the rows (most rows first), without "other" and nulls."""
    return [lang for lang, _ in stats.languages if isinstance(lang, str) and lang in LANGUAGE_NAMES]


def _default_name(stats: CardStats) -> str:
    """A title the data can vouch for, when the owner gives none: "Articles in English and Japanese"."""
    names = [LANGUAGE_NAMES[c] for c in _language_codes(stats)]
    if not names:
        return "Articles"
    return "Articles in " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def _version(version: str | None) -> str | None:
    if version is None:
        return None
    m = _VERSION.match(str(version))
    if not m:
        raise CardError(f"version {version!r} is not MAJOR.MINOR.PATCH (e.g. '1.2.0'); the release tag is v<version>")
    return m.group(1)


def _split_names(manifest: dict) -> list[str]:
    return [name for name, _ in manifest["spec"]["splits"]]


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _dataset_info(stats: CardStats) -> dict:
    return {"features": hf_features_yaml(),
            "splits": [{"name": s.name, "num_bytes": s.arrow_bytes, "num_examples": s.rows} for s in stats.splits],
            "download_size": sum(s.file_bytes for s in stats.splits),
            "dataset_size": sum(s.arrow_bytes for s in stats.splits)}


def _size_category(n: int) -> str:
    for limit, label in SIZE_CATEGORIES:
        if n < limit:
            return label
    return "n>1T"


def _n(count: int, word: str) -> str:
    """'1 file', '2 files'."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _summary(summary: dict, stats: CardStats, subsets: Subsets | None = None) -> str:
    rejected = sum(summary["rejected"].values())
    ignored = sum(summary["ignored"].values())
    when = (f", published between {_day(stats.date_min)} and {_day(stats.date_max)}" if stats.date_min else "")
    langs = ", ".join(f"{lang} {n / stats.rows:.0%}" for lang, n in stats.languages[:3]) if stats.rows else ""
    where = (" (" + ", ".join(f"{s.name} {s.rows:,}" for s in stats.splits) + ")") if stats.splits else ""
    return (f"{_n(stats.rows, 'article')}{when}" + (f"; languages {langs}" if langs else "") + "."
            + f" Splits: {len(stats.splits)}{where}."
            + (f" Subsets by `{subsets.column}`: {len(subsets.subsets)} (" + ", ".join(
                f"`{s.name}` {s.stats.rows:,}" for s in subsets.subsets) + "), and `default` with every row."
               if subsets is not None else "")
            + f" Built by corpus-builder {summary['tool']['version']} from "
            f"{_n(summary['files_found'], 'file')}: {rejected:,} rejected with a reason code and "
            f"{ignored:,} ignored as not articles (see Statistics).")


def _day(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d") if value else "-"


def _how_to_load(repo_id: str | None, version: str | None, stats: CardStats, *, registry: bool = False,
                 subsets: Subsets | None = None) -> str:
    target = f'"{repo_id}"' if repo_id else '"path/to/this/folder"'
    lines = ["```python", "from datasets import load_dataset", ""]
    if version and registry:
        # datasets ignores `revision` for a local folder: a registry's release is checked out first.
        lines = ["```bash", f"corpus checkout path/to/registry v{version} -o release-v{version}", "```", "",
                 "```python", "from datasets import load_dataset", "",
                 f'ds = load_dataset("release-v{version}")  # this release (the registry\'s own folder is its newest)']
    elif version:
        lines.append(f'ds = load_dataset({target}, revision="v{version}")  # this release, pinned')
    else:
        lines += [f"ds = load_dataset({target})",
                  '# a release, pinned: load_dataset(..., revision="v1.2.0"); the releases are under Changelog']
    if subsets is not None and subsets.subsets:
        first = subsets.subsets[0].name
        lines.append(f'# one subset (`{subsets.column}` = {_value(subsets.subsets[0].value)}): '
                     f'load_dataset(..., "{first}"); without a name, "default": every row')
    lines.append("```")
    first = stats.splits[0].name if stats.splits else "train"
    lines += ["", f'`ds["{first}"]` is a `datasets.Dataset`; the `date` column loads as a UTC timestamp and '
              "`categories`, `stock_codes` and `warnings` as lists of strings. The folder also holds "
              "`splits.json` (the split manifest), `rejects.jsonl` (every rejected input file with its "
              "reason), `build_summary.json` and `croissant.json` (Croissant 1.0 metadata with each "
              "Parquet file's sha256)."]
    return "\n".join(lines)


def _schema_table() -> str:
    lines = ["| column | type | description |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | `{typ}` | {_cell(DESCRIPTIONS[name])} |" for name, typ, _, _ in COLUMNS]
    return "\n".join(lines)


def _cell(value) -> str:
    """A value as Markdown table cell text: pipes escaped, on one line."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _value(value) -> str:
    """A subset's value as the card shows it."""
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def _subset_table(subsets: Subsets, stats: CardStats) -> list[str]:
    """Per subset: its value, rows per split, dates and median length."""
    names = [s.name for s in stats.splits]
    out = ["### Subsets", "",
           f"One config per value of `{subsets.column}`, its Parquet files under `data/<subset>/`, and `default` "
           "with every row. A value is its subset's name when it is lowercase ASCII letters, digits, `_` and `-`; "
           "any other character is written as `~` and the hex of its UTF-8 bytes (a null value is `~null`). "
           "A row's split does not depend on its subset.", "",
           f"| subset | `{_cell(subsets.column)}` | rows | share | " + " | ".join(names)
           + " | from | to | median length |",
           "| --- | --- | ---: | ---: |" + " ---: |" * len(names) + " --- | --- | ---: |"]
    for sub in subsets.subsets:
        st = sub.stats
        per = {s.name: s.rows for s in st.splits}
        out.append(f"| `{sub.name}` | {_cell(_value(sub.value))} | {st.rows:,} | "
                   f"{st.rows / max(stats.rows, 1):.1%} | " + " | ".join(f"{per.get(n, 0):,}" for n in names)
                   + f" | {_day(st.date_min)} | {_day(st.date_max)} | "
                   + (f"{st.n_chars['p50']:,}" if st.rows else "-") + " |")
    return out


def _statistics(summary: dict, stats: CardStats, plots: dict[str, str], subsets: Subsets | None = None) -> str:
    out = _data_statistics(stats, plots) if stats.rows else ["The dataset has no rows."]
    if subsets is not None:
        out += ["", *_subset_table(subsets, stats)]
    built = summary.get("rows", stats.rows)
    left_out = (f" The split spec left {built - stats.rows:,} of the {built:,} rows out of every split "
                "(see Splits)." if built != stats.rows else "")
    out += ["", "### Rejected and ignored files", "",
            f"{_n(summary['files_found'], 'file')} found = {built:,} rows + {sum(summary['rejected'].values()):,} "
            f"rejected + {sum(summary['ignored'].values()):,} ignored. Every rejected file is in `rejects.jsonl` "
            "with its path, reason code and a message." + left_out, ""]
    out += _count_table("reason", summary["rejected"], REJECT_REASONS)
    out += ["", "Ignored (not article files), by suffix: "
            + (", ".join(f"`{k}` {v:,}" for k, v in summary["ignored"].items()) or "none") + "."]

    dedup = summary.get("dedup") or {}
    rejected = summary["rejected"]
    out += ["", "### Duplicates", "",
            f"Removed: {rejected.get('duplicate', 0):,} exact and {rejected.get('near_duplicate', 0):,} near "
            "duplicates (in `rejects.jsonl`, with the id of the row kept). "
            f"Kept but flagged as copies (`dup_cluster` differs from `id`): {_n(stats.flagged_copies, 'row')}."
            + (f" Detection found {_n(dedup.get('clusters', 0), 'cluster')} among {_n(dedup.get('rows', 0), 'row')} "
               f"(largest: {_n(dedup.get('largest_cluster', 0), 'row')})." if dedup else "")]

    out += ["", "### Warnings on the rows kept", ""]
    out += _count_table("warning", dict(stats.warnings), WARNINGS) if stats.warnings else ["None."]
    return "\n".join(out)


def _data_statistics(stats: CardStats, plots: dict[str, str]) -> list[str]:
    out = ["### Rows per split", "", "| split | rows | share | Parquet files | bytes on disk |",
           "| --- | ---: | ---: | ---: | ---: |"]
    for s in stats.splits:
        out.append(f"| {s.name} | {s.rows:,} | {s.rows / stats.rows:.1%} | {len(s.files)} | {s.file_bytes:,} |")
    out.append(f"| **total** | **{stats.rows:,}** | 100% | {sum(len(s.files) for s in stats.splits)} | "
               f"{sum(s.file_bytes for s in stats.splits):,} |")

    out += ["", "### Dates", ""]
    if stats.date_min:
        out.append(f"From {_iso(stats.date_min)} to {_iso(stats.date_max)} (UTC); "
                   f"{_n(stats.undated, 'row')} without a date.")
    else:
        out.append("No row has a date.")
    out += _image(plots, f"{plotting.ASSETS}/{plotting.MONTHS}")

    out += ["", "### Text length (characters)", ""]
    keys = ["min", *(f"p{p}" for p in PERCENTILES), "max", "mean"]
    out += ["| " + " | ".join(keys) + " |", "|" + " ---: |" * len(keys),
            "| " + " | ".join(f"{stats.n_chars[k]:,.1f}" if k == "mean" else f"{stats.n_chars[k]:,}" for k in keys)
            + " |", "",
            f"{stats.n_chars['total']:,} characters in all. A percentile pN is the length at rank "
            "floor(N/100 x (rows - 1)) of the lengths sorted in increasing order."]
    out += _image(plots, f"{plotting.ASSETS}/{plotting.LENGTHS}")

    out += ["", "### Languages", "", "| language | rows | share |", "| --- | ---: | ---: |"]
    out += [f"| {_cell(lang)} | {n:,} | {n / stats.rows:.1%} |" for lang, n in stats.languages]

    names = [s.name for s in stats.splits]
    out += ["", f"### Top feeds ({stats.n_feeds:,} in all)", "",
            "| rank | feed | rows | " + " | ".join(names) + " |", "| ---: | --- | ---: |" + " ---: |" * len(names)]
    for rank, (feed, rows) in enumerate(stats.feeds, 1):
        label = f"`{_cell(feed)}`" if feed is not None else "(no feed)"
        out.append(f"| #{rank} | {label} | {sum(rows.values()):,} | "
                   + " | ".join(f"{rows[n]:,}" for n in names) + " |")
    if any(stats.other_feeds.values()):
        out.append(f"| | other {stats.n_feeds - len(stats.feeds):,} feeds | {sum(stats.other_feeds.values()):,} | "
                   + " | ".join(f"{stats.other_feeds[n]:,}" for n in names) + " |")
    out += _image(plots, f"{plotting.ASSETS}/{plotting.COMPOSITION}")

    out += ["", f"### Top categories ({stats.n_categories:,} in all)", "", "| category | rows |", "| --- | ---: |"]
    out += [f"| `{_cell(c)}` | {n:,} |" for c, n in stats.categories]
    return out


def _image(plots: dict[str, str], path: str) -> list[str]:
    return ["", plots[path]] if path in plots else []


def _count_table(what: str, counts: Mapping[str, int], meanings: Mapping[str, str]) -> list[str]:
    if not counts:
        return ["None."]
    lines = [f"| {what} | count | meaning |", "| --- | ---: | --- |"]
    lines += [f"| `{k}` | {v:,} | {_cell(meanings.get(k, ''))} |"
              for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return lines


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _splits(manifest: dict, repo_id: str | None, version: str | None) -> str:
    spec = manifest.get("pinned_spec") or manifest["spec"]
    ratios = ", ".join(f"{name} {ratio:g}" for name, ratio in spec["splits"])
    group = f"rows are grouped by `{spec.get('group') or 'id'}` and every group lands in one split"
    if spec["strategy"] == "time":
        how = (f"Splits are consecutive time slices of `{spec.get('time_column')}` ({ratios}); {group}, placed by "
               "its latest date (see `splits.assign` for the cutoff and the embargo).")
    else:
        how = (f"Rows are assigned by a salted hash of their group, not by their order ({ratios}, salt "
               f"`{spec['salt']}`); {group}. A row keeps its split as the corpus grows.")
    lines = [how + " The same spec on the same rows always gives the same splits.", "",
             "| spec | value |", "| --- | --- |"]
    lines += [f"| `{k}` | `{_cell(json.dumps(v, ensure_ascii=False))}` |" for k, v in sorted(spec.items())]
    dropped = {k: v for k, v in (manifest.get("dropped") or {}).items() if v}
    if dropped:
        lines += ["", "Rows in no split (dropped by the time rules): "
                  + ", ".join(f"{k} {v:,}" for k, v in sorted(dropped.items())) + "."]
    audit = manifest.get("audit") or {}
    if audit:
        lines += ["", f"Leakage audit: {'passed' if audit.get('ok') else 'FAILED'}: "
                  f"{audit.get('duplicate_texts_across_splits', 0):,} texts in more than one split, "
                  f"{audit.get('group_straddles', 0):,} groups across splits"
                  + (f", {audit['copies_across_splits']:,} rows with a near or contained copy in train"
                     if "copies_across_splits" in audit else "") + "."]
    lines += ["", "`splits.json` records the spec and the sha256 of each split's sorted ids. To check the "
              "published splits, and to regenerate them from the published data (with corpus-builder's "
              "`splits` package):", ""]
    revision = f', revision="v{version}"' if version else ""
    if repo_id:
        tag = f" --revision v{version}" if version else ""
        lines += ["```bash", f"hf download {repo_id} --repo-type dataset{tag} --local-dir data_copy "
                  "&& python -m splits verify data_copy", "```", "", "```python", "import json",
                  "from datasets import load_dataset", "from huggingface_hub import hf_hub_download",
                  "from splits import manifest_spec, regenerate", "",
                  f'manifest = json.load(open(hf_hub_download("{repo_id}", "splits.json", '
                  f'repo_type="dataset"{revision})))',
                  f'splits = regenerate(load_dataset("{repo_id}"{revision}), manifest_spec(manifest))', "```"]
    else:
        lines += ["```bash", "python -m splits verify path/to/this/folder", "```", "", "```python",
                  "from datasets import load_dataset",
                  "from splits import manifest_spec, read_manifest, regenerate", "",
                  'folder = "path/to/this/folder"',
                  "splits = regenerate(load_dataset(folder), manifest_spec(read_manifest(folder)))", "```"]
    return "\n".join(lines)


def _provenance(summary: dict) -> str:
    tool = summary["tool"]
    digest = summary.get("input_manifest_sha256")
    lines = [f"Built by {tool.get('name', 'corpus-builder')} {tool['version']}.",
             "Input manifest sha256: " + (f"`{digest}` (over the sorted (source path, file sha256) pairs of "
                                         "the input files)." if digest else "not recorded by this build."),
             "", "| setting | value |", "| --- | --- |"]
    lines += [f"| `{k}` | `{_cell(json.dumps(v, ensure_ascii=False))}` |" for k, v in _flatten(summary["settings"])]
    return "\n".join(lines)


def _flatten(d: Mapping, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for k, v in d.items():
        if isinstance(v, Mapping):
            out += _flatten(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", list(v) if isinstance(v, tuple) else v))
    return out


def _citation(value: object) -> str:
    text = str(value or "").strip()
    return f"```bibtex\n{text}\n```" if text else "No citation given."


# --- checks -------------------------------------------------------------------------------------

def check_card(text: str, folder: str | Path) -> None:
    """Raise CardError unless `huggingface_hub` parses the card, its metadata keys are ones the
    Hub knows, and every `configs` data_files pattern matches shards in `folder`, each shard
    claimed by exactly one split, with `dataset_info` agreeing on the splits.

    `configs` and `dataset_info` are read by their documented structure rather than through
    `datasets` (importing it cost half a second of every build); the tests hold the two
    readings equal on built cards."""
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    try:
        card = DatasetCard(text, ignore_metadata_errors=False)
        data = card.data.to_dict()
        configs = _configs(data.get("configs"))
        info_splits = _info_splits(data.get("dataset_info"))
    except (ValueError, TypeError, KeyError, yaml.YAMLError) as exc:
        raise CardError(f"the rendered card is not a valid dataset card: {exc}") from None
    unknown = sorted(set(data) - HUB_METADATA_KEYS - {VERSION_KEY})
    if unknown:
        raise CardError(f"the rendered card has metadata key(s) {unknown} the Hub does not know")

    shards = sorted(p.relative_to(folder).as_posix() for p in (folder / "data").rglob("*.parquet"))
    claimed: dict[str, str] = {}
    split_names = []
    for name, config in configs.items():
        entries = config.get("data_files") or []
        if isinstance(entries, str) or any(not isinstance(e, dict) or not {"split", "path"} <= set(e)
                                           for e in entries):
            raise CardError(f"config {name!r}: data_files must list {{split, path}} entries")
        for entry in entries:
            split_names.append(entry["split"])
            for pattern in _as_list(entry["path"]):
                matched = [p.relative_to(folder).as_posix() for p in folder.glob(pattern) if p.is_file()]
                if not matched:
                    raise CardError(f"config {name!r}, split {entry['split']!r}: pattern {pattern!r} matches no file "
                                    f"in {str(folder)!r}")
                for path in matched:
                    if claimed.setdefault(path, entry["split"]) != entry["split"]:
                        raise CardError(f"{path} is claimed by splits {claimed[path]!r} and {entry['split']!r}")
    unclaimed = [s for s in shards if s not in claimed]
    if unclaimed:
        raise CardError(f"Parquet file(s) {unclaimed} are in no split of the card's configs")
    if info_splits is not None and sorted(info_splits) != sorted(split_names):
        raise CardError(f"dataset_info lists splits {sorted(info_splits)} but configs list {sorted(split_names)}")


def _configs(value) -> dict[str, dict]:
    """The card's `configs`: a list of mappings, each named by `config_name` (default 'default')."""
    if value is None:
        return {}
    if not isinstance(value, list) or any(not isinstance(c, dict) for c in value):
        raise ValueError("configs must be a list of mappings")
    out: dict[str, dict] = {}
    for config in value:
        name = str(config.get("config_name", "default"))
        if name in out:
            raise ValueError(f"config {name!r} is listed twice")
        out[name] = config
    return out


def _info_splits(value) -> list[str] | None:
    """The split names of the card's `dataset_info` (a mapping, or a list of them per config)."""
    if value is None:
        return None
    infos = value if isinstance(value, list) else [value]
    if any(not isinstance(i, dict) for i in infos):
        raise ValueError("dataset_info must be a mapping")
    splits = [s for i in infos for s in (i.get("splits") or [])]
    if any(not isinstance(s, dict) or "name" not in s for s in splits):
        raise ValueError("dataset_info.splits entries need a name")
    return [str(s["name"]) for s in splits] if splits or any("splits" in i for i in infos) else None
