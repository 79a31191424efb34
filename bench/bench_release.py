#!/usr/bin/env python3
"""Release benchmark: what a second release costs, to build and to upload, side by side.

    python bench/bench_release.py                     # 20,000 files from make_corpus.py
    python bench/bench_release.py --n 100000
    python bench/bench_release.py --corpus path/to/articles --keep

Release 1 is built from all but the newest 1 % of the corpus's articles (by date, then id;
undated ones count as old), release 2 from all of them; a third release changes 1 % of the
files at random instead. Each build runs `builder.pipeline.build` in a process of its own.
Release 1 and the full build are made in fresh output folders, release 1 filling a cache
folder as a user's first build does. A rebuild uses that cache and runs where a user's does:
in the folder of the release before it (a copy, so each release stays for the publish
figures), from which it copies the shards whose rows did not change. For each scenario the
bench prints:

- the full build (release 2 from scratch, no cache) and the rebuild: CPU time (the process
  and every process it waited for) and wall time, and the rebuild's share of the full build;
- whether the rebuild equals the full build byte for byte (release 2 only);
- what `builder.publish.publish` sends to a loopback Hub (tests/hub_server.py, the real
  huggingface_hub client, the LFS path): files and bytes on the wire;
- the Parquet shards left byte for byte as they were;
- the share of the release's bytes in ~64 KiB content-defined chunks the previous release
  already had: what the Hub's Xet storage would not upload again. The chunker is a gear hash
  as Xet documents it (64-byte window, cut where the hash's top 16 bits are zero, chunks of
  8 KiB to 128 KiB); its table is drawn from sha256, so the figure is Xet's in kind, not to
  the byte.
"""
from __future__ import annotations

import argparse
import bisect
import filecmp
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAKE_CORPUS = ROOT.parent / "shared" / "tools" / "make_corpus.py"
SHARE = 0.01  # the newest articles added, and the files changed at random

# ------------------------------------------------------------------------------ the chunker

# Xet's content-defined chunking: a gear hash h = (h << 1) + GEAR[byte] over 64-bit words, so
# h depends on the last 64 bytes only; a chunk ends after a byte whose hash has its top 16 bits
# zero (one in 64 KiB on average), no sooner than 8 KiB and no later than 128 KiB from its start.
CHUNK_MIN, CHUNK_MAX = 8 * 1024, 128 * 1024
CHUNK_MASK = np.uint64(0xFFFF_0000_0000_0000)
GEAR = np.array([int.from_bytes(hashlib.sha256(b"gear %d" % i).digest()[:8], "little") for i in range(256)],
                dtype=np.uint64)
_BLOCK = 8 * 2**20


def _cut_candidates(data: bytes) -> list[int]:
    """Offsets i where the gear hash over data[i-63 : i+1] has its top 16 bits zero.

    The hash over a 64-byte window is sum(GEAR[b[i-k]] << k for k < 64) (mod 2**64): summed
    with numpy in six doubling steps, a block at a time (the last 63 bytes carried over)."""
    out: list[int] = []
    view = np.frombuffer(data, dtype=np.uint8)
    for start in range(0, len(view), _BLOCK):
        lead = min(63, start)
        h = GEAR[view[start - lead:start + _BLOCK]]
        for step in (1, 2, 4, 8, 16, 32):
            h[step:] += h[:-step] << np.uint64(step)
        hits = np.flatnonzero((h[lead:] & CHUNK_MASK) == 0)
        out.extend((hits + start).tolist())
    return out


def chunks(data: bytes) -> list[tuple[bytes, int]]:
    """The (digest, length) of each content-defined chunk of `data`, in order."""
    candidates, out, start, n = _cut_candidates(data), [], 0, len(data)
    while start < n:
        k = bisect.bisect_left(candidates, start + CHUNK_MIN - 1)
        end = candidates[k] + 1 if k < len(candidates) and candidates[k] < start + CHUNK_MAX else start + CHUNK_MAX
        end = min(end, n)
        out.append((hashlib.blake2b(data[start:end], digest_size=16).digest(), end - start))
        start = end
    return out


def release_chunks(folder: Path) -> dict[bytes, int]:
    """Every chunk of every file of a release folder: digest -> length."""
    seen: dict[bytes, int] = {}
    for path in files_of(folder):
        seen.update(chunks(path.read_bytes()))
    return seen


def known_share(old: Path, new: Path) -> tuple[float, int]:
    """(share of `new`'s bytes in chunks `old` has, `new`'s bytes), each chunk counted once
    (as Xet stores it), the files of each release taken whole."""
    have = release_chunks(old)
    want = release_chunks(new)
    total = sum(want.values())
    return sum(n for d, n in want.items() if d in have) / max(1, total), total


