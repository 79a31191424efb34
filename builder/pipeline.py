"""The build: compose discover -> read (per file, in parallel) -> duplicates -> splits -> shards -> card.

Every input file ends as a row, a reject with a reason code, or an ignored non-article file,
and `BuildReport` shows that the counts add up. The output is written beside the target
folder and swapped in at the end, so a failed or interrupted build leaves the old one intact.
"""
from __future__ import annotations

import bisect
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splits import SplitSpec, StreamingSplit, assign, build_manifest, copy_leaks, write_manifest

from . import __version__, memory, readers
from .cache import BuildCache, default_dir
from .card import CardOptions, InputManifest, read_template, write_card
from .checks import all_rejected_message, check_before_reading, no_articles_message
from .dedup import NO_DATE, DedupIndex, contain
from .discover import discover
from .errors import CacheError, NoRowsError, OutputError, Reject, SourceError
from .output import atomic_output, output_lock, storage_errors as _storage_errors
from .plots import BackgroundPlots, plots_in_background
from .reading import INLINE_BELOW, Staged, check_cached_rows, install_cache, read_all
from .report import BuildReport
from .runs import SEQ, SIGNATURE, PartitionedSpill, signatures_of, spill_folder, spill_schema
from .schema import ROW_SCHEMA
from .settings import BuildSettings
from .subsets import SUMMARY_KEY as SUBSETS_KEY, check_subset_column, subset_name, subsets_summary
from .write import ShardWriter, WriteLane, write_split

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
        cache = (BuildCache.for_build(cache_dir, src, settings, spill_schema(settings))
                 if cache_dir is not None else None)
        inputs = InputManifest()
        cores = os.cpu_count() or 1
        plotter = None
        with spill_folder(out) as work:
            # The list of articles in a scratch file: in memory it was the largest thing held while
            # reading a million files (36 MB).
            found = discover(src, settings.suffixes, spool=work, exclude=settings.exclude)
            report.files_found = found.n_found
            report.ignored = found.ignored
            rejects: list[Reject] = list(found.rejects)
            if not len(found.articles):
                raise NoRowsError(no_articles_message(src, settings.suffixes, found.ignored))
            # The card's plots are drawn by a helper process that imports matplotlib on an idle core:
            # from the start when the readers leave a core free, else once reading is done (the
            # stages after it run on one core). Started with the build in every case, it added its
            # 66 MB to the reading phase, the peak of a 100,000-file build. A large build starts it
            # with the card (_PLOTS_WITH_CARD_FROM).
            background = plots_in_background(len(found.articles), INLINE_BELOW)
            early = background and len(found.articles) < _PLOTS_WITH_CARD_FROM
            try:
                held = cache is not None and cache.acquire()  # else another build of this source holds it
                previous = cache.previous() if held else None
                if early and readers.count(workers) < cores:
                    plotter = BackgroundPlots()
                spill, staged = read_all(found, settings, workers, progress, previous,
                                          work / "cache" if held else None, work, report, rejects, inputs,
                                          engine=engine, ray_address=ray_address)
                found.articles.close()
                if report.files_found == len(rejects) + sum(report.ignored.values()):
                    raise NoRowsError(all_rejected_message(src, Counter(r.reason for r in rejects)))
                log.info("read %d files in %.1f s; checking ids and duplicates", report.files_found,
                         time.perf_counter() - t0)
                if early and plotter is None:
                    plotter = BackgroundPlots()
                dups = _find_duplicates(spill, settings, work, report)
                check_cached_rows(spill.base_rows, spill.base_expected)
                # The hash strategy places each row by its own group key: the shard pass assigns
                # the rows as it writes them. The time strategy needs every group's dates first.
                plan = None
                if split_spec.strategy != "hash":
                    log.info("assigning splits")
                    plan = _plan_splits(spill, split_spec, dups, report)
                log.info("writing shards")
                with atomic_output(out) as tmp:
                    plan = _write_shards(spill, split_spec, dups, plan, tmp / "data", staged=staged, report=report,
                                         subset_by=subset_by)
                    rejects += plan.rejects
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
                    if plan.subsets is not None:
                        summary[SUBSETS_KEY] = subsets_summary(subset_by, plan.subsets, list(split_spec.names))
                    rejects.sort(key=lambda r: r.path)
                    log.info("writing the card")
                    if background and plotter is None:
                        plotter = BackgroundPlots()
                    memory.for_card()
                    write_metadata(tmp, plan.manifest, summary, rejects=[r.to_dict() for r in rejects],
                                   card_template=card_template, card=card, plotter=plotter)
                if staged is not None:
                    install_cache(cache, staged, spill.n)
            except CacheError:
                if cache is not None:
                    cache.discard()
                raise
            finally:
                found.articles.close()
                if plotter is not None:
                    plotter.close()
                if cache is not None:
                    cache.release()
    report.seconds = time.perf_counter() - t0
    for line in report.summary_lines():
        log.debug(line)
    return report


