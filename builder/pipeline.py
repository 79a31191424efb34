"""The build: compose discover -> read (per file, in parallel) -> duplicates -> splits -> shards -> card.

Every input file ends as a row, a reject with a reason code, or an ignored non-article file,
and `BuildReport` shows that the counts add up. The output is written beside the target
folder and swapped in at the end, so a failed or interrupted build leaves the old one intact.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splits import SplitSpec, assign, build_manifest, copy_leaks, write_manifest

from . import __version__, memory, readers
from .cache import BuildCache, default_dir
from .card import CardOptions, InputManifest, read_template, write_card
from .checks import all_rejected_message, check_before_reading, no_articles_message
from .discover import discover
from .duplicates import Duplicates, find_duplicates
from .errors import CacheError, NoRowsError, OutputError, Reject, SourceError
from .output import atomic_output, output_lock, storage_errors as _storage_errors
from .card.plots import BackgroundPlots, plots_in_background
from .parts import FACTS, LATER, part_schema, work_folder
from .reading import INLINE_BELOW, Facts, executor_of_build, install_cache, read_all
from .report import BuildReport
from .run import Executor
from .schema import ROW_SCHEMA
from .shards import plan_split, write_shard
from .splitting import SplitPlan, plan_splits, split_columns
from .settings import BuildSettings
from .subsets import SUMMARY_KEY as SUBSETS_KEY, check_subset_column, subset_name, subsets_summary
from .write import ROW_GROUP_BYTES, ShardWriter, WriteLane, write_split

log = logging.getLogger(__name__)
SAMPLE_DIR = Path(__file__).with_name("sample")
# Copies of one story never straddle splits: group by duplicate cluster. With duplicates
# dropped (the default) every row is its own cluster, so the key is the row id, which adding
# articles never moves; with --keep-duplicates a cluster's rows move together.
DEFAULT_SPLIT = SplitSpec(group="dup_cluster")
# From this many files the plot helper starts with the card, not after reading: the card's
# statistics (every shard read back) then take longer than the helper's start, and its 66 MB
# no longer add to the peak of duplicate clustering and the shard pass (a rebuild of a
# million files peaked there).
_PLOTS_WITH_CARD_FROM = 250_000
# --subset-by: the row group of a (subset, split) writer (a split's own writers: write.ROW_GROUP_BYTES).
SUBSET_ROW_GROUP_BYTES = 4 * 2**20


class _UserCache:
    def __repr__(self) -> str:
        return "USER_CACHE"


# build(cache_dir=USER_CACHE), the default: the user's cache folder (cache.default_dir()), read
# when the build starts, so $XDG_CACHE_HOME set after import counts.
USER_CACHE = _UserCache()


def build(source: str | os.PathLike | None = None, output: str | os.PathLike = "out", *,
          settings: BuildSettings | None = None, split_spec: SplitSpec | None = None,
          workers: int | None = None, progress: bool = True,
          card_template: str | os.PathLike | None = None, card: CardOptions | None = None,
          cache_dir: str | os.PathLike | None | _UserCache = USER_CACHE,
          subset_by: str | None = None, engine: str = "local", ray_address: str | None = None) -> BuildReport:
    """Build the dataset folder `output` from the article files under `source` (default: the
    bundled sample corpus). `cache_dir` keeps this build's per-file results (row or reject,
    signature) by path and file content, keyed on all that shapes a row, so a rebuild redoes
    only changed files (deleting it is always safe; see builder.cache). By default the user's
    cache folder, as for the `corpus` command; None: no cache. `card` sets what the card says
    that the data cannot tell (title, license, tags: card.CardOptions) over the template's YAML.
    `subset_by` (a column, e.g. language or feed) writes each value's rows under
    data/<name>/ as a config of its own, beside `default` over every row (builder.subsets);
    a row's split is the same either way. `engine` says where the tasks run (builder.run.ENGINES;
    "local": this machine's processes), `ray_address` which cluster a distributed engine joins.
    Returns the report; raises CorpusError subclasses for bad calls."""
    t0 = time.perf_counter()
    settings = settings or BuildSettings()
    split_spec = split_spec or DEFAULT_SPLIT
    src = Path(source) if source is not None else SAMPLE_DIR
    if not src.is_dir():
        raise SourceError(f"source folder {str(src)!r} does not exist or is not a folder")
    out = Path(output)
    _check_apart(src, out)
    check_before_reading(settings, split_spec, workers)
    check_subset_column(subset_by, ROW_SCHEMA)
    read_template(card_template, card)  # a bad template fails now, not after the whole read
    report = BuildReport(source=str(src), output=str(out))
    if cache_dir is USER_CACHE:
        cache_dir = default_dir()

    with output_lock(out), _storage_errors(out):
        cache = (BuildCache.for_build(cache_dir, src, settings, part_schema(settings.dedup.num_perm))
                 if cache_dir is not None else None)
        inputs = InputManifest()
        cores = os.cpu_count() or 1
        plotter = None
        with work_folder(out) as work:
            # The list of articles in a scratch file: in memory it was the largest thing held while
            # reading a million files (36 MB).
            found = discover(src, settings.suffixes, spool=work, exclude=settings.exclude)
            report.files_found = found.n_found
            report.ignored = found.ignored
            rejects: list[Reject] = list(found.rejects)
            if not len(found.articles):
                raise NoRowsError(no_articles_message(src, settings.suffixes, found.ignored))
            # The card's plots are drawn by a helper process that imports matplotlib on an idle core:
            # from the start when the readers leave a core free, else once reading is done. Started
            # with the build in every case, it added its 66 MB to the reading phase, the peak of a
            # 100,000-file build. A large build starts it with the card (_PLOTS_WITH_CARD_FROM).
            background = plots_in_background(len(found.articles), INLINE_BELOW)
            early = background and len(found.articles) < _PLOTS_WITH_CARD_FROM
            executor = executor_of_build(engine, workers, len(found.articles), ray_address)
            try:
                held = cache is not None and cache.acquire()  # else another build of this source holds it
                previous = cache.previous() if held else None
                if early and readers.count(workers) < cores:
                    plotter = BackgroundPlots()
                facts = read_all(found, settings, executor, progress, previous, work / "cache" if held else None,
                                 work, report, rejects, inputs, extra=_fact_columns(split_spec, subset_by))
                found.articles.close()
                if facts.table is None:
                    raise NoRowsError(all_rejected_message(src, Counter(r.reason for r in rejects)))
                log.info("read %d files in %.1f s; checking ids and duplicates", report.files_found,
                         time.perf_counter() - t0)
                if early and plotter is None:
                    plotter = BackgroundPlots()
                dups = find_duplicates(facts, settings.dedup, work, report, executor)
                rejects += dups.rejects
                log.info("assigning splits")
                plan = plan_splits(facts, dups, split_spec)
                report.rows = len(plan.kept)
                log.info("writing shards")
                with atomic_output(out) as tmp:
                    subsets = _write_shards(executor, facts, dups, plan, split_spec, tmp / "data", subset_by)
                    _audit_copies(plan, dups, facts, list(split_spec.names))
                    report.rejected = Counter(r.reason for r in rejects)
                    report.splits = plan.manifest["counts"]
                    report.audit = plan.manifest["audit"]
                    summary = {**report.to_dict(), "tool": {"name": "corpus-builder", "version": __version__},
                               "settings": settings.to_dict(), "input_manifest_sha256": inputs.hexdigest()}
                    # The folder's content depends on the input only: not on where it sat on this
                    # machine (a published card must not reveal local paths), nor on how fast the
                    # machine was.
                    for key in ("seconds", "source", "output", "from_cache"):
                        summary.pop(key)
                    if subsets is not None:
                        summary[SUBSETS_KEY] = subsets_summary(subset_by, subsets, list(split_spec.names))
                    rejects.sort(key=lambda r: r.path)
                    log.info("writing the card")
                    if background and plotter is None:
                        plotter = BackgroundPlots()
                    memory.for_card()
                    write_metadata(tmp, plan.manifest, summary, rejects=[r.to_dict() for r in rejects],
                                   card_template=card_template, card=card, plotter=plotter)
                executor.close()
                if held:
                    install_cache(cache, work, facts.n_tasks)
            except CacheError:
                if cache is not None:
                    cache.discard()
                raise
            finally:
                executor.close()
                found.articles.close()
                if plotter is not None:
                    plotter.close()
                if cache is not None:
                    cache.release()
    report.seconds = time.perf_counter() - t0
    for line in report.summary_lines():
        log.debug(line)
    return report


def _fact_columns(spec: SplitSpec, subset_by: str | None) -> tuple[str, ...]:
    """The row columns the split and the subsets read, beyond what every build hands back."""
    wanted = set(split_columns(spec)) | {subset_by} - {None}
    return tuple(sorted(wanted - set(FACTS) - set(LATER)))


def _write_shards(executor: Executor, facts: Facts, dups: Duplicates, plan: SplitPlan, spec: SplitSpec,
                  data_dir: Path, subset_by: str | None) -> dict | None:
    """Every shard written by a task, from the plan: each split's rows in id order (with
    `subset_by`, each (subset, split)'s, under data_dir/<subsets.subset_name(value)>/).
    Returns the subsets' rows per split (None without subsets)."""
    table = facts.table
    rows_of = dups.order[plan.kept]  # facts rows of the kept rows, in id order
    task, row, nbytes = (table.column(c).to_numpy() for c in ("task", "row", "nbytes"))
    clusters = np.array([dups.clusters[i] for i in plan.kept.tolist()], dtype=object)
    groups, buckets = np.array(plan.group, dtype=object), np.array(plan.bucket, dtype=np.int64)
    subsets: dict | None = None if subset_by is None else {}
    shards = []
    for k, name in enumerate(spec.names):
        mine = np.flatnonzero(plan.code == k)
        units = [(data_dir, mine)]
        if subset_by is not None:
            values = table.column(subset_by).take(rows_of[mine]).to_pylist()
            units = []
            for value in sorted(set(values), key=lambda v: (v is not None, v or "")):
                ours = mine[np.array([v == value for v in values], dtype=bool)]
                units.append((data_dir / subset_name(value), ours))
                subsets.setdefault(value, {})[name] = len(ours)
        for folder, ours in units:
            if not len(ours):
                continue  # an empty split writes nothing: `datasets` cannot load a split without rows
            r = rows_of[ours]
            shards += plan_split(str(facts.folder), folder, name, task[r], row[r], nbytes[r], clusters[ours].tolist(),
                                 groups[ours].tolist(), buckets[ours].tolist(),
                                 row_group_bytes=SUBSET_ROW_GROUP_BYTES if subset_by else ROW_GROUP_BYTES)
    for _ in executor.map(write_shard, enumerate(shards)):
        pass
    return subsets


