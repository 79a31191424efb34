"""The card put together: README.md (the template filled with the sections, under the YAML
header) and croissant.json, rendered from the shards' statistics, checked, and written with the
plots (assets/*.png). Every figure comes from the Parquet files actually written (as their
shard tasks counted them, or read back), so the card is always true."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..errors import CardError, VersionError
from ..release import Version
from . import plots as plotting
from .check import check_card
from .croissant import croissant_metadata, data_files
from .sections import placeholder_values
from .stats import CardStats, Subsets, default_name, folder_stats, language_codes, subset_stats
from .tally import ShardFigures
from .template import CardOptions, Template, as_list, fill, header, template_from_card, template_of

CROISSANT = "croissant.json"


def render_card(folder: str | Path, *, summary: dict, manifest: dict, template: str | Path | Template | None = None,
                repo_id: str | None = None, version: str | None = None, changelog: str | None = None,
                options: CardOptions | None = None) -> str:
    """The card (README.md text) for the built dataset in `folder`, checked (see `check_card`).

    `summary` is build_summary.json's content and `manifest` splits.json's. `version`
    (MAJOR.MINOR.PATCH, released as tag v{version}) and `changelog` (Markdown) are the publish
    step's; plots already in folder/assets are linked. `template` may be a `Template` (e.g.
    `template_from_card` of the folder's own card); `options` go over its YAML. Raises CardError.
    """
    tpl, version = template_of(template, options), _version(version)
    folder = Path(folder)
    stats, subsets = folder_stats(folder, summary, manifest), subset_stats(folder, summary, manifest)
    return _render(folder, tpl, stats, subsets, plotting.found_in(folder), summary=summary, manifest=manifest,
                   repo_id=repo_id, version=version, changelog=changelog)


def write_card(folder: str | Path, *, summary: dict, manifest: dict, template: str | Path | Template | None = None,
               repo_id: str | None = None, version: str | None = None, changelog: str | None = None,
               plotter: plotting.BackgroundPlots | None = None, options: CardOptions | None = None,
               shards: Sequence[ShardFigures] | None = None) -> str:
    """Write folder/README.md (the card), folder/croissant.json and the plots under folder/assets
    (when matplotlib is installed); return the card. Arguments as for `render_card`; the card
    is checked before README.md or croissant.json is written. Raises CardError. A `plotter`
    draws the plots in its process while the card is rendered here (it is closed after).
    `shards`: the figures of every shard under folder/data as the shard tasks counted them
    (else the shards are read back)."""
    try:
        tpl, version = template_of(template, options), _version(version)
        folder = Path(folder)
        stats = folder_stats(folder, summary, manifest, shards)
        subsets = subset_stats(folder, summary, manifest, shards)
        numbers = _plot_numbers(stats)
        plots = plotter.start(folder, **numbers) if plotter else plotting.write_plots(folder, **numbers)
        text = _render(folder, tpl, stats, subsets, plots, summary=summary, manifest=manifest, repo_id=repo_id,
                       version=version, changelog=changelog)
        if plotter is not None:
            drawn = plotter.result()
            if drawn != plots:  # the helper failed: the card must not link images that are not there
                text = _render(folder, tpl, stats, subsets, drawn, summary=summary, manifest=manifest,
                               repo_id=repo_id, version=version, changelog=changelog)
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
        name=repo_id or str(meta.get("pretty_name") or default_name(stats)),
        description=str(meta.get("source_description") or "").strip(), license=meta.get("license"),
        url=f"{constants.ENDPOINT}/datasets/{repo_id}" if repo_id else None, version=version,
        cite_as=str(meta.get("citation") or "").strip() or None, base_url=base_url,
        keywords=as_list(meta.get("tags")), languages=language_codes(stats) or as_list(meta.get("language")))
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def render_release(folder: str | Path, *, version: str, repo_id: str | None = None,
                   base_url: str | None = None, revision: str | None = None) -> tuple[str, str] | None:
    """The card and croissant.json text of release `version` of the dataset in `folder`,
    re-rendered from the folder's own card: how to load names `repo_id` (else a local
    registry's checkout) and the release's tag, or `revision`, the branch a release off the
    main line is committed to (it has no tag); croissant.json gives the version, the repo's URL
    and, with `base_url`, a download link for every shard. None when the folder lacks its card,
    build_summary.json or splits.json (not built by corpus build)."""
    folder = Path(folder)
    try:
        own = (folder / "README.md").read_text(encoding="utf-8")
        summary = json.loads((folder / "build_summary.json").read_text(encoding="utf-8"))
        manifest = json.loads((folder / "splits.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    tpl, version = template_from_card(own, path=folder / "README.md"), _version(version)
    stats, subsets = folder_stats(folder, summary, manifest), subset_stats(folder, summary, manifest)
    text = _render(folder, tpl, stats, subsets, plotting.found_in(folder), summary=summary, manifest=manifest,
                   repo_id=repo_id, version=version, changelog=None, registry=repo_id is None, revision=revision)
    return text, croissant_text(folder, tpl, stats, repo_id=repo_id, version=version, base_url=base_url)


def _plot_numbers(stats: CardStats) -> dict:
    """write_plots's arguments: the aggregated numbers the plots draw."""
    other = ["other"] if any(stats.other_feeds.values()) else []
    return dict(months=stats.months, length_bins=stats.length_bins, length_counts=stats.length_counts,
                length_median=stats.n_chars.get("p50"), composition=_composition(stats),
                composition_labels=[f"#{i}" for i in range(1, len(stats.feeds) + 1)] + other,
                feed_names=[feed if feed is not None else "(no feed)" for feed, _ in stats.feeds] + other)


def _composition(stats: CardStats) -> list[tuple[str, list[float]]]:
    """Per split, the share of its rows from each top feed (then "other")."""
    out = []
    for split in stats.splits:
        counts = [rows[split.name] for _, rows in stats.feeds]
        if any(stats.other_feeds.values()):
            counts.append(stats.other_feeds[split.name])
        out.append((split.name, [c / split.rows for c in counts]))
    return out


def _render(folder: Path, tpl: Template, stats: CardStats, subsets: Subsets | None, plots: list, *, summary: dict,
            manifest: dict, repo_id: str | None, version: str | None, changelog: str | None, registry: bool = False,
            revision: str | None = None) -> str:
    owner = dict(tpl.metadata)
    owner.setdefault("pretty_name", default_name(stats))
    values = placeholder_values(owner, stats, subsets, plots, summary=summary, manifest=manifest, repo_id=repo_id,
                                version=version, changelog=changelog, registry=registry, revision=revision)
    if tpl.changelog and not changelog:
        values["changelog"] = tpl.changelog  # a re-rendered release card keeps its history
    text = f"---\n{header(owner, stats, subsets, version)}---\n\n{fill(tpl.body, values).strip()}\n"
    check_card(text, folder)
    return text


def _version(version: str | None) -> str | None:
    """A release's version as the card writes it (MAJOR.MINOR.PATCH, a leading `v` dropped), by
    the release's own rule (release.Version)."""
    if version is None:
        return None
    try:
        return str(Version.parse(version))
    except VersionError:
        raise CardError(f"version {version!r} is not MAJOR.MINOR.PATCH (e.g. '1.2.0'); "
                        "the release tag is v<version>") from None
