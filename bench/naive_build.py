#!/usr/bin/env python3
"""The obvious script a user writes instead of a tool: the baseline our speed is compared with.

A faithful copy of ../shared/tools/naive_build.py (so the benchmark runs without ../shared):

    naive_build.py SRC_DIR OUT_DIR

Reads every *.md under SRC_DIR with python-frontmatter, strips HTML with
BeautifulSoup's html.parser, keeps title/date/author/categories, holds every row
in memory, shuffles with a seed, cuts 90/10 into train/test and writes one
Parquet file per split with `datasets`. Files that fail to parse are skipped.
Prints one line: files read, rows written, seconds.
"""
import random
import sys
import time
from pathlib import Path

import frontmatter
from bs4 import BeautifulSoup
from datasets import Dataset


def main(src: str, out: str) -> None:
    t0 = time.perf_counter()
    rows, seen = [], 0
    for path in sorted(Path(src).rglob("*.md")):
        seen += 1
        try:
            post = frontmatter.load(path)
        except Exception:
            continue
        text = BeautifulSoup(post.content, "html.parser").get_text("\n").strip()
        cats = post.get("categories") or []
        rows.append({
            "title": str(post.get("title", "")),
            "date": str(post.get("date", "")),
            "author": str(post.get("author", "")),
            "categories": [str(c) for c in cats] if isinstance(cats, list) else [str(cats)],
            "text": text,
            "path": str(path.relative_to(src)),
        })
    random.Random(0).shuffle(rows)
    cut = int(len(rows) * 0.9)
    Path(out, "data").mkdir(parents=True, exist_ok=True)
    for split, part in (("train", rows[:cut]), ("test", rows[cut:])):
        Dataset.from_list(part).to_parquet(f"{out}/data/{split}-00000-of-00001.parquet")
    print(f"naive: {seen} files, {len(rows)} rows, {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
