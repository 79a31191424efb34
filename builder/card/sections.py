"""The card's sections: the text each placeholder of the template stands for (summary, how to
load, schema, statistics, splits, provenance, changelog, citation), from the statistics and
what only the build knows (build_summary.json, splits.json)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Mapping

from ..errors import REJECT_REASONS, WARNINGS
from ..release import UNRELEASED_CHANGELOG
from ..schema import COLUMNS, DESCRIPTIONS
from . import plots as plotting
from .stats import PERCENTILES, CardStats, Subsets


def placeholder_values(owner: dict, stats: CardStats, subsets: Subsets | None, plots: list[plotting.Plot], *,
                       summary: dict, manifest: dict, repo_id: str | None, version: str | None,
                       changelog: str | None, registry: bool = False, revision: str | None = None) -> dict[str, str]:
    """The value of every placeholder. `owner` is the template's YAML (with its pretty_name),
    `plots` the images to link, `registry`: how to load names a local registry's checkout,
    `revision`: the branch a release is on, named instead of its tag (v`version`)."""
    plot_links = {p.path: f"![{p.alt}]({p.path})" for p in plots}
    return {
        "pretty_name": str(owner.get("pretty_name") or "Dataset"),
        "version": f"Version {version} (tag `v{version}`)." if version else "Unreleased build (no version yet).",
        "source_description": str(owner.get("source_description") or "").strip(),
        "citation": _citation(owner.get("citation")),
        "summary": _summary(summary, stats, subsets),
        "how_to_load": _how_to_load(repo_id, version, stats, registry=registry, subsets=subsets, revision=revision),
        "schema": _schema_table(),
        "statistics": _statistics(summary, stats, plot_links, subsets),
        "splits": _splits(manifest, repo_id, version, revision),
        "provenance": _provenance(summary),
        "changelog": (changelog or "").strip() or UNRELEASED_CHANGELOG,
    }


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
                 subsets: Subsets | None = None, revision: str | None = None) -> str:
    target = f'"{repo_id}"' if repo_id else '"path/to/this/folder"'
    lines = ["```python", "from datasets import load_dataset", ""]
    ref = revision or f"v{version}"
    if version and registry:
        # datasets ignores `revision` for a local folder: a registry's release is checked out
        # first (a branch is cloned by its name: corpus checkout takes tags).
        fetch = (f"git clone --branch {revision} path/to/registry release-{ref}" if revision
                 else f"corpus checkout path/to/registry {ref} -o release-{ref}")
        lines = ["```bash", fetch, "```", "",
                 "```python", "from datasets import load_dataset", "",
                 f'ds = load_dataset("release-{ref}")  # this release (the registry\'s own folder is its newest)']
    elif version:
        lines.append(f'ds = load_dataset({target}, revision="{ref}")  # this release, pinned')
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


def _splits(manifest: dict, repo_id: str | None, version: str | None, revision: str | None = None) -> str:
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
    ref = revision or f"v{version}"
    revision = f', revision="{ref}"' if version else ""
    if repo_id:
        tag = f" --revision {ref}" if version else ""
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
