#!/usr/bin/env python3
"""Time the dedup stage alone (hash, sign, candidates, verification, clustering) and its peak
memory, with the containment check on and off side by side, each in its own process.

    python /work/shared/tools/make_corpus.py /tmp/c100k --n 100000 --mix '{"base":"default","contained":0.03}'
    corpus build /tmp/c100k -o /tmp/c100k-rows --keep-duplicates      # the texts, once
    python bench/bench_dedup.py /tmp/c100k-rows
    python bench/bench_dedup.py /tmp/c100k-rows --rows 1000000         # + synthetic signatures

Reads the rows (id, text, date, n_chars) of a built dataset (built with --keep-duplicates, so
every copy is a row) from its Parquet shards in batches, as the build reads its spill: content
hash and signatures per batch, then DedupIndex, containment candidates, their texts read again
in two passes (the shorter sides' shingle sets, then the longer sides' sequences), and the
verdicts. Speed is rows per CPU second of this process (time.process_time: the machine may be
shared, wall time is noisier) on one core. --rows N adds random signatures (no text, random
lengths) up to N rows after the real ones: the memory of the index at that size, since peak
RSS is sized by signatures, not texts. Peak RSS (VmHWM) is shown twice: while signing (texts
in batches: bounded by the batch, whatever the corpus size) and, reset after signing, while
the candidates, verification and clustering run (sized by the rows).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, as promised
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from builder.dedup import NO_DATE, DedupIndex, DedupSettings, contain, content_sha256, signatures  # noqa: E402

BATCH = 2000


def _rss_mb() -> float:
    """Peak RSS of this process since start, or since the last _reset_peak (Linux: VmHWM)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def _reset_peak() -> bool:
    """Start a new peak RSS measure (Linux >= 4.0: 5 > /proc/self/clear_refs)."""
    pa.default_memory_pool().release_unused()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def batches(folder: Path, columns: list[str]):
    for shard in sorted((folder / "data").glob("*.parquet")):
        yield from pq.ParquetFile(shard).iter_batches(batch_size=BATCH, columns=columns)


def run_one(folder: Path, containment: float | None, rows: int) -> dict:
    """The dedup stage over the dataset's rows (plus synthetic signatures up to `rows`)."""
    settings = DedupSettings(containment_threshold=containment)
    signatures(["预热一下"], settings)  # lookup tables and imports out of the measure
    base = _rss_mb()
    index = DedupIndex(settings)
    phase: dict[str, float] = {}
    peak: dict[str, float] = {}  # peak RSS after each phase
    t = time.process_time()
    n_real = 0
    for b in batches(folder, ["id", "text", "date", "n_chars"]):
        texts = b.column("text").to_pylist()
        dates = pc.fill_null(pc.cast(b.column("date"), pa.int64()), NO_DATE).to_pylist()
        index.add_many(b.column("id").to_pylist(), [content_sha256(x) for x in texts], signatures(texts, settings),
                       date_keys=dates, n_chars=b.column("n_chars").to_pylist())
        n_real += len(texts)
    phase["sign"] = time.process_time() - t
    peak["sign"] = _rss_mb()
    rng = np.random.default_rng(0)
    for start in range(n_real, rows, 50_000):  # synthetic rows: memory at scale, not speed
        n = min(50_000, rows - start)
        index.add_many([f"synthetic-{i:08d}" for i in range(start, start + n)],
                       [f"{x:064x}" for x in rng.integers(0, 2 ** 63, n).tolist()],
                       rng.integers(0, 2 ** 32 - 1, (n, settings.num_perm), dtype=np.uint32),
                       date_keys=[NO_DATE] * n, n_chars=rng.integers(50, 5000, n).tolist())
    reset = _reset_peak()  # what follows holds signatures (on disk) and a few numbers per row, no texts
    t = time.process_time()
    pairs = index.containment_candidates()
    phase["candidates"] = time.process_time() - t
    peak["candidates"] = _rss_mb()
    t = time.process_time()
    verified = None
    if len(pairs):  # the build's two passes over its spill (pipeline._contained)
        shorts, longs = set(pairs[:, 0].tolist()), set(pairs[:, 1].tolist())
        short_sets: dict[int, np.ndarray] = {}
        found = []
        for wanted in ("short", "long"):
            at = 0
            for b in batches(folder, ["text"]):
                texts = b.column("text")
                here = [r for r in range(at, at + len(texts)) if r in (shorts if wanted == "short" else longs)]
                if wanted == "short":
                    short_sets.update((r, contain.shingle_set(texts[r - at].as_py(), settings)) for r in here)
                else:
                    seqs = {r: contain.shingle_seq(texts[r - at].as_py(), settings) for r in here}
                    mine = np.isin(pairs[:, 1], np.fromiter(seqs, np.int64, len(seqs)))
                    found.append(contain.verify(pairs[mine], short_sets, seqs, settings))
                at += len(texts)
        verified = np.concatenate(found)
    phase["verify"] = time.process_time() - t
    peak["verify"] = _rss_mb()
    t = time.process_time()
    index.results_arrays(verified)
    phase["cluster"] = time.process_time() - t
    peak["cluster"] = _rss_mb()
    stats = index.stats()
    index.close()
    cpu = sum(phase.values())
    return dict(containment=containment, rows=stats["rows"], real_rows=n_real, cpu=cpu, phase=phase,
                docs_per_s=n_real / cpu if rows <= n_real else None, base_mb=base, peak=peak, reset=reset,
                candidates=len(pairs), contained=stats["contained"], ambiguous=stats["contained_ambiguous"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Example:\n  python bench/bench_dedup.py /tmp/c100k-rows --rows 1000000")
    ap.add_argument("dataset", type=Path, help="a dataset folder built with --keep-duplicates")
    ap.add_argument("--rows", type=int, default=0, help="add synthetic signatures up to this many rows")
    ap.add_argument("--containment", default="0.7,off",
                    help="containment thresholds to compare, comma-separated; off: no check (default: 0.7,off)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one is not None:
        print(json.dumps(run_one(a.dataset, None if a.one == "off" else float(a.one), a.rows)))
        return
    results = []
    for c in a.containment.split(","):
        out = subprocess.run([sys.executable, __file__, str(a.dataset), "--rows", str(a.rows), "--one", c],
                             check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'containment':>11} {'rows':>9} {'CPU s':>7} {'docs/s':>7} {'sign':>6} {'cand.':>6} {'verify':>6} "
          f"{'cluster':>7} {'RSS sign':>9} {'RSS rest':>9} {'cand. pairs':>11} {'contained':>9}")
    for r in results:
        p, peak = r["phase"], r["peak"]
        speed = f"{r['docs_per_s']:7,.0f}" if r["docs_per_s"] else f"{'-':>7}"
        rest = f"{max(peak['candidates'], peak['verify'], peak['cluster']):7.0f}MB" if r["reset"] else f"{'?':>9}"
        print(f"{str(r['containment'] or 'off'):>11} {r['rows']:9,d} {r['cpu']:7.1f} {speed} {p['sign']:6.1f} "
              f"{p['candidates']:6.1f} {p['verify']:6.1f} {p['cluster']:7.1f} {peak['sign']:7.0f}MB {rest} "
              f"{r['candidates']:11,d} {r['contained']:9,d}")
    print("CPU seconds of one process (time.process_time); docs/s over the real rows only, when no "
          "synthetic rows were added. A shared machine makes these noisy.")


if __name__ == "__main__":
    main()
