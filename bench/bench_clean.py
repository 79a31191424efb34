#!/usr/bin/env python3
"""The per-file path alone (read, clean, row), timed in one process: for side-by-side runs.

    python bench/bench_clean.py CORPUS [CORPUS ...] [--repeat 5] [--feed 新浪财经] [--by-folder]
    PYTHONPATH=/tmp/base_wt python bench/bench_clean.py CORPUS   # another checkout's builder

Every file is read into memory first, then `process_files` runs over chunks of 64 files (as a
build's workers do); prints the best of --repeat runs in microseconds a file, per corpus, as
CPU time (the process's own: what other load on the machine moves least) and wall time. No
process start, no Parquet, no other engineer's build in the figure: run two checkouts one
after the other, alternating, several times, to compare them. --by-folder also times each
folder of files (a feed) on its own. Runs against checkouts from before the per-file modules
moved (builder.article, builder.process) as well.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import builder
from builder.settings import BuildSettings

try:
    from builder.transform.process import process_files
except ImportError:  # an older checkout: the same function before the layout by stage
    try:
        from builder.process import process_files
    except ImportError:
        from builder.article import process_files


def load(root: Path, feed: str | None) -> list[tuple[str, bytes]]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".md", ".markdown", ".html"))
    return [(p.relative_to(root).as_posix(), p.read_bytes()) for p in files if feed is None or feed in str(p)]


def best_of(files: list[tuple[str, bytes]], repeat: int, chunk: int = 64) -> tuple[float, float]:
    """(CPU, wall) microseconds a file, each the best of `repeat` runs."""
    settings = BuildSettings()
    process_files(files[:chunk], settings)  # rules loaded, caches warm
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(0, len(files), chunk):
            process_files(files[i:i + chunk], settings)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    per_file = 1e6 / max(1, len(files))
    return best_cpu * per_file, best_wall * per_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--feed", help="only files whose path holds this")
    ap.add_argument("--by-folder", action="store_true", help="also time each folder of files (a feed) alone")
    args = ap.parse_args()
    print(f"builder from {Path(builder.__file__).parent}")
    for root in args.corpora:
        files = load(root, args.feed)
        cpu, wall = best_of(files, args.repeat)
        print(f"{root}: {len(files)} files, {cpu:.1f} us CPU, {wall:.1f} us wall a file (best of {args.repeat})")
        if args.by_folder:
            folders: dict[str, list[tuple[str, bytes]]] = {}
            for f in files:
                folders.setdefault(f[0].rpartition("/")[0], []).append(f)
            for folder, group in sorted(folders.items()):
                cpu, wall = best_of(group, args.repeat)
                print(f"{root}/{folder}: {len(group)} files, {cpu:.1f} us CPU, {wall:.1f} us wall a file")


if __name__ == "__main__":
    main()
