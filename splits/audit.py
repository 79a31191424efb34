"""Leakage audit of an assignment: what a user of the splits would want proven, as a JSON-safe dict.

It checks the outcome, not the rules that produced it, so it also catches a bug in them:
exact-duplicate texts in two splits, groups in two splits, and for `time` whether each
split's dates all precede the next split's by more than the embargo. `copy_leaks` adds the
near and contained copies a builder found (pairs of rows, not its clusters): a test or
validation row with such a copy in the first split leaks its story.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .assign import _DAY_US, Assignment, _iso, _times

EXAMPLES = 5  # offending keys listed per check, enough to start debugging


def audit(columns: Mapping[str, Sequence], assignment: Assignment, *, text_hash_column: str = "content_sha256") -> dict:
    """Counts, drops and leaks of `assignment` over `columns` (the rows it was computed from).

    duplicate_texts_across_splits is None when `text_hash_column` is not among the columns.
    `ok` is False when any check fails.
    """
    spec = assignment.spec
    split = assignment.split
    straddling = _spread(assignment.group, split)
    report: dict = {
        "counts": assignment.counts(),
        "dropped": assignment.dropped(),
        "group_straddles": len(straddling),
        "group_straddle_examples": straddling[:EXAMPLES],
        "duplicate_texts_across_splits": None,
        "duplicate_text_examples": [],
    }
    if text_hash_column in columns:
        duplicated = _spread(columns[text_hash_column], split)
        report["duplicate_texts_across_splits"] = len(duplicated)
        report["duplicate_text_examples"] = duplicated[:EXAMPLES]
    ok = not straddling and not report["duplicate_texts_across_splits"]
    if spec.strategy == "time":
        report["time"] = _time_report(columns, assignment)
        ok = ok and report["time"]["order_ok"]
    if spec.stratify is not None:
        report["strata"] = _strata_report(columns[spec.stratify], assignment)
    report["ok"] = ok
    return report


def copy_leaks(pairs: Sequence[tuple[str, str | None, str, str | None]], first_split: str) -> dict:
    """The rows of later splits with a near or contained copy in `first_split` (the training
    split), from pairs (id, its split, id of the copy, its split); None for a row not in any
    split (dropped as a duplicate or by the split). As a JSON-safe dict to merge into an audit."""
    leaking = set()
    for a, split_a, b, split_b in pairs:
        if split_a is None or split_b is None or split_a == split_b:
            continue
        if split_a == first_split:
            leaking.add(b)
        elif split_b == first_split:
            leaking.add(a)
    return {"copies_across_splits": len(leaking), "copy_examples": sorted(leaking)[:EXAMPLES]}


def format_audit(report: dict) -> str:
    """The audit as a few lines for a terminal."""
    counts = ", ".join(f"{name} {n:,}" for name, n in report["counts"].items())
    dropped = report["dropped"]
    lines = [f"splits: {counts}; dropped: embargo {dropped['embargo']:,}, crossing a boundary {dropped['crossing']:,}"]
    dups = report["duplicate_texts_across_splits"]
    lines.append(f"duplicate texts across splits: {'not checked' if dups is None else dups}")
    lines.append(f"groups in more than one split: {report['group_straddles']}")
    if "copies_across_splits" in report:
        lines.append(f"rows with a near or contained copy in train: {report['copies_across_splits']}")
    if "time" in report:
        t = report["time"]
        gap = "n/a" if t["gap_days"] is None else f"{t['gap_days']:.2f} days"
        lines.append(
            f"latest train date {t['latest_train_date']} vs earliest test date {t['earliest_test_date']} (gap {gap})"
        )
        lines.append(f"undated rows (placed by hash, never in the last split): {t['undated']:,}")
    if "strata" in report:
        worst = max(report["strata"], key=lambda s: s["deviation_points"], default=None)
        if worst is not None:
            lines.append(
                f"strata: {len(report['strata'])}; largest share deviation {worst['deviation_points']} points "
                f"(stratum {worst['stratum']!r}, {worst['rows']:,} rows)"
            )
    lines.append("audit: OK" if report["ok"] else "audit: FAILED")
    return "\n".join(lines)


def _spread(keys: Sequence, split: Sequence[str | None]) -> list[str]:
    """Sorted keys whose rows sit in more than one split (dropped rows aside)."""
    first: dict = {}
    spread = set()
    for key, name in zip(keys, split):
        if name is None or key is None:
            continue
        seen = first.setdefault(key, name)
        if seen != name:
            spread.add(key)
    return sorted(spread)


def _time_report(columns: Mapping[str, Sequence], assignment: Assignment) -> dict:
    spec = assignment.spec
    names = spec.names
    lo: dict[str, int] = {}
    hi: dict[str, int] = {}
    times = _times(columns[spec.time_column], columns["id"], spec.time_column)
    for t, name in zip(times, assignment.split):
        if t is None or name is None:
            continue
        if name not in lo or t < lo[name]:
            lo[name] = t
        if name not in hi or t > hi[name]:
            hi[name] = t
    embargo = round(spec.embargo_days * _DAY_US)
    # Each split's dates must all precede the next non-empty split's by more than the embargo.
    dated = [name for name in names if name in lo]
    order_ok = all(hi[a] + embargo < lo[b] for a, b in zip(dated, dated[1:]))
    first, last = names[0], names[-1]
    gap = (lo[last] - hi[first]) / _DAY_US if first in hi and last in lo else None
    return {
        "cutoffs": list(assignment.cutoffs),
        "embargo_days": spec.embargo_days,
        "ranges": {name: [_iso(lo[name]), _iso(hi[name])] if name in lo else None for name in names},
        "latest_train_date": _iso(hi[first]) if first in hi else None,
        "earliest_test_date": _iso(lo[last]) if last in lo else None,
        "gap_days": None if gap is None else round(gap, 6),
        "undated": assignment.undated,
        "order_ok": order_ok,
    }


def _strata_report(strata: Sequence, assignment: Assignment) -> list[dict]:
    return strata_report(strata_counts(strata, assignment.split, assignment.spec.names, {}), assignment.spec)


def strata_counts(strata: Sequence, split: Sequence[str | None], names: Sequence[str], counts: dict) -> dict:
    """Add rows per (stratum, split) to `counts` (dropped rows aside); returns it."""
    for stratum, name in zip(strata, split):
        if name is not None:
            per = counts.setdefault(stratum, dict.fromkeys(names, 0))
            per[name] += 1
    return counts


def strata_report(counts: dict, spec) -> list[dict]:
    """Per stratum: rows, rows per split and the largest deviation from the split ratios."""
    out = []
    for stratum in sorted(counts, key=lambda s: (s is not None, s)):
        per = counts[stratum]
        rows = sum(per.values())
        deviation = max(abs(per[name] / rows - ratio) for name, ratio in spec.splits)
        out.append({"stratum": stratum, "rows": rows, "counts": per, "deviation_points": round(100 * deviation, 2)})
    return out
