#!/usr/bin/env python3
"""The per-file path of several checkouts side by side: bench_clean.py run for each, alternating.

    python bench/bench_clean_ab.py --checkout base=/tmp/base_wt --checkout new=. CORPUS [CORPUS ...] \
        [--rounds 5] [--repeat 3] [--by-folder]

Each round runs every checkout once (in its own process, PYTHONPATH set to it; the order turns
round by round), each run timing every corpus; prints per corpus and checkout the median CPU
microseconds a file over the rounds, their spread (min-max), and each checkout's median
against the first's. CPU time, best of --repeat within a run: other load on the machine moves
it least, but it still moves it, hence the rounds.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LINE = re.compile(r"^(?P<corpus>.+): (?P<n>\d+) files, (?P<cpu>[\d.]+) us CPU")


def run(checkout: Path, corpora: list[str], repeat: int, by_folder: bool) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run([sys.executable, str(HERE / "bench_clean.py"), *corpora, "--repeat", str(repeat),
                          *(["--by-folder"] if by_folder else [])],
                         env=env, check=True, capture_output=True, text=True).stdout
    first = out.splitlines()[0]
    if not first.startswith(f"builder from {checkout}"):
        sys.exit(f"bench: expected the builder of {checkout}, got {first!r}")
    return {m["corpus"]: float(m["cpu"]) for m in map(LINE.match, out.splitlines()) if m}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="+")
    ap.add_argument("--checkout", action="append", required=True, help="NAME=PATH (repeatable; first is the reference)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--by-folder", action="store_true", help="each folder of files (a feed) too (bench_clean.py)")
    args = ap.parse_args()
    checkouts = [(n, Path(p).resolve()) for n, p in (c.split("=", 1) for c in args.checkout)]
    times: dict[str, dict[str, list[float]]] = {n: {} for n, _ in checkouts}
    for r in range(args.rounds):
        order = checkouts[r % len(checkouts):] + checkouts[:r % len(checkouts)]
        for name, path in order:
            for corpus, cpu in run(path, args.corpora, args.repeat, args.by_folder).items():
                times[name].setdefault(corpus, []).append(cpu)
        print(f"round {r + 1}: " + "  ".join(f"{n} {sum(v[-1] for v in times[n].values()):.1f}" for n, _ in checkouts),
              file=sys.stderr, flush=True)
    ref = checkouts[0][0]
    for corpus in times[ref]:
        ref_med = statistics.median(times[ref][corpus])
        for name, _ in checkouts:
            v = times[name][corpus]
            med = statistics.median(v)
            print(f"{corpus}  {name:8s} median {med:7.1f} us CPU a file  (min {min(v):.1f}, max {max(v):.1f}, "
                  f"{len(v)} rounds)  {100 * (med / ref_med - 1):+.1f} % vs {ref}")


if __name__ == "__main__":
    main()
