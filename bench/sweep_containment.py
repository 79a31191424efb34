#!/usr/bin/env python3
"""Sweep the containment threshold and window against make_corpus.py truths, corpora side by side:
the figures behind DedupSettings.containment_threshold and contain.WINDOW.

    python /work/shared/tools/make_corpus.py /tmp/c3k --n 3000 --mix '{"base":"default","contained":0.03}'
    python /work/shared/tools/make_corpus.py /tmp/d3k --n 3000
    python bench/sweep_containment.py /tmp/c3k /tmp/d3k --texts-dir /tmp

Candidates are proposed once per corpus (as the build does); each is then measured with every
window (in brief lengths; "all" is the plain containment over the whole longer text) by the
build's own functions (contain.shingle_seq, windowed_containment), and for each threshold the
pairs that pass go through DedupIndex.results (one story per brief, ambiguous ones left
apart) and are scored as bench/score_dedup.py scores: pairwise precision and recall over all
copies, contained copies found, test and validation rows with a copy in train (by the truth).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.dedup import DedupSettings, contain  # noqa: E402
from dedup_texts import Deduplicator  # noqa: E402
from score_dedup import extract, leakage, score  # noqa: E402

WINDOWS = ("all", 2.0, 1.5, 1.25)
THRESHOLDS = (0.6, 0.65, 0.7, 0.72, 0.75, 0.8, 0.85, 0.9)


def load(corpus: Path, texts_dir: Path | None) -> tuple[list[dict], dict]:
    truth_file = corpus.parent / (corpus.name + ".truth.jsonl")
    truth = {t["path"]: t for t in map(json.loads, truth_file.read_text(encoding="utf-8").splitlines())}
    cache = (texts_dir or corpus.parent) / (corpus.name + ".texts.jsonl")
    if cache.exists():
        records = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines() if line]
    else:
        records, _ = extract(corpus, list(truth.values()), "builder")
        cache.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return [r for r in records if truth[r["path"]]["expect"] == "row"], truth


def measure(records: list[dict], truth: dict) -> list[tuple[str, dict]]:
    """(label, score dict) per window and threshold."""
    settings = DedupSettings(containment_threshold=min(THRESHOLDS))
    dedup = Deduplicator(settings)
    for r in records:
        dedup.add(r["path"], r["text"], date=datetime.fromisoformat(r["date"].replace("Z", "+00:00"))
                  if r["date"] else None)
    dedup.flush()
    index = dedup.index
    pairs = index.containment_candidates()
    text = {r["path"]: r["text"] for r in records}
    seqs = {row: contain.shingle_seq(text[index.id(row)], settings) for row in np.unique(pairs).tolist()}
    sets = {row: np.unique(seqs[row]) for row in np.unique(pairs[:, 0]).tolist()}
    k = settings.shingle_size
    out = []
    for window in WINDOWS:
        values = []
        for a, b in pairs.tolist():
            sa = sets[a]
            if len(sa) + k - 1 < settings.min_contained_chars:
                continue
            w = len(seqs[b]) + 1 if window == "all" else int(window * (len(sa) + k - 1))
            values.append((a, b, contain.windowed_containment(sa, seqs[b], w)))
        values = np.array(values, dtype=np.float64).reshape(-1, 3)
        for threshold in THRESHOLDS:
            results = index.results(values[values[:, 2] >= threshold - 1e-9])
            s = score({x.id: x.dup_cluster for x in results}, truth)
            s["leak"] = sum(leakage({x.id: x.dup_cluster for x in results if x.keep}, truth).values())
            s["ambiguous"] = index.stats()["contained_ambiguous"]
            out.append((f"{window:>4} {threshold:4.2f}", s))
    index.close()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Example:\n  python bench/sweep_containment.py /tmp/c3k /tmp/d3k")
    ap.add_argument("corpora", type=Path, nargs="+", help="folders written by make_corpus.py")
    ap.add_argument("--texts-dir", type=Path, help="where <name>.texts.jsonl caches the extracted texts "
                                                   "(default: beside each corpus)")
    a = ap.parse_args(argv)
    columns = [measure(*load(c, a.texts_dir)) for c in a.corpora]
    head = "".join(f" | {c.name[:30]:^40}" for c in a.corpora)
    print(f"{'window thr':10}{head}")
    print(f"{'':10}" + " | precision recall contained amb. leak  " * len(a.corpora))
    for i, (label, _) in enumerate(columns[0]):
        cells = []
        for col in columns:
            s = col[i][1]
            found, total = s["copies_found"].get("contained", [0, 0])
            cells.append(f" |    {s['precision']:.4f} {s['recall']:.4f} {found:4d}/{total:<4d} {s['ambiguous']:4d} "
                         f"{s['leak']:4d}  ")
        print(f"{label:10}" + "".join(cells))


if __name__ == "__main__":
    main()
