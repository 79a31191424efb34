"""The build: compose discover -> read (per file, in parallel) -> duplicates -> splits -> shards -> card.

Every input file ends as a row, a reject with a reason code, or an ignored non-article file,
and `BuildReport` shows that the counts add up. The output is written beside the target
folder and swapped in at the end, so a failed or interrupted build leaves the old one intact.
"""
from __future__ import annotations

import logging
import os
import time
from collections import Counter
from pathlib import Path

from splits import SplitSpec

from . import __version__, memory, readers
from .read import sources
from .cache import BuildCache, default_dir
from .card import CardOptions, InputManifest, read_template
from .card.plots import BackgroundPlots, plots_in_background
from .checks import all_rejected_message, check_before_reading, no_articles_message
from .read.discover import discover
from .duplicates import find_duplicates
from .errors import CacheError, NoRowsError, Reject, SourceError
from .folder import write_metadata
from .fingerprint import rows_fingerprint
from .output import MARKER, atomic_output, check_apart, output_lock, storage_errors as _storage_errors
from .parts import FACTS, LATER, part_schema, work_folder
from .reading import INLINE_BELOW, executor_of_build, install_cache, read_all
from .report import BuildReport
from .schema import ROW_SCHEMA
from .settings import BuildSettings
from .shards import facts_read, write_shards
from .splitting import audit_copies, plan_splits, split_columns
from .subsets import SUMMARY_KEY as SUBSETS_KEY, check_subset_column, subsets_summary

log = logging.getLogger(__name__)
SAMPLE_DIR = Path(__file__).with_name("sample")
# Copies of one story never straddle splits: group by duplicate cluster. With duplicates
# dropped (the default) every row is its own cluster, so the key is the row id, which adding
# articles never moves; with --keep-duplicates a cluster's rows move together.
DEFAULT_SPLIT = SplitSpec(group="dup_cluster")
# From this many files the plot helper starts with the card, not after reading: its 66 MB then
# no longer add to the peak of duplicate clustering and the shard pass (a rebuild of a million
# files peaked there).
_PLOTS_WITH_CARD_FROM = 250_000


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
    src = source if sources.is_remote(source) else Path(source) if source is not None else SAMPLE_DIR
    if sources.is_remote(src):
        sources.check_folder(src)  # on object storage, listed through fsspec (builder.read.sources)
    elif not src.is_dir():
        raise SourceError(f"source folder {str(src)!r} does not exist or is not a folder")
    out = Path(output)
    if not sources.is_remote(src):
        check_apart(src, out)
    check_before_reading(settings, split_spec, workers, engine=engine)
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
                memory.release()
                if facts.table is None:
                    raise NoRowsError(all_rejected_message(src, Counter(r.reason for r in rejects)))
                log.info("read %d files in %.1f s; checking ids and duplicates", report.files_found,
                         time.perf_counter() - t0)
                if early and plotter is None:
                    plotter = BackgroundPlots()
                executor.next_stage()
                dups = find_duplicates(facts, settings.dedup, work, report, executor)
                rejects += dups.rejects
                memory.release()
                executor.next_stage()
                log.info("assigning splits")
                plan = plan_splits(facts, dups, split_spec)
                facts = facts.narrowed(facts_read(subset_by))
                memory.release()
                report.rows = len(plan.kept)
                log.info("writing shards")
                with atomic_output(out) as tmp:
                    subsets, shards = write_shards(
                        executor, facts, dups, plan, split_spec, tmp / "data", subset_by,
                        salt=rows_fingerprint(settings.fingerprint, settings.rules_dirs),
                        previous=out / "data" if (out / MARKER).is_file() else None)
                    # No task runs after the shards: the workers and their fork server stop now, not
                    # after the card (idle, they held what their last shard took), and before the
                    # partitions move to the cache (idempotent).
                    executor.close()
                    audit_copies(plan, dups, facts, list(split_spec.names))
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
                                   card_template=card_template, card=card, plotter=plotter, shards=shards)
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
