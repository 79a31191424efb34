"""Applying dedup to a build: repeated ids, exact, near and contained copies, from the rows' facts.

The driver works on the read stage's facts alone (ids, text hashes, signatures, dates, sizes):
rows in id order, a row whose id an earlier file (in path order) took is dropped, the others
go to the detector (builder.dedup) in that order. Containment candidates are verified against
their texts by tasks that read the texts from the partitions. What comes back is by position
in that id-ordered sequence: each row's verdict, its cluster, the ledger lines of the copies.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .dedup import NO_DATE, DedupArrays, DedupIndex, DedupSettings, contain
from .dedup.store import compact
from .errors import Reject
from .parts import digests64, take_rows
from .reading import Facts
from .report import BuildReport
from .run import Executor

log = logging.getLogger(__name__)
_BATCH = 8192  # rows handed to the detector at a time
_PAIRS_PER_TASK = 512  # containment candidates a verification task reads the texts of


@dataclass
class Duplicates:
    """What dedup decided. `order`: the facts' rows in id order, repeated ids gone (position i
    of the sequence is facts row order[i]); the rest is by position."""

    order: np.ndarray
    verdicts: DedupArrays
    cluster_rows: np.ndarray            # dup_cluster: the facts row of the kept member (a row's own when unique)
    copies: np.ndarray                  # (position, position) of every verified near or contained pair
    rejects: list[Reject]               # the ledger lines: repeated ids and the copies not kept


def find_duplicates(facts: Facts, settings: DedupSettings, work: Path, report: BuildReport,
                    executor: Executor) -> Duplicates:
    table = facts.table
    order, first = _id_order(table)
    ids = table.column("id")
    rejects = _repeated_ids(facts, order, first, report)
    order = order[first]
    dedup = DedupIndex(settings, folder=work / "dedup", run=partial(_run, executor))
    dates, n_chars = table.column("date"), table.column("n_chars").to_numpy()
    for start in range(0, len(order), _BATCH):  # Python strings for a batch at a time, never for every row
        rows = order[start:start + _BATCH]
        taken = pa.array(rows)
        date_keys = pc.fill_null(pc.cast(dates.take(taken), pa.int64()), NO_DATE).to_numpy()
        dedup.add_many(ids.take(taken).to_pylist(), digests64(table.column("content_sha256").take(taken)),
                       facts.signature_rows(rows), date_keys=date_keys.tolist(), n_chars=n_chars[rows].tolist())
    log.info("clustering %d rows for duplicates", len(dedup))
    candidates = dedup.containment_candidates()
    verdicts = dedup.results_arrays(_verify_contained(candidates, facts, order, settings, executor))
    report.dedup = dedup.stats()
    copies = dedup.copy_pairs()
    dedup.close()
    moved = np.flatnonzero(verdicts.kept != np.arange(len(verdicts.kept)))
    cluster_rows = order.copy()
    cluster_rows[moved] = order[verdicts.kept[moved]]
    gone = moved[~verdicts.keep[moved]]
    kept = verdicts.kept[gone]
    paths = _paths(facts, np.concatenate([order[gone], order[kept]]))
    for n, (i, k) in enumerate(zip(gone.tolist(), kept.tolist())):
        rejects.append(_dedup_reject(paths[n], verdicts, i, ids[int(order[k])].as_py(), paths[len(gone) + n]))
    return Duplicates(order, verdicts, cluster_rows, copies, rejects)


def _paths(facts: Facts, rows: np.ndarray) -> list[str]:
    """The source paths of facts rows `rows`, read from the partitions: the facts leave them
    out (at a million rows they were 90 MB of the driver's memory), and only the ledger's
    lines need them."""
    if not len(rows):
        return []
    task_of, row_of = facts.handles()
    return take_rows(facts.folder, task_of[rows], row_of[rows], ["source_path"]).column("source_path").to_pylist()


def _run(executor: Executor, fn, tasks: list):
    """The dedup index's tasks (its candidate searches) on the build's executor, results in task order."""
    return (result for _, result in executor.map(fn, enumerate(tasks)))


def _id_order(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The rows in id order (ties in path order), and which of them is the first of its id:
    the first file in path order keeps an id, later ones are dropped."""
    order = pc.sort_indices(table.select(["id", "file"]), sort_keys=[("id", "ascending"), ("file", "ascending")])
    ids = pc.take(table.column("id"), order)
    first = np.ones(len(ids), dtype=bool)
    if len(ids) > 1:
        first[1:] = ~pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1)).to_numpy(zero_copy_only=False)
    return compact(order.to_numpy()), first  # int32: the driver holds it through dedup, split and shards


def _repeated_ids(facts: Facts, order: np.ndarray, first: np.ndarray, report: BuildReport) -> list[Reject]:
    """The ledger lines of the rows whose id an earlier file took; their warnings uncounted."""
    gone = np.flatnonzero(~first)
    if not len(gone):
        return []
    ids, warnings = (facts.table.column(c) for c in ("id", "warnings"))
    # The kept row of each id is the first of its run in id order: the last first row before it.
    kept = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
    paths = _paths(facts, np.concatenate([order[gone], order[kept[gone]]]))
    rejects = []
    for n, k in enumerate(gone.tolist()):
        r = int(order[k])
        report.warnings.subtract(warnings[r].as_py())
        rejects.append(Reject(paths[n], "duplicate_id", f"same id {ids[r].as_py()} as {paths[len(gone) + n]}",
                              duplicate_of=ids[r].as_py()))
    report.warnings = +report.warnings  # drop the zero counts
    return rejects


def _verify_contained(pairs: np.ndarray, facts: Facts, order: np.ndarray, settings: DedupSettings,
                      executor: Executor) -> np.ndarray:
    """The containment candidates (shorter, longer: positions) verified exactly against their
    texts by tasks, each reading the texts of a few hundred pairs from the partitions."""
    if not len(pairs):
        return pairs
    pairs = pairs[np.argsort(pairs[:, 1], kind="stable")]  # a longer text's pairs in one task
    task_of, row_of = facts.handles()
    tasks = []
    for start in range(0, len(pairs), _PAIRS_PER_TASK):
        mine = pairs[start:start + _PAIRS_PER_TASK]
        rows = order[np.unique(mine)]
        tasks.append((start, (str(facts.folder), mine, np.unique(mine), task_of[rows], row_of[rows])))
    verified = [result for _, result in executor.map(partial(verify_task, settings), tasks)]
    return np.concatenate(verified) if verified else pairs[:0]


def verify_task(settings: DedupSettings, payload: tuple) -> np.ndarray:
    """A verification task: (partitions, pairs of positions, the positions they use, their
    handles) -> the pairs that pass, with their containment (contain.verify_texts)."""
    folder, pairs, positions, tasks, rows = payload
    texts = take_rows(folder, tasks, rows, ["text"]).column("text").to_pylist()
    text_of = dict(zip(positions.tolist(), texts))
    return contain.verify_texts(pairs, text_of.__getitem__, settings)


def _dedup_reject(path: str, verdicts: DedupArrays, row: int, kept_id: str, kept_path: str) -> Reject:
    reason = verdicts.REASONS[verdicts.reason[row]]
    what = {"duplicate": "the same text as",
            "near_duplicate": f"a near duplicate (similarity {float(verdicts.similarity[row]):.2f}) of",
            "contained": f"contained ({float(verdicts.similarity[row]):.2f} of its text) in a story kept as"}[reason]
    return Reject(path, reason, f"{what} {kept_path} (id {kept_id})", duplicate_of=kept_id)
