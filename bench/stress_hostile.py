#!/usr/bin/env python3
"""Stress run: build make_corpus.py's hostile mix and check the accounting file by file.

    python bench/stress_hostile.py                          # 50,000 files in /tmp/h50k, 2 workers
    python bench/stress_hostile.py --n 10000 --corpus /tmp/h10k --workers 1

The corpus (and its truth file, CORPUS.truth.jsonl beside it) is made once by
../shared/tools/make_corpus.py --mix hostile, then `corpus build CORPUS -o OUT` runs in its own
process. Checked against the truth: every `reject` file is in rejects.jsonl, every `row` file is
a row or was dropped by duplicate detection (duplicate / near_duplicate / duplicate_id: still
accounted, with duplicate_of), every `ignore` file is counted as ignored and nowhere else, and
files found = rows + rejected + ignored. Prints the accounting by kind, the wall time, docs/s,
and peak memory: the largest sum of RSS over the build and its workers (sampled every 50 ms),
and the largest single process (ru_maxrss). Exit status 1 when a file is unaccounted for.
Too slow for the test suite (minutes); tests/test_shared_corpus.py runs 600 files of the mix.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from measure import measure

HERE = Path(__file__).resolve().parent
MAKE_CORPUS = HERE.parents[1] / "shared" / "tools" / "make_corpus.py"
DEDUP = {"duplicate", "near_duplicate", "duplicate_id"}


def run_build(corpus: Path, out: Path, workers: int) -> tuple[float, int, int, str]:
    """(seconds, peak tree RSS, peak single-process RSS, output) of one `corpus build`."""
    cmd = [sys.executable, "-m", "builder.cli", "build", str(corpus), "-o", str(out), "--workers", str(workers),
           "--quiet", "--no-cache"]
    seconds, peak, single, code, out_text, _ = measure(cmd, cwd=HERE.parent)
    if code not in (0, 1):
        sys.exit(f"stress: the build failed ({code}):\n{out_text[-3000:]}")
    return seconds, peak, single, out_text


def check(truth: list[dict], out: Path) -> tuple[dict, list[str]]:
    """Accounting by kind, and a line for every file that is not where the truth says."""
    import pyarrow.parquet as pq

    rows = set()
    for path in sorted((out / "data").glob("*.parquet")):
        rows.update(pq.read_table(path, columns=["source_path"]).column("source_path").to_pylist())
    rejects = {}
    for line in (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        rejects[r["path"]] = r["reason"]
    summary = json.loads((out / "build_summary.json").read_text(encoding="utf-8"))
    table: dict[str, Counter] = defaultdict(Counter)
    wrong = []
    for t in truth:
        path, kind, expect = t["path"], t["kind"], t["expect"]
        if expect == "row":
            if path in rows:
                got = "row"
            elif rejects.get(path) in DEDUP:
                got = "deduplicated"
            else:
                got = f"WRONG: {rejects.get(path, 'missing')}"
        elif expect == "reject":
            got = f"reject:{rejects[path]}" if path in rejects and path not in rows else (
                "WRONG: row" if path in rows else "WRONG: missing")
        else:  # ignore
            got = "ignored" if path not in rows and path not in rejects else "WRONG: read"
        table[kind][got] += 1
        if got.startswith("WRONG"):
            wrong.append(f"{kind:<15} expected {expect:<7} got {got[7:]:<15} {path}")
    n_ignore = sum(t["expect"] == "ignore" for t in truth)
    if sum(summary["ignored"].values()) != n_ignore:
        wrong.append(f"ignored: the build counted {sum(summary['ignored'].values())}, the truth has {n_ignore}")
    found = summary["rows"] + sum(summary["rejected"].values()) + sum(summary["ignored"].values())
    if not (summary["files_found"] == found == len(truth) == len(rows) + len(rejects) + n_ignore):
        wrong.append(f"totals: files found {summary['files_found']}, rows + rejected + ignored {found}, "
                     f"truth {len(truth)}")
    return table, wrong


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50_000, help="files in the corpus (default 50,000)")
    ap.add_argument("--corpus", type=Path, help="corpus folder (default /tmp/h{n/1000}k); made when absent")
    ap.add_argument("--out", type=Path, help="dataset folder (default CORPUS_out)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    corpus = args.corpus or Path(f"/tmp/h{args.n // 1000}k")
    out = args.out or corpus.with_name(corpus.name + "_out")
    truth_file = corpus.with_name(corpus.name + ".truth.jsonl")
    if not corpus.exists():
        if not MAKE_CORPUS.exists():
            sys.exit(f"stress: {MAKE_CORPUS} is not here: give --corpus with its .truth.jsonl beside it")
        subprocess.run([sys.executable, str(MAKE_CORPUS), str(corpus), "--n", str(args.n), "--mix", "hostile"],
                       check=True)
    truth = [json.loads(line) for line in truth_file.read_text(encoding="utf-8").splitlines()]
    size = sum(f.stat().st_size for f in corpus.rglob("*") if f.is_file())
    print(f"corpus: {corpus} ({len(truth):,} files, {size / 2**20:,.0f} MiB); building to {out} "
          f"with {args.workers} workers ...", flush=True)
    seconds, tree_peak, single_peak, err = run_build(corpus, out, args.workers)
    table, wrong = check(truth, out)

    print(f"\n{'kind':<15} {'files':>7}  outcome")
    for kind in sorted(table, key=lambda k: -sum(table[k].values())):
        outcomes = ", ".join(f"{k} {v:,}" for k, v in table[kind].most_common())
        print(f"{kind:<15} {sum(table[kind].values()):>7,}  {outcomes}")
    print("\n" + "\n".join(line for line in err.splitlines() if line.startswith(("files found", "rejected:",
                                                                               "warnings:"))))
    print(f"\naccounting: {'OK, every file where the truth says' if not wrong else f'{len(wrong)} MISMATCHES'}")
    for line in wrong[:30]:
        print("  " + line)
    print(f"time: {seconds:,.1f} s ({len(truth) / seconds:,.0f} files/s)")
    print(f"peak RSS: {tree_peak / 2**20:,.0f} MB (build and workers together), "
          f"{single_peak / 2**20:,.0f} MB (largest single process)")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