# ------------------------------------------------------------------------------ builds


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def same_tree(a: Path, b: Path) -> bool:
    names_a = [p.relative_to(a) for p in files_of(a)]
    names_b = [p.relative_to(b) for p in files_of(b)]
    return names_a == names_b and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names_a)


def build(corpus: Path, out: Path, cache: Path | None, workers: int | None) -> dict:
    """Build in a process of its own (so each build pays its imports and its CPU is its own);
    returns {"cpu": s, "wall": s}: CPU of the process and of every process it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    args = [sys.executable, __file__, "--_build", str(corpus), str(out), str(cache or ""), str(workers or "")]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"bench: the build of {out.name} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu": cpu, "wall": wall}


def _build_here(corpus: str, out: str, cache: str, workers: str) -> None:
    sys.path.insert(0, str(ROOT))  # this checkout's builder, whatever is installed
    from builder.pipeline import build as build_dataset

    build_dataset(corpus, out, cache_dir=cache or None, workers=int(workers) if workers else None, progress=False)


def make_corpus(dest: Path, n: int, seed: int, mix: str) -> Path:
    if not MAKE_CORPUS.exists():
        sys.exit(f"bench: {MAKE_CORPUS} is missing: give --corpus")
    subprocess.run([sys.executable, str(MAKE_CORPUS), str(dest), "--n", str(n), "--seed", str(seed), "--mix", mix,
                    "--truth", str(dest.parent / "truth.jsonl")], check=True, capture_output=True)
    return dest


def rows_of(out: Path, columns: list[str]) -> list[dict]:
    import pyarrow.parquet as pq

    rows: list[dict] = []
    for path in sorted((out / "data").glob("*.parquet")):  # the default config's shards: every row once
        rows += pq.read_table(path, columns=columns).to_pylist()
    return rows


def newest(out: Path, share: float) -> list[str]:
    """The source paths of the newest `share` of the built articles, by date then id."""
    dated = [r for r in rows_of(out, ["id", "date", "source_path"]) if r["date"] is not None]
    dated.sort(key=lambda r: (r["date"], r["id"]))
    take = max(1, round(len(dated) * share))
    return [r["source_path"] for r in dated[-take:]]


def move(corpus: Path, paths: list[str], to: Path) -> None:
    for rel in paths:
        (to / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(corpus / rel, to / rel)


def change_at_random(corpus: Path, out: Path, share: float, seed: int) -> list[str]:
    """Edit `share` of the built articles' files (UTF-8 ones: the edit is UTF-8) in place."""
    paths = sorted({r["source_path"] for r in rows_of(out, ["source_path", "encoding"]) if r["encoding"] == "utf-8"})
    picked = random.Random(seed).sample(paths, max(1, round(len(paths) * share)))
    note = "又及：本文有更新。".encode()
    for rel in picked:
        p = corpus / rel
        data = p.read_bytes()
        p.write_bytes(data.replace(b"</p>", note + b"</p>", 1) if b"</p>" in data else data + b"\n\n" + note + b"\n")
    return picked


# ------------------------------------------------------------------------------ the loopback Hub