def _audit_copies(plan: SplitPlan, dups: Duplicates, facts: Facts, names: list[str]) -> None:
    """Add the rows of later splits with a near or contained copy in the first split to the
    audit (splits.copy_leaks): from the detector's verified pairs, not from its clusters, so a
    split that keeps a story's copies apart shows here whatever the clusters say."""
    placed = np.full(len(dups.order), -1, dtype=np.int64)
    placed[plan.kept] = plan.code
    ids = facts.table.column("id")

    def split(position: int) -> str | None:
        return names[placed[position]] if placed[position] >= 0 else None

    def id_of(position: int) -> str:
        return ids[int(dups.order[position])].as_py()

    leaks = copy_leaks([(id_of(a), split(a), id_of(b), split(b)) for a, b in dups.copies.tolist()], names[0])
    audit = plan.manifest["audit"]
    audit.update(leaks)
    audit["ok"] = audit["ok"] and not leaks["copies_across_splits"]


def _check_apart(src: Path, out: Path) -> None:
    """The output is swapped in whole and its old folder deleted: an output that is or holds the
    source would delete the articles (`-o data` for `data/articles`), and one inside the source
    would be read as articles by the next build (its README.md becomes a row)."""
    s, o = src.resolve(), out.resolve()
    if o == s or s.is_relative_to(o):
        raise OutputError(f"output {str(out)!r} is or holds the source folder {str(src)!r}: the build "
                          "replaces the output whole, which would delete the articles; choose another folder")
    if o.is_relative_to(s):
        raise OutputError(f"output {str(out)!r} is inside the source folder {str(src)!r}: the next build "
                          "would read the dataset as articles; choose a folder outside it")


