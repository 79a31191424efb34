#!/usr/bin/env python3
"""Instructions the per-file path costs, counted by callgrind: repeatable where seconds are not.

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/icount_clean.py CORPUS 512
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/icount_clean.py CORPUS 1536

Processes every 5th article file of CORPUS (sorted by path): 64 to warm up (rules, caches, lazy
imports), then N in chunks of 64, as a worker does. The difference of the two runs' "Collected"
counts over the difference of N is the per-file cost after warm-up; run it with PYTHONPATH set
to another checkout for the side-by-side figure. Callgrind is ~50x slower than native.
"""
from __future__ import annotations

import sys
from pathlib import Path

from builder.transform.process import process_files
from builder.settings import BuildSettings


def main() -> None:
    root, n = Path(sys.argv[1]), int(sys.argv[2])
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".md", ".markdown", ".html"))
    files = [(p.relative_to(root).as_posix(), p.read_bytes()) for p in files[::5]][:64 + n]
    settings = BuildSettings()
    process_files(files[:64], settings)
    for i in range(64, len(files), 64):
        process_files(files[i:i + 64], settings)
    print(len(files) - 64, "files after warm-up")


if __name__ == "__main__":
    main()
