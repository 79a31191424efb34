"""The build: compose discover -> read/clean (per file, in parallel) -> split -> write -> card.

Every input file ends as a row, a reject with a reason code, or an ignored non-article file,
and `BuildReport` shows that the counts add up. The output is written beside the target
folder and swapped in at the end, so a failed or interrupted build leaves the old one intact.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from splits import SplitSpec, assign, build_manifest, write_manifest

from . import __version__
from .article import FileResult, process_file
from .card import InputManifest, write_card
from .dedup import Deduplicator
from .discover import discover
from .errors import OutputError, Reject, SourceError
from .output import atomic_output
from .settings import BuildSettings
from .write import rows_to_table, write_split

log = logging.getLogger(__name__)
SAMPLE_DIR = Path(__file__).with_name("sample")
# Copies of one story never straddle splits: group by duplicate cluster. With duplicates
# dropped (the default) every row is its own cluster, so the key is the row id, which adding
# articles never moves; with --keep-duplicates a cluster's rows move together.
DEFAULT_SPLIT = SplitSpec(group="dup_cluster")
_BATCH = 1000
_INLINE_BELOW = 200  # fewer files than this: worker start-up costs more than it saves


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

    @property
    def balanced(self) -> bool:
        return self.rows + sum(self.rejected.values()) + sum(self.ignored.values()) == self.files_found

    def to_dict(self) -> dict:
        return {
            "source": self.source, "output": self.output, "files_found": self.files_found, "rows": self.rows,
            "rejected": dict(sorted(self.rejected.items())), "ignored": dict(sorted(self.ignored.items())),
            "warnings": dict(sorted(self.warnings.items())), "splits": self.splits, "dedup": self.dedup,
            "accounting_ok": self.balanced, "seconds": round(self.seconds, 3),
        }

    def summary_lines(self) -> list[str]:
        def fmt(c: Counter) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"

        return [
            f"files found {self.files_found}: rows {self.rows} + rejected {sum(self.rejected.values())}"
            f" + ignored {sum(self.ignored.values())}" + ("" if self.balanced else "  (MISMATCH: please report)"),
            f"rejected: {fmt(self.rejected)}",
            f"ignored by suffix: {fmt(self.ignored)}",
            f"warnings: {fmt(self.warnings)}",
            f"written to {self.output} in {self.seconds:.1f} s",
        ]


def build(source: str | os.PathLike | None = None, output: str | os.PathLike = "out", *,
          settings: BuildSettings | None = None, split_spec: SplitSpec | None = None,
          workers: int | None = None, progress: bool = True,
          card_template: str | os.PathLike | None = None,
          cache_dir: str | os.PathLike | None = None) -> BuildReport:
    """Build the dataset folder `output` from the article files under `source` (default: the
    bundled sample corpus). `cache_dir` keeps duplicate-detection signatures between builds
    (deleting it is always safe). Returns the report; raises CorpusError subclasses for bad calls."""
    t0 = time.perf_counter()
    settings = settings or BuildSettings()
    split_spec = split_spec or DEFAULT_SPLIT
    src = Path(source) if source is not None else SAMPLE_DIR
    if not src.is_dir():
        raise SourceError(f"source folder {str(src)!r} does not exist or is not a folder")
    out = Path(output)
    report = BuildReport(source=str(src), output=str(out))

    found = discover(src, settings.suffixes)
    report.files_found = found.n_found
    report.ignored = found.ignored
    rejects: list[Reject] = list(found.rejects)
    paths: dict[str, str] = {}  # id -> source path
    tables: list[pa.Table] = []
    batch: list[dict] = []
    inputs = InputManifest()
    with Deduplicator(settings.dedup, cache_dir=cache_dir) as dedup:
        for result in _process_all(found.articles, settings, workers, progress):
            inputs.add(result.path, result.sha256 or "unread")
            if result.reject is not None:
                rejects.append(result.reject)
                continue
            row = result.row
            if row["id"] in paths:
                rejects.append(Reject(result.path, "duplicate_id", f"same id {row['id']} as {paths[row['id']]}"))
                continue
            paths[row["id"]] = result.path
            report.warnings.update(result.warnings)
            dedup.add(row["id"], row["text"], date=row["date"], n_chars=row["n_chars"],
                      text_hash=row["content_sha256"])
            batch.append(row)
            if len(batch) >= _BATCH:
                tables.append(_finish_batch(batch))
                batch = []
        if batch:
            tables.append(_finish_batch(batch))
        verdicts = {v.id: v for v in dedup.results()}
        stats = dedup.stats()
        # What the cache saved depends on the machine's history, not the input: log it, but keep
        # it out of the dataset folder, whose bytes depend on the input alone.
        log.info("duplicate detection: %d signatures computed, cache hits %s", stats.pop("signed", 0),
                 stats.pop("cache_hits", "n/a"))
        stats.pop("cache_misses", None)
        report.dedup = stats
    table = pa.concat_tables(tables) if tables else rows_to_table([])
    table, dropped = _apply_dedup(table, verdicts, paths)
    rejects += dropped
    report.rows = table.num_rows
    report.rejected = Counter(r.reason for r in rejects)

    table, manifest = assign_splits(table, split_spec)
    report.splits = manifest["counts"]
    report.audit = manifest["audit"]
    summary = {**report.to_dict(), "tool": {"name": "corpus-builder", "version": __version__},
               "settings": settings.to_dict(), "input_manifest_sha256": inputs.hexdigest()}
    # The folder's content depends on the input only: not on where it sat on this machine
    # (a published card must not reveal local paths), nor on how fast the machine was.
    for key in ("seconds", "source", "output"):
        summary.pop(key)
    rejects.sort(key=lambda r: r.path)
    write_dataset(out, table, split_spec, manifest, summary, rejects=[r.to_dict() for r in rejects],
                  card_template=card_template)
    report.seconds = time.perf_counter() - t0
    for line in report.summary_lines():
        log.debug(line)
    return report


def write_dataset(out: Path, table: pa.Table, spec: SplitSpec, manifest: dict, summary: dict, *,
                  rejects: list[dict], card_template: str | os.PathLike | None = None) -> None:
    """Write a dataset folder atomically: shards per split, ledger, manifest, summary, card.
    `table` carries a `_split` column (None: dropped by the split, e.g. a time embargo)."""
    with atomic_output(out) as tmp:
        for name, _ in spec.splits:
            part = table.filter(pc.equal(table.column("_split"), name)).drop_columns(["_split"])
            write_split(part, tmp / "data", name)
        with open(tmp / "rejects.jsonl", "w", encoding="utf-8") as fh:
            for r in rejects:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        write_manifest(tmp, manifest)
        (tmp / "build_summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                                encoding="utf-8")
        # README.md (the card, checked first), croissant.json and the plots under assets/.
        write_card(tmp, summary=summary, manifest=manifest, template=Path(card_template) if card_template else None)


def _finish_batch(rows: list[dict]) -> pa.Table:
    for row in rows:
        # Filled in once every row has been seen: the cluster by dedup, the group by the split.
        row.setdefault("dup_cluster", row["id"])
        row.setdefault("split_group", "")
        row.setdefault("split_bucket", 0)
    return rows_to_table(rows)


def _apply_dedup(table: pa.Table, verdicts: dict, paths: dict[str, str]) -> tuple[pa.Table, list[Reject]]:
    """Set dup_cluster on every row; drop the duplicates that are not kept, as rejects that
    name the kept row."""
    ids = table.column("id").to_pylist()
    clusters = [verdicts[i].dup_cluster for i in ids]
    table = table.set_column(table.schema.get_field_index("dup_cluster"), "dup_cluster",
                             pa.array(clusters, pa.string()))
    keep = [verdicts[i].keep for i in ids]
    rejects = []
    for i, kept in zip(ids, keep):
        if not kept:
            v = verdicts[i]
            what = "the same text as" if v.reason == "duplicate" else f"a near duplicate (similarity {v.similarity:.2f}) of"
            rejects.append(Reject(paths[i], v.reason, f"{what} {paths[v.duplicate_of]} (id {v.duplicate_of})",
                                  duplicate_of=v.duplicate_of))
    return (table if all(keep) else table.filter(pa.array(keep))), rejects


def assign_splits(table: pa.Table, spec: SplitSpec) -> tuple[pa.Table, dict]:
    """Assign every row a split by `spec` (pure: the rows' own columns decide); returns the
    table with split_group, split_bucket and a `_split` column, and the manifest."""
    if "_split" in table.column_names:
        table = table.drop_columns(["_split"])
    names = {"id", spec.group, spec.stratify, spec.time_column} - {None}
    columns = {name: table.column(name).to_pylist() for name in names if name in table.column_names}
    assignment = assign(columns, spec)
    manifest = build_manifest(columns | {"content_sha256": table.column("content_sha256").to_pylist()},
                              assignment, spec)
    table = table.set_column(table.schema.get_field_index("split_group"), "split_group",
                             pa.array(assignment.group, pa.string()))
    table = table.set_column(table.schema.get_field_index("split_bucket"), "split_bucket",
                             pa.array(assignment.bucket, pa.int32()))
    table = table.append_column("_split", pa.array(assignment.split, pa.string()))
    return table, manifest


def _process_all(articles: list[tuple[str, str]], settings: BuildSettings, workers: int | None,
                 progress: bool) -> Iterator[FileResult]:
    from tqdm import tqdm

    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(articles), unit="file", desc="reading", disable=not progress, leave=False)
    try:
        if workers == 1 or len(articles) < _INLINE_BELOW:
            for item in articles:
                yield read_and_process(item, settings)
                bar.update()
            return
        # forkserver: workers start from a clean process, not a fork of one holding Arrow threads.
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                 initargs=(settings,)) as pool:
            for result in pool.map(_worker_task, articles, chunksize=64):
                yield result
                bar.update()
    finally:
        bar.close()


def read_and_process(item: tuple[str, str], settings: BuildSettings) -> FileResult:
    """Read one file (respecting the size limit before reading) and process its bytes."""
    rel, path = item
    try:
        size = os.path.getsize(path)
        if size > settings.max_file_bytes:
            # Not read, so in the input manifest by size: what the reject was decided on.
            return FileResult(rel, reject=Reject(rel, "too_large",
                                                 f"{size:,} bytes is over the {settings.max_file_bytes:,}-byte limit"),
                              sha256=f"size:{size}")
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return FileResult(rel, reject=Reject(rel, "unreadable", f"cannot read: {exc.strerror or exc}"))
    result = process_file(rel, data, settings)
    result.sha256 = hashlib.sha256(data).hexdigest()
    return result


_WORKER_SETTINGS: BuildSettings | None = None


def _init_worker(settings: BuildSettings) -> None:
    global _WORKER_SETTINGS
    _WORKER_SETTINGS = settings


def _worker_task(item: tuple[str, str]) -> FileResult:
    assert _WORKER_SETTINGS is not None
    return read_and_process(item, _WORKER_SETTINGS)
