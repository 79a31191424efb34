#!/usr/bin/env python3
"""Score duplicate detection against a make_corpus.py ground truth: pairwise precision, recall,
F1, and docs/s of hashing + signing + LSH + clustering on one core.

    python /work/shared/tools/make_corpus.py /tmp/c20k --n 20000
    python bench/score_dedup.py /tmp/c20k                       # truth: /tmp/c20k.truth.jsonl
    python bench/score_dedup.py /tmp/c20k --threshold 0.6 --shingle-size 4 --num-perm 64
    python bench/score_dedup.py /tmp/c20k --dataset /tmp/out    # score a built dataset's dup_cluster

Files sharing the truth's `group` are duplicates (exact_dup, near_dup, same_story copies of an
original); every other pair is not. Only files the truth expects to be rows, and that the
extraction turns into text, are scored. Texts come from `builder.transform.process.process_file` (the
build's own reader) or, with --extract crude, from a regex strip of front matter and tags.
--texts FILE saves the extracted texts (JSON Lines) on the first run and reuses them later,
so tuning runs skip extraction. Also reports what the quality filters would reject, by the
truth's kind: a filter that rejects files the truth expects as rows is too eager.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, as promised
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.transform import quality  # noqa: E402
from dedup_texts import Deduplicator  # noqa: E402
from builder.dedup import DedupSettings  # noqa: E402

# ---- crude extraction: enough for scoring, independent of the reader ---------------------------
_FM = re.compile(r"\A\ufeff?\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_TITLE = re.compile(r"^title:[ \t]*(.*?)[ \t]*$", re.M)
_DROP_BLOCKS = re.compile(r"<(style|script|figure)\b.*?</\1>|<!--video-list-->.*?<!--/video-list-->|<!--.*?-->"
                          r"|<div class=\"article-relation\">.*?</div>"
                          r"|<div class=\"clearfix appendQr_wrap\">.*?</div>\s*</div>",
                          re.S | re.I)
_BLOCK = re.compile(r"</?(?:p|div|br|li|h\d|tr|blockquote|center)\b[^>]*>", re.I)
_TAGS = re.compile(r"<[^>]*>")
_MD_IMG, _MD_LINK = re.compile(r"!\[[^\]]*\]\([^)]*\)"), re.compile(r"\[([^\]]*)\]\([^)]*\)")
_BOILER = ("责任编辑", "来源：", "原标题", "海量资讯", "相关文章", "原文地址", "原文链接", "资料来源", "推荐阅读", ">")


def crude_extract(data: bytes) -> tuple[str, str]:
    """(title, text) by regex: decode, strip front matter, drop markup and boilerplate lines."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            raw = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raw = data.decode("utf-8", "replace")
    raw = raw.replace("\r\n", "\n")
    m = _FM.match(raw)
    title, body = "", raw
    if m:
        t = _TITLE.search(m.group(1))
        title, body = (t.group(1).strip("'\"") if t else ""), raw[m.end():]
    body = html.unescape(_DROP_BLOCKS.sub("\n", body))
    body = _TAGS.sub("", _BLOCK.sub("\n", body))
    body = _MD_LINK.sub(r"\1", _MD_IMG.sub("", body))
    lines = [ln.strip(" \t\u3000\xa0") for ln in body.split("\n")]
    heading = next((ln[2:] for ln in lines if ln.startswith("# ")), "")
    keep = [ln for ln in lines if ln and not ln.startswith(_BOILER) and not ln.startswith("# ")]
    return title or heading, "\n\n".join(keep)