@dataclass
class _Duplicates:
    """What dedup decided, by position in the id-ordered sequence of rows (repeated ids gone)."""

    verdicts: object                    # dedup.DedupArrays
    clustered: list[tuple[int, str]]    # (position, kept member's id) of rows not their cluster's kept member
    dropped: dict[int, str]             # position -> kept member's id, of the copies not written
    same_id: list[tuple[str, str]]      # (path, id) of files whose id an earlier file took
    kept_paths: dict[str, str]          # id -> path, of the files the ledger names as kept
    copies: np.ndarray                  # (position, position) of every verified near or contained pair


def _find_duplicates(spill: PartitionedSpill, settings: BuildSettings, work: Path, report: BuildReport) -> _Duplicates:
    """Pass 1: partitions in id order; a row whose id an earlier file (in path order) took is
    dropped; the rest go to the duplicate detector in id order, and its verdicts come back as
    arrays in that order."""
    dedup = DedupIndex(settings.dedup, folder=work / "dedup")
    same_id: list[tuple[str, str]] = []
    kept_paths: dict[str, str] = {}
    for part in spill.partitions(columns=["id", SEQ, "content_sha256", "date", "n_chars", "source_path",
                                          "warnings", SIGNATURE], keep=True):
        part, gone = _unique_ids(part)
        for path, row_id, first_path, warnings in gone:
            same_id.append((path, row_id))
            kept_paths[row_id] = first_path
            report.warnings.subtract(warnings)
        dates = pc.fill_null(pc.cast(part.column("date"), pa.int64()), NO_DATE)
        dedup.add_many(part.column("id").to_pylist(), part.column("content_sha256").to_pylist(),
                       signatures_of(part), date_keys=dates.to_pylist(), n_chars=part.column("n_chars").to_pylist())
    report.warnings = +report.warnings  # drop the zero counts
    log.info("clustering %d rows for duplicates", len(dedup))
    verdicts = dedup.results_arrays(_contained(spill, dedup.containment_candidates(), settings.dedup))
    report.dedup = dedup.stats()
    copies = dedup.copy_pairs()
    moved = np.flatnonzero(verdicts.kept != np.arange(len(verdicts.kept)))
    clustered = [(i, dedup.id(k)) for i, k in zip(moved.tolist(), verdicts.kept[moved].tolist())]
    dedup.close()
    dropped = {i: kid for i, kid in clustered if not verdicts.keep[i]}
    return _Duplicates(verdicts, clustered, dropped, same_id, kept_paths, copies)


def _contained(spill: PartitionedSpill, pairs: np.ndarray, settings) -> np.ndarray:
    """The containment candidates (shorter row, longer row: positions in the id-ordered sequence)
    verified exactly against their texts, read from the spill in two passes: the shorter sides'
    shingle sets first (kept: ~8 bytes a shingle of the candidate briefs), then each longer text's
    shingle sequence once, in its partition. Nothing else is held. Every pair that passes:
    results_arrays picks one story per brief."""
    if not len(pairs):
        return pairs
    shorts, longs = set(pairs[:, 0].tolist()), set(pairs[:, 1].tolist())
    by_long = np.argsort(pairs[:, 1], kind="stable")  # the pairs of each longer text, found by bisection
    longs_sorted = pairs[by_long, 1]
    short_sets: dict[int, np.ndarray] = {}
    verified = []
    for wanted in ("short", "long"):
        at = 0
        for part in spill.partitions(columns=["id", SEQ, "text"], keep=True):
            order, first = _id_order(part)
            unique, texts = order[first], part.column("text")  # a text is read only when its row is wanted

            def text(r: int) -> str:
                return texts[int(unique[r - rows.start])].as_py()

            rows = range(at, at + len(unique))
            at += len(unique)
            if wanted == "short":
                short_sets.update((r, contain.shingle_set(text(r), settings)) for r in rows if r in shorts)
                continue
            for r in rows:  # one longer text's shingles at a time: a few are whole web pages
                if r in longs:
                    mine = by_long[np.searchsorted(longs_sorted, r):np.searchsorted(longs_sorted, r, "right")]
                    seq = {r: contain.shingle_seq(text(r), settings)}
                    verified.append(contain.verify(pairs[mine], short_sets, seq, settings))
    return np.concatenate(verified) if verified else pairs[:0]


