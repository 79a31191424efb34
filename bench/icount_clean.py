#!/usr/bin/env python3
"""Instructions the per-file path costs, counted by callgrind: repeatable where seconds are not.

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/icount_clean.py CORPUS 1200 --passes 1
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/icount_clean.py CORPUS 1200 --passes 2

Takes N article files of CORPUS (sorted by path, every --stride-th) and runs them through
`process_files` in chunks of 64, as a worker does, --passes times. The difference of the two
runs' "Collected" counts over N is what a file costs once everything is warm: the second pass
meets no rule mix, lazy import or first-seen cache entry the first did not. The first pass
alone (--passes 1 against --passes 0) also counts those one-time costs, spread over N files:
compare both. Set PYTHONHASHSEED=0 (dict and set order move the counts), and PYTHONPATH to
another checkout for the side-by-side figure (checkouts from before builder/transform/ work
too). Callgrind is ~50x slower than native.
"""
from __future__ import annotations

import argparse
import sys
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("n", type=int, help="files to take")
    ap.add_argument("--passes", type=int, default=2, help="times the files are processed (0: imports only)")
    ap.add_argument("--stride", type=int, default=1, help="take every STRIDE-th file")
    args = ap.parse_args()
    root = args.corpus
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".md", ".markdown", ".html"))
    files = [(p.relative_to(root).as_posix(), p.read_bytes()) for p in files[::args.stride][:args.n]]
    settings = BuildSettings()
    for _ in range(args.passes):
        for i in range(0, len(files), 64):
            process_files(files[i:i + 64], settings)
    print(f"{len(files)} files, {args.passes} passes, builder from {Path(builder.__file__).parent}", file=sys.stderr)


if __name__ == "__main__":
    main()