def write_dataset(out: Path, table: pa.Table, spec: SplitSpec, manifest: dict, summary: dict, *,
                  rejects: list[dict], card_template: str | os.PathLike | None = None,
                  subset_by: str | None = None) -> None:
    """Write a dataset folder atomically from rows in memory (a re-split): shards per split
    (per subset and split with `subset_by`), ledger, manifest, summary, card. `table` carries a `_split` column (None: dropped by the
    split, e.g. a time embargo). The caller holds `output_lock(out)`."""
    with atomic_output(out) as tmp:
        counts: dict[str | None, dict[str, int]] = {}
        for name, _ in spec.splits:
            part = table.filter(pc.equal(table.column("_split"), name)).drop_columns(["_split"])
            if subset_by is None:
                write_split(part, tmp / "data", name)
                continue
            writers: dict = {}
            _write_subsets(part.sort_by("id"), subset_by, name, writers, counts, tmp / "data", None)
            for writer in writers.values():
                writer.close()
        summary = dict(summary)
        summary.pop(SUBSETS_KEY, None)
        if subset_by is not None:
            summary[SUBSETS_KEY] = subsets_summary(subset_by, counts, [name for name, _ in spec.splits])
        write_metadata(tmp, manifest, summary, rejects=rejects, card_template=card_template)


