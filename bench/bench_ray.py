#!/usr/bin/env python3
"""The local engine against the Ray engine on the same corpus, side by side in one run.

    python bench/bench_ray.py                  # 20,000 files (make_corpus.py's Sina feed)
    python bench/bench_ray.py --n 5000 --rounds 3

Each build runs as `corpus build ... --no-cache` in its own process; Ray is started by the
build (a local Ray, as `corpus build --engine ray` does without RAY_ADDRESS). Printed for
each: wall time, the same less Ray's own start and stop (measured alone, as `ray.init();
ray.shutdown()` in a process of its own), the peak RSS of the process tree (Ray's daemons and
workers included: they descend from the build), and the driver's share of the tree's CPU.
The CPU comes from /proc, each process's own time sampled every 50 ms while it lives, not from
RUSAGE_CHILDREN (cpu_of.py): Ray's workers are children of its raylet, which is killed at
shutdown before it reaps them, so their time would never reach the build's children. The two outputs are compared byte for byte. With --rounds, the runs alternate and
the fastest of each is shown. Ray on one 2-core machine is not expected to be faster: the
figure is what it adds.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import os
import subprocess
import threading
import time
from collections import defaultdict

from bench_build import count_files, make_corpus, same_tree

RAY_ALONE = ("import ray; ray.init(include_dashboard=False, logging_level='WARNING'); ray.shutdown()")


def _scan() -> tuple[dict[int, list[int]], dict[int, tuple[float, int]]]:
    """Every process's children, and its own CPU seconds (user + system) and RSS bytes."""
    children: dict[int, list[int]] = defaultdict(list)
    own: dict[int, tuple[float, int]] = {}
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    f = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children[int(f[1])].append(int(entry))
            own[int(entry)] = ((int(f[11]) + int(f[12])) / tick, int(f[21]) * page)
    return children, own


def run(cmd: list[str]) -> tuple[float, int, float, float]:
    """(seconds, peak tree RSS, the root process's CPU, the tree's CPU) of a command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cpu: dict[int, float] = {}  # the most each process of the tree was seen to have used
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            children, own = _scan()
            rss, stack = 0, [proc.pid]
            while stack:
                p = stack.pop()
                if p in own:
                    cpu[p] = max(cpu.get(p, 0.0), own[p][0])
                    rss += own[p][1]
                stack.extend(children.get(p, []))
            peak = max(peak, rss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{out[-2000:]}")
    return seconds, peak, cpu.get(proc.pid, 0.0), sum(cpu.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="files in the generated corpus (default 20,000)")
    ap.add_argument("--corpus", help="an existing corpus folder instead")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each, alternating; the fastest is shown")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        corpus = Path(args.corpus) if args.corpus else make_corpus(work / "corpus", args.n, True, args.seed)
        n = count_files(corpus)
        print(f"{n:,} files in {corpus}", flush=True)
        best: dict[str, tuple[float, int, float, float]] = {}
        for r in range(args.rounds):
            for name, extra in (("local", ()), ("ray", ("--engine", "ray"))):
                out = work / f"out-{name}"
                shutil.rmtree(out, ignore_errors=True)
                sec, rss, driver, tree = run([sys.executable, "-m", "builder.cli", "build", str(corpus), "-o",
                                              str(out), "--no-cache", "--quiet", *extra])
                print(f"round {r + 1} {name:<6} {sec:7.2f} s  peak {rss / 2**20:6.0f} MB  CPU: driver "
                      f"{driver:.1f} s of {tree:.1f} s", flush=True)
                if name not in best or sec < best[name][0]:
                    best[name] = (sec, rss, driver, tree)
            alone = run([sys.executable, "-c", RAY_ALONE])
            best["ray alone"] = min(best.get("ray alone", alone), alone)
        same = same_tree(work / "out-local", work / "out-ray")
        start, start_rss, _, start_cpu = best.pop("ray alone")
        local_sec = best["local"][0]
        print(f"\nRay's own start and stop, alone: {start:.2f} s, {start_cpu:.1f} s CPU, peak {start_rss / 2**20:.0f} MB")
        print(f"{'engine':<8} {'seconds':>8} {'less start':>11} {'vs local':>9} {'peak RSS':>10} "
              f"{'CPU (tree)':>11} {'driver CPU':>11} {'share':>6}")
        for name, (sec, rss, driver, tree) in best.items():
            net = sec - start if name == "ray" else sec
            print(f"{name:<8} {sec:8.2f} {net:11.2f} {net / local_sec:8.2f}x {rss / 2**20:7.0f} MB "
                  f"{tree:9.1f} s {driver:9.1f} s {driver / tree if tree else 0:6.1%}")
        print(f"outputs byte-identical: {'yes' if same else 'NO'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
