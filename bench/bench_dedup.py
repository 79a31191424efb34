#!/usr/bin/env python3
"""Time the dedup stage alone (hash, sign, candidates, verification, clustering) and its peak
memory, with the containment check on and off side by side, each in its own process.

    python /work/shared/tools/make_corpus.py /tmp/c100k --n 100000 --mix '{"base":"default","contained":0.03}'
    corpus build /tmp/c100k -o /tmp/c100k-rows --keep-duplicates      # the texts, once
    python bench/bench_dedup.py /tmp/c100k-rows
    python bench/bench_dedup.py /tmp/c100k-rows --rows 1000000         # + synthetic signatures

Reads the rows (id, text, date, n_chars) of a built dataset (built with --keep-duplicates, so
every copy is a row) from its Parquet shards in batches: content hash and signatures per batch
(`hash_and_sign`: one normalisation for both), the texts spilled to an Arrow IPC file as the
build spills them, then DedupIndex, containment candidates, their texts read back from the
spill in two passes (the shorter sides' shingle sets, then the longer sides' sequences), and
the verdicts. Speed is rows per CPU second of this process (time.process_time: the machine is
shared, wall time is noisier) on one core, not counting `read` (Parquet rows to Python: the
build signs texts it already holds). --rows N adds random signatures (no text, random lengths)
up to N rows after the real ones: the memory of the index at that size. Peak RSS (VmHWM) is
shown while signing (texts in batches: bounded by the batch, whatever the corpus size), then
reset (after handing the signing's freed heap back: malloc_trim) before each of candidates,
verification and clustering (sized by the rows); `floor` is what the process held at the first
reset, and the line below the table says where the highest sample was taken.
--baseline CHECKOUT runs another checkout's builder with this script, alternating with ours.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import ctypes
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, as promised
    os.environ.setdefault(_var, "1")
# BENCH_DEDUP_CHECKOUT: another checkout's `builder` (a baseline, see --baseline); this one's by default
sys.path.insert(0, os.environ.get("BENCH_DEDUP_CHECKOUT") or str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from builder.dedup import NO_DATE, DedupIndex, DedupSettings, contain, content_sha256, signatures  # noqa: E402

try:
    from builder.dedup import hash_and_sign  # noqa: E402
except ImportError:  # a baseline from before it: the two calls
    def hash_and_sign(texts, settings):
        return [content_sha256(x) for x in texts], signatures(texts, settings)

BATCH = 2000


def _rss_mb() -> float:
    """Peak RSS of this process since start, or since the last _reset_peak (Linux: VmHWM)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def _rss_now_mb() -> float:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:
        return 0.0