@dataclass
class _SplitPlan:
    manifest: dict
    assignment: object | None           # the whole Assignment (time strategy); None: placed per partition
    rejects: list[Reject]               # the duplicates' ledger lines
    subsets: dict | None = None         # --subset-by: value -> {split: rows written}


class _Ledger:
    """The ledger lines of the dropped copies, gathered as the rows pass in id order (repeated
    ids gone): each copy's path, and the path of the row it copies, met before or after it."""

    def __init__(self, dups: _Duplicates) -> None:
        self.dups = dups
        self.wanted = {int(dups.verdicts.kept[i]) for i in dups.dropped}
        self.kept_paths = dict(dups.kept_paths)
        self.dropped: list[tuple[str, int]] = []

    def see(self, ids: list[str], paths: list[str], at: int) -> None:
        """The rows at..at+len(ids) of the id-ordered sequence, with their ids and paths."""
        wanted, dropped = self.wanted, self.dups.dropped
        for k in range(len(ids)):
            if at + k in wanted:
                self.kept_paths[ids[k]] = paths[k]
            if at + k in dropped:
                self.dropped.append((paths[k], at + k))

    def rejects(self) -> list[Reject]:
        dups, kept_paths = self.dups, self.kept_paths
        rejects = [_dedup_reject(path, dups.verdicts, i, dups.dropped[i], kept_paths) for path, i in self.dropped]
        return rejects + [Reject(path, "duplicate_id", f"same id {i} as {kept_paths.get(i, 'an earlier file')}",
                                 duplicate_of=i) for path, i in dups.same_id]


def _split_columns(spec: SplitSpec) -> list[str]:
    """The columns the split and its manifest read (the dates only for the time strategy)."""
    time = spec.time_column if spec.strategy == "time" else None
    return sorted({"id", "content_sha256", spec.group, spec.stratify, time} - {None} & set(ROW_SCHEMA.names))


def _plan_splits(spill: PartitionedSpill, spec: SplitSpec, dups: _Duplicates, report: BuildReport) -> _SplitPlan:
    """Pass 1b, for the time strategy (it needs every group's dates before it places one): the
    columns the split needs, for the kept rows, in id order, as lists; and the ledger lines of
    the copies. (The hash strategy is planned by the shard pass as it writes.)"""
    names = _split_columns(spec)
    columns: dict[str, list] = {name: [] for name in names}
    ledger = _Ledger(dups)
    at = report.rows = 0
    for part in spill.partitions(columns=sorted(set(names) | {"id", SEQ, "source_path", "dup_cluster"}), keep=True):
        part, _ = _unique_ids(part)
        n = part.num_rows
        ledger.see(part.column("id").to_pylist(), part.column("source_path").to_pylist(), at)
        part = _apply_dedup(part, dups, at)
        at += n
        report.rows += part.num_rows
        for name in names:
            columns[name] += part.column(name).to_pylist()
    assignment = assign(columns, spec)
    return _SplitPlan(build_manifest(columns, assignment, spec), assignment, ledger.rejects())


def _write_shards(spill: PartitionedSpill, spec: SplitSpec, dups: _Duplicates, plan: _SplitPlan | None,
                  data_dir: Path, *, staged: Staged | None = None, report: BuildReport,
                  subset_by: str | None = None) -> _SplitPlan:
    """Pass 2: every column, in id order, each row to its split's shards. What goes where is
    worked out on a partition's small columns first; then each split's rows are copied once,
    in id order (one `take` a split), never the signatures. With `staged`, the rows this
    build computed (all its rows, if it compacts the cache) are kept as the cache's new layer.

    `plan` is the time strategy's; for the hash strategy (None) this pass plans the split as it
    goes, the rows streaming through StreamingSplit (running figures only): a row's split is its
    group key's, so a batch's assignment is the whole one's, restricted. Returns the plan.

    With `subset_by`, each split's rows go on to one writer per value of that column, under
    data_dir/<subsets.subset_name(value)>/; the plan's `subsets` counts them."""
    with WriteLane() as lane:
        return _write_shards_on(lane, spill, spec, dups, plan, data_dir, staged, report, subset_by)