def extract(corpus: Path, truth: list[dict], mode: str) -> tuple[list[dict], Counter]:
    """One record per truth file that yields text: path, title, text, date, language."""
    from builder.transform.language import detect_language

    if mode == "builder":
        from builder.transform.process import process_file
        from builder.settings import BuildSettings
        settings = BuildSettings()
    out, skipped = [], Counter()
    for t in truth:
        if t["expect"] == "ignore":
            continue
        data = (corpus / t["path"]).read_bytes()
        if mode == "builder":
            res = process_file(t["path"], data, settings)
            if res.reject is not None:
                skipped[(t["expect"], t["kind"], res.reject.reason)] += 1
                continue
            row = res.row
            title, text, language = row["title"], row["text"], row["language"]
            date = row["date"].isoformat() if row["date"] else None
        else:
            title, text = crude_extract(data)
            if not text:
                skipped[(t["expect"], t["kind"], "empty_text")] += 1
                continue
            language, date = detect_language(text), t["date_utc"]
        out.append(dict(path=t["path"], title=title, text=text, date=date, language=language))
    return out, skipped


# ---- scoring -----------------------------------------------------------------------------------
def pairs(labels: dict[str, str]) -> int:
    return sum(n * (n - 1) // 2 for n in Counter(labels.values()).values())


def score(pred: dict[str, str], truth_by_path: dict[str, dict]) -> dict:
    """Pairwise precision/recall of `pred` (path -> cluster) against truth groups."""
    paths = [p for p in pred if p in truth_by_path]
    group = {p: truth_by_path[p]["group"] for p in paths}
    cluster = {p: pred[p] for p in paths}
    both = {p: (group[p], cluster[p]) for p in paths}
    tp, pp, tt = pairs(both), pairs(cluster), pairs(group)
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    # Copies found, by kind: is the copy in its original's cluster?
    by_kind: dict[str, list[int]] = {}
    for p in paths:
        t = truth_by_path[p]
        if t["dup_of"] and t["dup_of"] in cluster:
            by_kind.setdefault(t["kind"], [0, 0])
            by_kind[t["kind"]][0] += cluster[p] == cluster[t["dup_of"]]
            by_kind[t["kind"]][1] += 1
    title_merged = title_total = 0
    for p in paths:
        t = truth_by_path[p]
        if t["kind"] == "title_repeat" and (t.get("variant") or "").startswith("title_of="):
            other = t["variant"][len("title_of="):]
            if other in cluster:
                title_total += 1
                title_merged += cluster[p] == cluster[other]
    # Per kind: recall over the truth pairs with a copy of that kind, precision over the predicted
    # pairs holding a copy of that kind (or, for "clean", pairs of two originals).
    kind_of = {p: truth_by_path[p]["kind"] if truth_by_path[p]["dup_of"] else "clean" for p in paths}
    per_kind: dict[str, list[int]] = {}  # kind -> [true predicted, predicted, truth]
    for members, key in ((_members(cluster), "pred"), (_members(group), "truth")):
        for ms in members:
            for i in range(len(ms)):
                for j in range(i + 1, len(ms)):
                    a, b = ms[i], ms[j]
                    kinds = {kind_of[a], kind_of[b]} - {"clean"} or {"clean"}
                    for k in kinds:
                        c = per_kind.setdefault(k, [0, 0, 0])
                        if key == "pred":
                            c[1] += 1
                            c[0] += group[a] == group[b]
                        else:
                            c[2] += 1
    return dict(files=len(paths), truth_pairs=tt, predicted_pairs=pp, true_pairs=tp, precision=precision,
                recall=recall, f1=f1, copies_found=by_kind, per_kind=per_kind, title_repeat_merged=title_merged,
                title_repeat_pairs=title_total)


def _members(labels: dict[str, str]) -> list[list[str]]:
    out: dict[str, list[str]] = {}
    for p, c in labels.items():
        out.setdefault(c, []).append(p)
    return [sorted(v) for v in out.values() if len(v) > 1]


def leakage(kept: dict[str, str], truth_by_path: dict[str, dict]) -> dict:
    """Test and validation rows with a copy (same truth group) in train, after the default hash
    split (80/10/10 by dup_cluster) of the kept rows `kept` (path -> dup_cluster): judged by
    the truth, so independent of the clusters."""
    from splits import SplitSpec, assign

    paths = sorted(p for p in kept if p in truth_by_path)
    spec = SplitSpec.from_sizes(test_size=0.1, validation_size=0.1, group="dup_cluster")
    split = assign({"id": paths, "dup_cluster": [kept[p] for p in paths]}, spec).split
    in_train = {truth_by_path[p]["group"] for p, s in zip(paths, split) if s == "train"}
    leaked = Counter(s for p, s in zip(paths, split) if s not in ("train", None)
                     and truth_by_path[p]["group"] in in_train)
    return dict(leaked)


def dataset_clusters(folder: Path) -> dict[str, str]:
    """path -> cluster from a built dataset: rows' dup_cluster, dropped rows' duplicate_of."""
    import pyarrow.parquet as pq

    ids, pred = {}, {}
    for f in sorted((folder / "data").glob("*.parquet")):
        t = pq.read_table(f, columns=["id", "source_path", "dup_cluster"]).to_pylist()
        for r in t:
            pred[r["source_path"]] = r["dup_cluster"]
            ids[r["id"]] = r["source_path"]
    ledger = folder / "rejects.jsonl"
    if ledger.exists():
        for line in filter(None, ledger.read_text(encoding="utf-8").split("\n")):
            r = json.loads(line)
            if r.get("reason") in ("duplicate", "near_duplicate", "contained") and r.get("duplicate_of"):
                pred[r["path"]] = r["duplicate_of"]
    return pred


def run_dedup(records: list[dict], settings: DedupSettings) -> tuple[dict[str, str], dict, float, list]:
    dedup = Deduplicator(settings)
    t0 = time.perf_counter()
    for r in records:
        date = datetime.fromisoformat(r["date"].replace("Z", "+00:00")) if r["date"] else None
        dedup.add(r["path"], r["text"], date=date)
    results = dedup.results({r["path"]: r["text"] for r in records} if settings.containment_threshold else None)
    seconds = time.perf_counter() - t0
    return {r.id: r.dup_cluster for r in results}, dedup.stats(), seconds, results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Example:\n  python bench/score_dedup.py /tmp/c20k")
    ap.add_argument("corpus", type=Path, help="corpus folder written by make_corpus.py")
    ap.add_argument("--truth", type=Path, help="truth JSONL (default: <corpus>/../<name>.truth.jsonl)")
    ap.add_argument("--dataset", type=Path, help="score this built dataset's dup_cluster instead of running dedup")
    ap.add_argument("--extract", choices=("builder", "crude"), default="builder",
                    help="text extraction: the build's reader (default) or a regex strip")
    ap.add_argument("--texts", type=Path, help="JSONL of extracted texts: written if absent, else read")
    ap.add_argument("--threshold", type=float, default=DedupSettings.threshold)
    ap.add_argument("--shingle-size", type=int, default=DedupSettings.shingle_size)
    ap.add_argument("--num-perm", type=int, default=DedupSettings.num_perm)
    ap.add_argument("--bands", type=int)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--seed", type=int, default=DedupSettings.seed)
    ap.add_argument("--containment-threshold", type=float, default=DedupSettings.containment_threshold,
                    help="0 turns the containment check off")
    ap.add_argument("--min-contained-chars", type=int, default=DedupSettings.min_contained_chars)
    ap.add_argument("--min-chars", type=int, default=quality.QualitySettings.min_chars)
    ap.add_argument("--show", type=int, default=3, help="print this many wrongly merged and missed examples")
    a = ap.parse_args(argv)
    truth_file = a.truth or a.corpus.parent / (a.corpus.name + ".truth.jsonl")
    truth = [json.loads(line) for line in truth_file.read_text(encoding="utf-8").split("\n") if line]
    by_path = {t["path"]: t for t in truth}
    if a.dataset:
        print_score(score(dataset_clusters(a.dataset), {p: t for p, t in by_path.items() if t["expect"] == "row"}))
        return

    t0 = time.perf_counter()
    if a.texts and a.texts.exists():
        records = [json.loads(line) for line in a.texts.read_text(encoding="utf-8").split("\n") if line]
        skipped: Counter = Counter()
        print(f"texts: {len(records)} read from {a.texts}")
    else:
        records, skipped = extract(a.corpus, truth, a.extract)
        print(f"texts: {len(records)} extracted ({a.extract}) in {time.perf_counter() - t0:.1f} s")
        if a.texts:
            a.texts.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    unexpected = {k: v for k, v in skipped.items() if k[0] == "row"}
    if unexpected:
        print(f"  truth rows the reader rejected (not scored): {sum(unexpected.values())} "
              + ", ".join(f"{k[1]}/{k[2]}={v}" for k, v in sorted(unexpected.items())))

    qs = quality.QualitySettings(min_chars=a.min_chars)
    verdicts = Counter()
    for r in records:
        v = quality.check(r["title"], r["text"], r["language"], qs)
        t = by_path[r["path"]]
        verdicts[(t["expect"], t["kind"], v[0] if v else "ok")] += 1
    print("quality (truth expect / kind -> verdict):")
    for (expect, kind, v), c in sorted(verdicts.items()):
        if v != "ok" or expect != "row":
            print(f"  {expect:6} {kind:14} {v:12} {c}")

    settings = DedupSettings(threshold=a.threshold, shingle_size=a.shingle_size, num_perm=a.num_perm,
                             bands=a.bands, rows=a.rows, seed=a.seed,
                             containment_threshold=a.containment_threshold or None,
                             min_contained_chars=a.min_contained_chars)
    rows = [r for r in records if by_path[r["path"]]["expect"] == "row"]
    pred, stats, seconds, results = run_dedup(rows, settings)
    s = score(pred, by_path)
    print("settings:", json.dumps(settings.to_dict(), ensure_ascii=False))
    print("dedup stats:", json.dumps(stats))
    print_score(s)
    kept = {r.id: r.dup_cluster for r in results if r.keep}
    print("leakage (rows with a copy in train, by the truth):", leakage(kept, by_path) or "none")
    print(f"speed: {len(rows) / seconds:,.0f} docs/s ({len(rows)} docs, "
          f"{sum(len(r['text']) for r in rows) / 1e6:.1f} M chars, {seconds:.2f} s: hash + sign + LSH + cluster)")
    if a.show:
        show_errors(pred, by_path, {r["path"]: r for r in rows}, results, a.show)


def print_score(s: dict) -> None:
    print(f"pairwise precision {s['precision']:.4f}  recall {s['recall']:.4f}  F1 {s['f1']:.4f}  "
          f"(true pairs {s['true_pairs']} / predicted {s['predicted_pairs']} / truth {s['truth_pairs']}, "
          f"{s['files']} files)")
    print("per kind (precision, recall):", ", ".join(
        f"{k} {c[0] / c[1] if c[1] else 1:.3f}/{(c[0] if k == 'clean' else s['copies_found'].get(k, [0, 0])[0]) / max(s['copies_found'].get(k, [0, 1])[1], 1) if k != 'clean' else 1:.3f}"
        for k, c in sorted(s.get("per_kind", {}).items())))
    print("copies found by kind:", ", ".join(f"{k} {f}/{n}" for k, (f, n) in sorted(s["copies_found"].items())))
    print(f"title_repeat merged with the article whose title it repeats: {s['title_repeat_merged']}"
          f" of {s['title_repeat_pairs']}")


def show_errors(pred: dict, by_path: dict, recs: dict, results: list, k: int) -> None:
    sim = {r.id: r.similarity for r in results}
    wrong = [p for p in pred if pred[p] != p and by_path[p]["group"] != by_path.get(pred[p], {}).get("group")]
    for p in wrong[:k]:
        print(f"WRONGLY MERGED ({by_path[p]['kind']}, sim {sim[p]:.2f}): {p}\n   with {pred[p]}")
        print("   ", recs[p]["text"][:150].replace("\n", " "), "\n   ", recs[pred[p]]["text"][:150].replace("\n", " "))
    missed = [p for p in pred if by_path[p]["dup_of"] in pred and pred[p] != pred[by_path[p]["dup_of"]]]
    for p in missed[:k]:
        print(f"MISSED ({by_path[p]['kind']} {by_path[p]['variant']}): {p}")


if __name__ == "__main__":
    main()