class _PeakWhere(threading.Thread):
    """Samples the RSS every few ms and remembers the main thread's innermost frames in the
    dedup package (or the bench) at the highest sample: where the peak happens."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.where, self.stop = 0.0, "", threading.Event()
        self.main = threading.main_thread().ident

    def run(self) -> None:
        while not self.stop.wait(0.003):
            rss = _rss_now_mb()
            if rss > self.peak:
                frame, names = sys._current_frames().get(self.main), []
                while frame is not None and len(names) < 3:
                    if "builder/dedup" in frame.f_code.co_filename or "bench_dedup" in frame.f_code.co_filename:
                        names.append(f"{Path(frame.f_code.co_filename).stem}.{frame.f_code.co_name}:{frame.f_lineno}")
                    frame = frame.f_back
                self.peak, self.where = rss, " < ".join(names)


def _reset_peak() -> bool:
    """Start a new peak RSS measure (Linux >= 4.0: 5 > /proc/self/clear_refs)."""
    pa.default_memory_pool().release_unused()
    try:  # the signing's freed heap back to the system: the index's peak, not the texts' leftovers
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class _Spill:
    """The texts in batches in an Arrow IPC file, read back a batch at a time (not mapped): as the
    build reads its spill's partitions for verification. Re-reading the Parquet shards instead
    held ~260 MB of decoded row groups, the bench's, not the index's."""

    def __init__(self, path: Path) -> None:
        self.path, self._writer = path, None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self._writer = pa.ipc.new_file(str(self.path), batch.schema)
        self._writer.write_batch(batch)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def batches(self):
        with pa.OSFile(str(self.path)) as fh:
            reader = pa.ipc.open_file(fh)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
                pa.default_memory_pool().release_unused()  # the pool keeps freed batches otherwise


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
    n_real, read = 0, 0.0
    phase["sign"] = 0.0
    spill_dir = tempfile.TemporaryDirectory(prefix="bench-dedup-")
    spill = _Spill(Path(spill_dir.name) / "texts.arrow")
    for b in _timed(batches(folder, ["id", "text", "date", "n_chars"]), phase, "read"):
        t = time.process_time()
        spill.write(b.select(["text"]))
        texts = b.column("text").to_pylist()
        dates = pc.fill_null(pc.cast(b.column("date"), pa.int64()), NO_DATE).to_pylist()
        ids, n_chars = b.column("id").to_pylist(), b.column("n_chars").to_pylist()
        read += time.process_time() - t
        t = time.process_time()
        index.add_many(ids, *hash_and_sign(texts, settings), date_keys=dates, n_chars=n_chars)
        phase["sign"] += time.process_time() - t
        n_real += len(texts)
    phase["read"] += read
    spill.close()
    peak["sign"] = _rss_mb()
    rng = np.random.default_rng(0)
    for start in range(n_real, rows, 50_000):  # synthetic rows: memory at scale, not speed
        n = min(50_000, rows - start)
        index.add_many([f"synthetic-{i:08d}" for i in range(start, start + n)],
                       [f"{x:064x}" for x in rng.integers(0, 2 ** 63, n).tolist()],
                       rng.integers(0, 2 ** 32 - 1, (n, settings.num_perm), dtype=np.uint32),
                       date_keys=[NO_DATE] * n, n_chars=rng.integers(50, 5000, n).tolist())
    reset = _reset_peak()  # what follows holds signatures (on disk) and a few numbers per row, no texts
    floor = _rss_now_mb()  # what the process holds already (the signing's heap): not the index's
    sampler = _PeakWhere()
    sampler.start()
    t = time.process_time()
    pairs = index.containment_candidates()
    phase["candidates"] = time.process_time() - t
    peak["candidates"] = _rss_mb()
    _reset_peak()
    t = time.process_time()
    verified = None
    if len(pairs):  # the build's two passes over its spill (pipeline._contained)
        shorts, longs = set(pairs[:, 0].tolist()), set(pairs[:, 1].tolist())
        short_sets: dict[int, np.ndarray] = {}
        found = []
        for wanted in ("short", "long"):
            at = 0
            for b in spill.batches():
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
    _reset_peak()
    t = time.process_time()
    index.results_arrays(verified)
    phase["cluster"] = time.process_time() - t
    peak["cluster"] = _rss_mb()
    sampler.stop.set()
    sampler.join()
    stats = index.stats()
    index.close()
    spill_dir.cleanup()
    cpu = sum(v for k, v in phase.items() if k != "read")  # reading the Parquet rows is not dedup work
    return dict(containment=containment, rows=stats["rows"], real_rows=n_real, cpu=cpu, phase=phase,
                docs_per_s=n_real / cpu if rows <= n_real else None, base_mb=base, peak=peak, reset=reset,
                floor_mb=floor, peak_where=sampler.where, sampled_peak_mb=sampler.peak,
                candidates=len(pairs), contained=stats["contained"], ambiguous=stats["contained_ambiguous"])


def _timed(it, phase: dict, name: str):
    """`it`'s items, the CPU time spent producing them added to phase[name]."""
    phase.setdefault(name, 0.0)
    it = iter(it)
    while True:
        t = time.process_time()
        try:
            item = next(it)
        except StopIteration:
            phase[name] += time.process_time() - t
            return
        phase[name] += time.process_time() - t
        yield item


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Example:\n  python bench/bench_dedup.py /tmp/c100k-rows --rows 1000000")
    ap.add_argument("dataset", type=Path, help="a dataset folder built with --keep-duplicates")
    ap.add_argument("--rows", type=int, default=0, help="add synthetic signatures up to this many rows")
    ap.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                    help="also run with this checkout's builder (e.g. `git worktree add /tmp/base HEAD~3`), "
                         "alternating with ours, and print both")
    ap.add_argument("--containment", default="0.7,off",
                    help="containment thresholds to compare, comma-separated; off: no check (default: 0.7,off)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one is not None:
        print(json.dumps(run_one(a.dataset, None if a.one == "off" else float(a.one), a.rows)))
        return
    results = []
    for c in a.containment.split(","):
        for label, checkout in ([("base", a.baseline)] if a.baseline else []) + [("ours", None)]:
            env = dict(os.environ, BENCH_DEDUP_CHECKOUT=str(checkout.resolve()) if checkout else "")
            out = subprocess.run([sys.executable, __file__, str(a.dataset), "--rows", str(a.rows), "--one", c],
                                 check=True, capture_output=True, text=True, env=env).stdout
            results.append(dict(json.loads(out.strip().splitlines()[-1]), label=label))
    print(f"{'containment':>11} {'rows':>9} {'CPU s':>7} {'docs/s':>7} {'read':>5} {'sign':>6} {'cand.':>6} "
          f"{'verify':>6} {'cluster':>7} {'RSS sign':>9} {'floor':>7} {'RSS cand/verify/cluster':>23} "
          f"{'cand. pairs':>11} {'contained':>9}")
    for r in results:
        p, peak = r["phase"], r["peak"]
        speed = f"{r['docs_per_s']:7,.0f}" if r["docs_per_s"] else f"{'-':>7}"
        rest = (f"{peak['candidates']:5.0f} /{peak['verify']:5.0f} /{peak['cluster']:5.0f} MB" if r["reset"]
                else f"{'?':>23}")
        print(f"{r['label'] + ' ' + str(r['containment'] or 'off'):>11} {r['rows']:9,d} {r['cpu']:7.1f} {speed} {p['read']:5.1f} "
              f"{p['sign']:6.1f} {p['candidates']:6.1f} {p['verify']:6.1f} {p['cluster']:7.1f} {peak['sign']:7.0f}MB "
              f"{r['floor_mb']:5.0f}MB {rest:>23} {r['candidates']:11,d} {r['contained']:9,d}")
    for r in results:
        print(f"  {r['label']} {str(r['containment'] or 'off')}: RSS peak after signing {r['sampled_peak_mb']:.0f} MB at "
              f"{r['peak_where'] or '?'}")
    print("CPU seconds of one process (time.process_time); docs/s over the real rows only, when no "
          "synthetic rows were added, not counting `read` (the Parquet rows to Python: the build signs the "
          "texts it already holds; verification's own reads of the texts are counted). `floor`: the RSS "
          "when the peak is reset after signing (the signing's heap, held by the process, not the index); the "
          "peak is reset again before verification and clustering, so each phase shows its own. "
          "A shared machine makes these noisy.")


if __name__ == "__main__":
    main()