def _write_shards_on(lane: WriteLane, spill: PartitionedSpill, spec: SplitSpec, dups: _Duplicates,
                     plan: _SplitPlan | None, data_dir: Path, staged: Staged | None,
                     report: BuildReport, subset_by: str | None = None) -> _SplitPlan:
    # The Parquet writes run on the lane's thread while this one reads and sorts the next
    # partition: at 100,000 files the zstd encoding was ~40 % of this pass, on one core.
    writers = {name: ShardWriter(data_dir, name, lane=lane) for name, _ in spec.splits} if subset_by is None else {}
    subsets: dict[str | None, dict[str, int]] = {}
    split_names = [name for name, _ in spec.splits]
    code = {name: k for k, name in enumerate(split_names)}  # None (dropped by the split): past the end
    stream = StreamingSplit(spec) if plan is None else None
    ledger = _Ledger(dups) if plan is None else None
    names = set(_split_columns(spec)) | {"id", spec.group, spec.stratify}
    at = done = 0
    # Each row's split code by its position (-1: not written), and the ids of the rows in copy
    # pairs: the leakage audit of near and contained copies, made after the last partition.
    placed_at = np.full(len(dups.verdicts.keep), -1, dtype=np.int8)
    paired = np.zeros(len(placed_at), dtype=bool)
    paired[dups.copies.ravel()] = True
    paired_ids: dict[int, str] = {}
    if plan is None:
        report.rows = 0
    save_to = staged.folder / f"L{staged.layer}" if staged is not None else None
    for part in spill.partitions(save_to=save_to, save_base=staged is not None and staged.compact):
        part = part.drop_columns([SIGNATURE])  # never written: not worth copying
        order, first = _id_order(part)
        order = order[first]  # unique ids, in id order: positions at..at+n of the sequence
        n = len(order)
        keep = dups.verdicts.keep[at:at + n]
        ids = pc.take(part.column("id"), pa.array(order)).to_pylist()
        if ledger is not None:
            ledger.see(ids, pc.take(part.column("source_path"), pa.array(order)).to_pylist(), at)
        clusters = _clusters(ids, dups, at)
        for i in np.flatnonzero(paired[at:at + n]).tolist():
            paired_ids[at + i] = ids[i]
        start = at
        at += n
        if not keep.all():
            order = order[keep]
            clusters = [c for c, k in zip(clusters, keep.tolist()) if k]
        n = len(order)
        if stream is not None:
            columns = {"dup_cluster": clusters}
            for name in names - {None, "dup_cluster"}:
                columns[name] = pc.take(part.column(name), pa.array(order)).to_pylist()
            placed = stream.add(columns)
            report.rows += n
            groups, buckets, splits = placed.group, placed.bucket, placed.split
        else:
            groups = plan.assignment.group[done:done + n]
            buckets = plan.assignment.bucket[done:done + n]
            splits = plan.assignment.split[done:done + n]
        done += n
        # Each split's rows copied on their own (id order kept): a slice of one copy for all
        # would pin the whole partition in a small split's pending rows until it flushes.
        codes = np.fromiter((code.get(x, len(split_names)) for x in splits), np.int64, n)
        placed_at[start + np.flatnonzero(keep)] = np.where(codes < len(split_names), codes, -1)
        body = part.drop_columns([SEQ])
        for k, name in enumerate(split_names):
            mine = np.flatnonzero(codes == k)
            if not len(mine):
                continue
            picked = mine.tolist()
            rows = _set_split_columns(body.take(pa.array(order[mine])), [groups[i] for i in picked],
                                      [buckets[i] for i in picked], [clusters[i] for i in picked])
            if subset_by is None:
                writers[name].write(rows)
                continue
            _write_subsets(rows, subset_by, name, writers, subsets, data_dir, lane)
    for writer in writers.values():
        writer.close()
    result = plan if stream is None else _SplitPlan(stream.manifest(), None, ledger.rejects())
    if subset_by is not None:
        result.subsets = subsets
    _audit_copies(result.manifest["audit"], dups.copies, placed_at, paired_ids, split_names)
    return result


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


