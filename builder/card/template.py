"""The card template: dataset_card.md (or a rendered card read back as its template), the owner's
options over its YAML (CardOptions), the placeholder markers, and the card's YAML header.

The owner's YAML keys survive; the build adds `configs` (so `load_dataset` finds the splits),
`dataset_info` (features and per-split sizes) and `size_categories`. A placeholder's value is
written between two HTML comments (invisible on the Hub), so that a card can be read back as
its own template (`template_from_card`): `corpus split` and a release re-render a dataset's card
from the card itself, keeping what its owner wrote there.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

import yaml

from ..errors import CardError, ConfigError
from ..schema import hf_features_yaml
from ..subsets import DEFAULT_CONFIG
from .stats import CardStats, Subsets, language_codes

DEFAULT_TEMPLATE = Path(__file__).parent.with_name("dataset_card.md")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# The YAML block at the top of a template or a card, between '---' lines.
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)

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
# A placeholder's value is written between two HTML comments (invisible on the Hub), so that a
# card can be read back as its own template (`template_from_card`): `corpus split` and a
# release re-render a dataset's card from the card itself, keeping what its owner wrote there.
_MARKED = re.compile(r"<!-- corpus:(\w+) -->\n?(.*?)\n?<!-- /corpus:\1 -->", re.S)


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
    match = _FRONT_MATTER.match(text)
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


def template_of(template: str | Path | Template | None, options: CardOptions | None) -> Template:
    """The template to render: a `Template` as it is, else the file read (read_template); `options` over its YAML."""
    if isinstance(template, Template):
        return replace(template, metadata=options.apply(template.metadata)) if options else template
    return read_template(template, options)


def template_from_card(text: str, *, path: str | Path = "README.md") -> Template:
    """A rendered card read back as its own template: each marked value becomes its placeholder
    again, the YAML keeps every owner key (the build's keys and the release's `version` go), and
    the values of `source_description` and `citation` return to the YAML. A released card's
    changelog entries are kept in `changelog`. A card without markers (an older build's) gives
    the bundled template's body under the card's own YAML keys. Raises CardError."""
    from ..release import changelog_entries  # the release reads this module's markers: imported late

    match = _FRONT_MATTER.match(text)
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
    return f"---\n{_yaml(tpl.metadata) if tpl.metadata else ''}---\n{body}"


# A placeholder alone on its line is replaced by a block (its value between marker lines, blank
# lines around it so a table ends before the closing marker); any other, inline.
_BLOCK_OR_INLINE = re.compile(r"^([ \t]*)\{\{\s*(\w+)\s*\}\}[ \t]*$|\{\{\s*(\w+)\s*\}\}", re.M)


def fill(body: str, values: dict[str, str]) -> str:
    """The template's body with each placeholder replaced by its value between markers. One pass:
    placeholders inside the values (a feed named "{{x}}") are left as they are."""
    return _BLOCK_OR_INLINE.sub(lambda m: _marked(m, values), body)


def _marked(m: re.Match, values: dict) -> str:
    if m.group(2):
        name = m.group(2)
        return f"<!-- corpus:{name} -->\n\n{values[name]}\n\n<!-- /corpus:{name} -->"
    name = m.group(3)
    return f"<!-- corpus:{name} -->{values[name]}<!-- /corpus:{name} -->"


def header(owner: dict, stats: CardStats, subsets: Subsets | None, version: str | None) -> str:
    """The card's YAML block (the text between its '---' lines): the owner's keys, the languages
    the rows hold, and the build's keys (configs, dataset_info, size_categories) from the data."""
    meta = {k: v for k, v in owner.items() if k not in TEMPLATE_KEYS and k not in BUILD_KEYS}
    languages = language_codes(stats)
    if languages:  # what the data holds, over the template's guess
        meta["language"] = languages
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
    return _yaml(meta)


def _yaml(metadata: dict) -> str:
    return yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False, width=1000)


def as_list(value) -> list[str]:
    """A YAML value (one item or a list) as a list of strings."""
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