def _write_subsets(rows: pa.Table, column: str, split: str, writers: dict, counts: dict, data_dir: Path,
                   lane: WriteLane | None) -> None:
    """One split's rows (id order) to the writers of their subsets, each in id order: a writer
    per (subset, split), made when its first row comes."""
    values = rows.column(column)
    for value in sorted(set(values.to_pylist()), key=lambda v: (v is not None, v or "")):
        mask = pc.is_null(values) if value is None else pc.fill_null(pc.equal(values, value), False)
        mine = rows.filter(mask)
        key = (subset_name(value), split)
        if key not in writers:
            # Smaller row groups than a split's: a writer's pending rows wait for its row group,
            # and a column of many values has many writers open at once.
            writers[key] = ShardWriter(data_dir / key[0], split, lane=lane, row_group_bytes=SUBSET_ROW_GROUP_BYTES)
        writers[key].write(mine)
        per_split = counts.setdefault(value, {})
        per_split[split] = per_split.get(split, 0) + mine.num_rows


def write_metadata(tmp: Path, manifest: dict, summary: dict, *, rejects: list[dict],
                   card_template: str | os.PathLike | None = None, card: CardOptions | None = None,
                   plotter: BackgroundPlots | None = None) -> None:
    """Everything beside the shards: ledger, split manifest, build summary, card."""
    with open(tmp / "rejects.jsonl", "w", encoding="utf-8") as fh:
        for r in rejects:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    write_manifest(tmp, manifest)
    (tmp / "build_summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                            encoding="utf-8")
    # README.md (the card, checked first), croissant.json and the plots under assets/.
    write_card(tmp, summary=summary, manifest=manifest, template=Path(card_template) if card_template else None,
               plotter=plotter, options=card)


def _set_split_columns(table: pa.Table, groups: list, buckets: list, clusters: list | None = None) -> pa.Table:
    # The schema's own fields (not null): the shard writer joins tables made here and elsewhere.
    names = [("split_group", groups, pa.string()), ("split_bucket", buckets, pa.int32())]
    if clusters is not None:
        names.append(("dup_cluster", clusters, pa.string()))
    for name, values, typ in names:
        where = table.schema.get_field_index(name)
        table = table.set_column(where, table.schema.field(where), pa.array(values, typ))
    return table


def assign_splits(table: pa.Table, spec: SplitSpec) -> tuple[pa.Table, dict]:
    """Assign every row a split by `spec` (pure: the rows' own columns decide); returns the
    table with split_group, split_bucket and a `_split` column, and the manifest."""
    if "_split" in table.column_names:
        table = table.drop_columns(["_split"])
    names = {"id", "content_sha256", spec.group, spec.stratify, spec.time_column} - {None}
    columns = {name: table.column(name).to_pylist() for name in names if name in table.column_names}
    assignment = assign(columns, spec)
    manifest = build_manifest(columns, assignment, spec)
    table = _set_split_columns(table, assignment.group, assignment.bucket)
    table = table.append_column("_split", pa.array(assignment.split, pa.string()))
    return table, manifest