def _audit_copies(audit: dict, copies: np.ndarray, placed_at: np.ndarray, ids: dict[int, str],
                  names: list[str]) -> None:
    """Add the rows of later splits with a near or contained copy in the first split to the
    audit (splits.copy_leaks): from the detector's verified pairs, not from its clusters, so a
    split that keeps a story's copies apart shows here whatever the clusters say."""
    def split(position: int) -> str | None:
        return names[placed_at[position]] if placed_at[position] >= 0 else None

    leaks = copy_leaks([(ids[a], split(a), ids[b], split(b)) for a, b in copies.tolist()], names[0])
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


def _unique_ids(part: pa.Table) -> tuple[pa.Table, list[tuple[str, str, str, list]]]:
    """Sort a partition by id (ties in path order) and drop the rows whose id an earlier file
    took; returns the rows kept and (path, id, kept path, warnings) of those dropped."""
    order, first = _id_order(part)
    part = part.take(pa.array(order))
    if first.all():
        return part, []
    ids = part.column("id").to_pylist()
    paths = part.column("source_path").to_pylist()
    warnings = part.column("warnings").to_pylist() if "warnings" in part.column_names else [[]] * len(ids)
    kept_path = {}
    for k in np.flatnonzero(first).tolist():
        kept_path[ids[k]] = paths[k]
    gone = [(paths[k], ids[k], kept_path[ids[k]], warnings[k]) for k in np.flatnonzero(~first).tolist()]
    return part.filter(pa.array(first)), gone


def _id_order(part: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The partition's row positions in id order (ties in path order), and which of them is
    the first of its id: the first file in path order keeps an id, later ones are dropped."""
    order = pc.sort_indices(part.select(["id", SEQ]), sort_keys=[("id", "ascending"), (SEQ, "ascending")])
    ids = pc.take(part.column("id"), order)
    first = np.ones(len(ids), dtype=bool)
    if len(ids) > 1:
        first[1:] = ~pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1)).to_numpy(zero_copy_only=False)
    return order.to_numpy(), first


def _apply_dedup(part: pa.Table, dups: _Duplicates, at: int) -> pa.Table:
    """Rows at..at+n of the id-ordered sequence (this partition, repeated ids gone): set
    dup_cluster and drop the copies that are not kept."""
    n = part.num_rows
    if not _clustered_in(dups, at, n):  # nobody here joined another's cluster, so nothing is dropped
        return part
    clusters = _clusters(part.column("id").to_pylist(), dups, at)
    where = part.schema.get_field_index("dup_cluster")
    # The schema's own field (not null): the shard writer joins partitions with and without dups.
    part = part.set_column(where, part.schema.field(where), pa.array(clusters, pa.string()))
    keep = dups.verdicts.keep[at:at + n]
    return part if keep.all() else part.filter(pa.array(keep))


def _clustered_in(dups: _Duplicates, at: int, n: int) -> list[tuple[int, str]]:
    """(position, kept member's id) of the rows at..at+n that are not their cluster's kept member."""
    lo = bisect.bisect_left(dups.clustered, (at, ""))
    return dups.clustered[lo:bisect.bisect_left(dups.clustered, (at + n, ""), lo)]


def _clusters(ids: list[str], dups: _Duplicates, at: int) -> list[str]:
    """dup_cluster of the rows at..at+len(ids) of the id-ordered sequence, whose ids these are."""
    clusters = list(ids)
    for i, kid in _clustered_in(dups, at, len(ids)):
        clusters[i - at] = kid
    return clusters


def _dedup_reject(path: str, verdicts, row: int, kept_id: str, kept_paths: dict[str, str]) -> Reject:
    reason = verdicts.REASONS[verdicts.reason[row]]
    what = {"duplicate": "the same text as",
            "near_duplicate": f"a near duplicate (similarity {float(verdicts.similarity[row]):.2f}) of",
            "contained": f"contained ({float(verdicts.similarity[row]):.2f} of its text) in a story kept as"}[reason]
    return Reject(path, reason, f"{what} {kept_paths.get(kept_id, 'the kept row')} (id {kept_id})",
                  duplicate_of=kept_id)


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
