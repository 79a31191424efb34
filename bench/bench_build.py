#!/usr/bin/env python3
"""Build benchmark: our build and the obvious script, side by side, in one run.

    python bench/bench_build.py                       # 20,000 Sina-format files
    python bench/bench_build.py --n 100000 --workers 1,2 --incremental
    python bench/bench_build.py --corpus path/to/articles --no-naive
    python bench/bench_build.py --scale 100000,1000000 --all-feeds   # peak memory as the corpus grows
    python bench/bench_build.py --scale DIR100K,DIR1M --baseline CHECKOUT   # ... beside another checkout's

The corpus comes from ../shared/tools/make_corpus.py when it is there (then filtered to the
Sina feed with --sina-only, the default), else from bench/gen_corpus.py. Each command runs
in its own process; its peak memory is the largest sum of RSS over the process and all its
children (workers included), sampled every 20 ms (with --scale, the largest sum of PSS too:
see measure.py). Prints docs/s, peak RSS and the ratio to the obvious script
(bench/naive_build.py), and the driver's (main process's) share of the build's CPU
(bench/cpu_of.py: its own CPU against its children's). With --incremental: a cached full
build, then 1 % of the files changed, then a cached rebuild, checked to equal a clean build.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import measure

HERE = Path(__file__).resolve().parent
MAKE_CORPUS = HERE.parents[1] / "shared" / "tools" / "make_corpus.py"


def run(cmd: list[str], env: dict | None = None, *, pss: list | None = None) -> tuple[float, int, str]:
    """(seconds, peak tree RSS in bytes, last output line) of one command; exit on failure.
    The peak tree PSS is appended to `pss` if given."""
    seconds, peak, _, code, out, peak_pss = measure(cmd, env=env)
    if code != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({code}):\n{out[-2000:]}")
    if pss is not None:
        pss.append(peak_pss)
    return seconds, peak, out.strip().splitlines()[-1] if out.strip() else ""


def make_corpus(dest: Path, n: int, sina_only: bool, seed: int) -> Path:
    if MAKE_CORPUS.exists():
        # Over-generate, then keep the Sina feed only: the baseline figures were measured on it.
        total = int(n / 0.42) + 100 if sina_only else n
        subprocess.run([sys.executable, str(MAKE_CORPUS), str(dest), "--n", str(total), "--mix", "clean",
                        "--seed", str(seed)], check=True, capture_output=True)
        if sina_only:
            files = sorted(p for p in dest.rglob("*") if p.is_file())
            keep = [p for p in files if "新浪财经" in str(p)][:n]
            for p in set(files) - set(keep):
                p.unlink()
        return dest
    subprocess.run([sys.executable, str(HERE / "gen_corpus.py"), str(dest), "--n", str(n), "--seed", str(seed)],
                   check=True)
    return dest


def count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def corpus_cmd(*args: str) -> list[str]:
    """Our build, under cpu_of.py: its last output line says the CPU of the driver and the rest."""
    return [sys.executable, str(HERE / "cpu_of.py"), "builder.cli", "build", *args, "--quiet"]


def driver_share(last_line: str) -> float | None:
    """The driver's share of the build's CPU, from cpu_of.py's last line (None if absent)."""
    try:
        cpu = json.loads(last_line)
        return cpu["self"] / (cpu["self"] + cpu["children"])
    except (ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def same_tree(a: Path, b: Path) -> bool:
    names_a = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    names_b = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    return names_a == names_b and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names_a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", help="an existing folder of articles (default: generate one)")
    ap.add_argument("--n", type=int, default=20000, help="files to generate (default 20000)")
    ap.add_argument("--all-feeds", action="store_true", help="keep every feed of make_corpus.py, not only Sina")
    ap.add_argument("--workers", default="1,2", help="worker counts to run (default 1,2)")
    ap.add_argument("--no-naive", action="store_true", help="skip the obvious script")
    ap.add_argument("--incremental", action="store_true", help="also measure a rebuild after 1%% changed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--scale", help="memory scaling instead: corpus sizes (e.g. 100000,1000000), or existing "
                                    "corpus folders, built one after another; prints peak RSS and its growth")
    ap.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                    help="with --scale: also build each corpus with another checkout's builder (its folder on "
                         "PYTHONPATH), before ours")
    args = ap.parse_args()
    if args.scale:
        return scale(args)

    work = Path(tempfile.mkdtemp(prefix="corpus-bench-"))
    try:
        corpus = Path(args.corpus) if args.corpus else make_corpus(work / "corpus", args.n, not args.all_feeds,
                                                                   args.seed)
        n = count_files(corpus)
        print(f"corpus: {corpus} ({n:,} files)")
        results = []
        if not args.no_naive:
            sec, rss, _ = run([sys.executable, str(HERE / "naive_build.py"), str(corpus), str(work / "naive")])
            results.append(("obvious script (naive_build.py)", sec, rss, None))
        for w in [int(x) for x in args.workers.split(",")]:
            # The default build, which fills a build cache (a fresh one: nothing to take from it).
            sec, rss, last = run(corpus_cmd(str(corpus), "-o", str(work / f"ours{w}"), "--workers", str(w),
                                            "--cache-dir", str(work / f"cache{w}")))
            results.append((f"corpus build --workers {w}", sec, rss, driver_share(last)))
        base = results[0][1] if not args.no_naive else None
        print(f"\n{'run':<36} {'seconds':>8} {'docs/s':>9} {'peak RSS':>10} {'vs obvious':>11} {'driver CPU':>11}")
        for name, sec, rss, share in results:
            ratio = f"{base / sec:.2f}x" if base else "-"
            driver = f"{share:.1%}" if share is not None else "-"
            print(f"{name:<36} {sec:8.2f} {n / sec:9,.0f} {rss / 2**20:8.0f} MB {ratio:>11} {driver:>11}")
        ours = {name: sec for name, sec, _, _ in results if name.startswith("corpus")}
        if "corpus build --workers 1" in ours and "corpus build --workers 2" in ours:
            print(f"worker scaling: 2 workers are {ours['corpus build --workers 1'] / ours['corpus build --workers 2']:.2f}x"
                  " one worker")
        outs = [work / f"ours{w}" for w in [int(x) for x in args.workers.split(",")]]
        if len(outs) > 1:
            print("identical output for every worker count:", all(same_tree(outs[0], o) for o in outs[1:]))
        if args.incremental:
            incremental(corpus if args.corpus is None else _copy(corpus, work / "inc-corpus"), work, n)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def scale(args) -> None:
    """Peak RSS (build and workers) and docs/s per corpus size, and the growth from the first;
    with --baseline, the other checkout's figures beside ours, corpus by corpus."""
    work = Path(tempfile.mkdtemp(prefix="corpus-bench-scale-"))
    builders = ([("base", {**os.environ, "PYTHONPATH": str(args.baseline.resolve())})] if args.baseline else []) \
        + [("ours", None)]
    try:
        first: dict[str, tuple[int, int, int]] = {}
        for k, item in enumerate(args.scale.split(",")):
            corpus = Path(item) if not item.isdigit() else make_corpus(work / f"corpus{k}", int(item),
                                                                       not args.all_feeds, args.seed)
            n = count_files(corpus)
            for label, env in builders:
                pss: list[int] = []
                sec, rss, _ = run(corpus_cmd(str(corpus), "-o", str(work / f"out{k}"), "--no-cache"), env, pss=pss)
                shutil.rmtree(work / f"out{k}", ignore_errors=True)
                base = first.setdefault(label, (n, rss, pss[0]))
                print(f"{label:>5} {n:>10,} files {sec:8.1f} s {n / sec:8,.0f} docs/s  peak RSS {rss / 2**20:6.0f} MB"
                      + (f" ({rss / base[1] - 1:+.0%} vs {base[0]:,} files)" if k else "")
                      + f"  peak PSS {pss[0] / 2**20:6.0f} MB"
                      + (f" ({pss[0] / base[2] - 1:+.0%})" if k else ""), flush=True)
            if item.isdigit():
                shutil.rmtree(corpus, ignore_errors=True)  # a million files is 4 GB
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def incremental(corpus: Path, work: Path, n: int) -> None:
    cache = work / "cache"
    full, _, _ = run(corpus_cmd(str(corpus), "-o", str(work / "inc"), "--cache-dir", str(cache)))
    files = sorted(p for p in corpus.rglob("*.md"))
    rng = random.Random(7)
    for p in rng.sample(files, max(1, len(files) // 100)):
        data = p.read_bytes()
        p.write_bytes(data.replace("</p>".encode(), "又及：本文有更新。</p>".encode(), 1))
    again, _, _ = run(corpus_cmd(str(corpus), "-o", str(work / "inc"), "--cache-dir", str(cache)))
    clean, _, _ = run(corpus_cmd(str(corpus), "-o", str(work / "clean"), "--no-cache"))
    print(f"\nincremental: full build with cache {full:.2f} s; rebuild after 1 % changed {again:.2f} s "
          f"({again / full:.0%} of full); clean build {clean:.2f} s")
    print("incremental output equals a clean build:", same_tree(work / "inc", work / "clean"))


if __name__ == "__main__":
    main()