def start_hub(work: Path):
    """A loopback Hub, and the real clients pointed at it (before they are imported: they read
    the environment once). Xet off: the loopback Hub speaks the LFS path only."""
    sys.path.insert(0, str(ROOT / "tests"))
    from hub_server import HubServer

    server = HubServer(blob_dir=work / "hub_blobs").start()
    home = work / "hf_home"
    os.environ.update({
        "HF_ENDPOINT": server.url, "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"),
        "HF_XET_CACHE": str(home / "xet"), "HF_DATASETS_CACHE": str(home / "datasets"),
        "HF_TOKEN": "hf_loopbackbenchtoken00000000000000", "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1", "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1"})  # the figures, not every upload's bar
    for name in ("HF_OIDC_RESOURCE", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_CO_STAGING"):
        os.environ.pop(name, None)
    if "huggingface_hub" in sys.modules:
        sys.exit("bench: huggingface_hub was imported before the loopback Hub was set up")
    return server


def publish(server, folder: Path, version: str) -> dict:
    """Publish a release folder; what went over the wire to the Hub."""
    from builder.publish import publish as publish_release

    start = len(server.log)
    result = publish_release(folder, version=version, repo_id="bench/news")
    sent = server.log[start:]
    length = sum(int({k.lower(): v for k, v in r.headers.items()}.get("content-length") or 0) for r in sent)
    plan = result.plan
    return {"status": result.status, "files": len(plan.add) + len(plan.change), "deleted": len(plan.delete),
            "unchanged": len(plan.unchanged), "lfs_uploads": sum(r.method == "PUT" for r in sent),
            "bytes": length, "release_bytes": sum(p.stat().st_size for p in files_of(folder))}


def unchanged_shards(old: Path, new: Path) -> tuple[int, int]:
    shards = sorted(p.relative_to(new) for p in new.rglob("*.parquet"))
    same = sum((old / s).is_file() and filecmp.cmp(old / s, new / s, shallow=False) for s in shards)
    return same, len(shards)


# ------------------------------------------------------------------------------ the run


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--_build":
        return _build_here(*sys.argv[2:6])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", help="an existing folder of articles, copied first (default: generate one)")
    ap.add_argument("--n", type=int, default=20000, help="files to generate (default 20000)")
    ap.add_argument("--mix", default="default", help="make_corpus.py's --mix (default: default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, help="reader processes (default: the build's own choice)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # this checkout's builder, whatever is installed

    work = Path(tempfile.mkdtemp(prefix="corpus-bench-release-"))
    server = start_hub(work)
    try:
        corpus = work / "corpus"
        if args.corpus:
            shutil.copytree(args.corpus, corpus)
        else:
            make_corpus(corpus, args.n, args.seed, args.mix)
        n_files = len(files_of(corpus))
        cache = work / "cache"
        print(f"corpus: {n_files:,} files ({_mb(sum(p.stat().st_size for p in files_of(corpus)))}) in {corpus}",
              flush=True)

        full = build(corpus, work / "full", None, args.workers)  # release 2 from scratch: the reference
        held = newest(work / "full", SHARE)
        move(corpus, held, work / "held")
        first = build(corpus, work / "r1", cache, args.workers)  # release 1: a user's first build, cached
        move(work / "held", held, corpus)
        shutil.copytree(work / "r1", work / "r2")  # the user's output folder, holding release 1
        added = build(corpus, work / "r2", cache, args.workers)  # release 2: the rebuild
        added["equal"] = same_tree(work / "r2", work / "full")
        changed_files = change_at_random(corpus, work / "r2", SHARE, args.seed)
        shutil.copytree(work / "r2", work / "r3")
        changed = build(corpus, work / "r3", cache, args.workers)  # release 3: 1 % changed at random
        changed["equal"] = None  # not checked: a second full build

        publish(server, work / "r1", "1.0.0")
        # Major versions: a release whose duplicate clusters moved rows between splits needs one,
        # and the bench measures bytes, not version rules.
        added["publish"] = publish(server, work / "r2", "2.0.0")
        changed["publish"] = publish(server, work / "r3", "3.0.0")
        added["known"], added["total"] = known_share(work / "r1", work / "r2")
        changed["known"], changed["total"] = known_share(work / "r2", work / "r3")
        added["shards"] = unchanged_shards(work / "r1", work / "r2")
        changed["shards"] = unchanged_shards(work / "r2", work / "r3")
    finally:
        server.stop()
        if server.errors:
            print("the loopback Hub failed:\n" + "\n".join(server.errors), file=sys.stderr)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nrelease 1: {n_files - len(held):,} files, built with a fresh cache in {first['cpu']:.1f} s CPU "
          f"({first['wall']:.1f} s wall)")
    print(f"full build of release 2 ({n_files:,} files, no cache): {full['cpu']:.1f} s CPU ({full['wall']:.1f} s wall)\n")
    scenarios = {f"newest 1 % added ({len(held):,})": added, f"1 % changed ({len(changed_files):,})": changed}
    lines = {
        "rebuild, CPU (wall)": lambda s: f"{s['cpu']:.1f} s ({s['wall']:.1f} s)",
        "rebuild / full build, CPU (wall)":
            lambda s: f"{s['cpu'] / full['cpu']:.1%} ({s['wall'] / full['wall']:.1%})",
        "rebuild equals a clean build": lambda s: {True: "yes", False: "NO", None: "not checked"}[s["equal"]],
        "publish: files sent (LFS uploads)":
            lambda s: f"{s['publish']['files']} ({s['publish']['lfs_uploads']}), "
                      f"{s['publish']['unchanged']} unchanged, {s['publish']['deleted']} deleted",
        "publish: bytes sent, share of release":
            lambda s: f"{_mb(s['publish']['bytes'])}, {s['publish']['bytes'] / s['publish']['release_bytes']:.1%}",
        "Parquet shards unchanged": lambda s: f"{s['shards'][0]} of {s['shards'][1]}",
        "bytes in 64 KiB CDC chunks already there": lambda s: f"{s['known']:.1%} of {_mb(s['total'])}",
    }
    width = max(map(len, lines)) + 2
    print(" " * width + "".join(f"{name:<32}" for name in scenarios))
    for label, show in lines.items():
        print(f"{label:<{width}}" + "".join(f"{show(s):<32}" for s in scenarios.values()))
    print("\n" + json.dumps({"files": n_files, "full": full, "first": first, **scenarios}))
    if args.keep:
        print(f"kept {work}")


if __name__ == "__main__":
    main()
