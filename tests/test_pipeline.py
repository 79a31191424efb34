"""End-to-end: raw files -> dataset folder -> datasets.load_dataset."""
import json
import os
import shutil
from datetime import datetime, timezone

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builder.dedup import DedupSettings
from builder.pipeline import build
from builder.transform.quality import QualitySettings
from builder.schema import ROW_SCHEMA
from builder.settings import BuildSettings
from conftest import article, assert_same_files, distinct_text, write_corpus
from splits import SplitSpec

CORPUS = {
    "source/_posts/金融/新浪财经/国内/一.md": article(
        "第一篇", f"<p>　　{distinct_text(1)}</p><p class=\"article-editor\">责任编辑：王五 </p>"),
    "source/_posts/金融/新浪财经/国内/二.md": article("第二篇", f"<p>　　{distinct_text(2)}</p>", date="2021-11-26 07:21:47"),
    "source/_posts/金融/新浪财经/国内/三.md": article("第三篇", f"<p>{distinct_text(3)}</p>", date="Invalid Date"),
    "source/_posts/新媒体/36kr/快讯/四.md": article("第四篇", f"{distinct_text(4)}。（央视新闻）", feed=("新媒体", "36kr", "快讯")),
    "src/pages/posts/202305101640.md": ("---\ntitle: 'Astro'\npubDate: 2023-05-10\ntags: ['a']\n---\n\n"
                                        "The studio said that the English text is here for the news of the week.\n"),
    "source/_posts/金融/新浪财经/国内/重复.md": article("重复的一篇", f"<p>　　{distinct_text(1)}</p>",
                                                 date="Sat, 26 Mar 2022 02:14:53 GMT"),
    "source/_posts/金融/新浪财经/国内/短.md": article("太短", "<p>只有几个字。</p>"),
    "broken/404.md": "<html><head><title>404 Not Found</title></head><body>404</body></html>",
    "broken/empty.md": "",
    "broken/bin.md": b"\x89PNG\r\n\x1a\n\x00\x01\xff",
    "broken/notitle.md": "just text, no title",
    "assets/logo.png": b"\x89PNG",
    "assets/.DS_Store": b"\x00",
}


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "src", CORPUS)


def test_build_loads_with_datasets(corpus, tmp_path):
    out = tmp_path / "out"
    report = build(corpus, out, progress=False)
    assert report.files_found == 13 and report.rows == 5
    assert report.rejected == {"error_page": 1, "empty_file": 1, "binary": 1, "no_title": 1, "duplicate": 1,
                               "too_short": 1}
    assert report.ignored == {".png": 1, ".ds_store": 1}
    assert report.balanced

    ds = datasets.load_dataset(str(out))
    assert set(ds) == {name for name, n in report.splits.items() if n}  # an empty split has no files
    assert sum(len(s) for s in ds.values()) == 5
    features = ds["train"].features
    assert str(features["date"].dtype) == "timestamp[us, tz=UTC]"
    assert isinstance(features["categories"], datasets.List) and features["n_chars"].dtype == "int32"
    rows = {r["title"]: r for split in ds.values() for r in split}
    assert rows["第一篇"]["editor"] == "王五" and rows["第一篇"]["text"] == distinct_text(1)
    assert rows["第二篇"]["date_assumed_tz"] == "UTC"
    assert rows["第三篇"]["date"] is None and rows["第三篇"]["warnings"] == ["date_unparseable"]
    assert rows["第四篇"]["source"] == "央视新闻"
    assert rows["Astro"]["date"] == datetime(2023, 5, 10, tzinfo=timezone.utc) and rows["Astro"]["language"] == "en"

    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert [(r["path"], r["reason"]) for r in rejects] == [
        ("broken/404.md", "error_page"), ("broken/bin.md", "binary"), ("broken/empty.md", "empty_file"),
        ("broken/notitle.md", "no_title"), ("source/_posts/金融/新浪财经/国内/短.md", "too_short"),
        ("source/_posts/金融/新浪财经/国内/重复.md", "duplicate")]
    # The later copy is dropped in favour of the earlier one, and the ledger says which.
    assert rejects[-1]["duplicate_of"] == rows["第一篇"]["id"] and "一.md" in rejects[-1]["message"]
    assert rows["第一篇"]["dup_cluster"] == rows["第一篇"]["id"]
    summary = json.loads((out / "build_summary.json").read_text())
    assert summary["accounting_ok"] and summary["rows"] == 5


def test_parquet_layout_schema_and_order(corpus, tmp_path):
    out = tmp_path / "out"
    build(corpus, out, progress=False)
    files = sorted(p.name for p in (out / "data").iterdir())
    assert "train-00000-of-00001.parquet" in files and len(files) <= 2
    for name in files:
        pf = pq.ParquetFile(out / "data" / name)
        assert pf.schema_arrow.remove_metadata() == ROW_SCHEMA
        assert b"huggingface" in pf.schema_arrow.metadata
        assert pf.metadata.row_group(0).column(0).compression == "ZSTD"
        rows = pf.read()  # date order, then id; undated rows last (builder/layout.py)
        keys = [(d is None, d, i) for d, i in zip(rows.column("date").to_pylist(), rows.column("id").to_pylist())]
        assert keys == sorted(keys, key=lambda k: (k[0], k[1] or 0, k[2]))


def test_same_input_same_bytes_whatever_the_order_or_workers(corpus, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build(corpus, a, progress=False, workers=1)
    # Same files, created in the reverse order (a different directory order on disk).
    other = tmp_path / "src2"
    for rel in reversed(list(CORPUS)):
        (other / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus / rel, other / rel)
    build(other, b, progress=False, workers=2)
    assert_same_files(a, b)


def test_parallel_build_equals_serial(tmp_path):
    files = {f"source/_posts/c/f/s/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>") for i in range(260)}
    src = write_corpus(tmp_path / "src", files)
    build(src, tmp_path / "one", progress=False, workers=1)
    build(src, tmp_path / "two", progress=False, workers=2)  # above the inline threshold: real workers
    for split in ("train", "test"):  # 260 rows: both splits have some
        one = pq.read_table(tmp_path / "one" / "data" / f"{split}-00000-of-00001.parquet")
        two = pq.read_table(tmp_path / "two" / "data" / f"{split}-00000-of-00001.parquet")
        assert one.equals(two)


def test_files_read_one_at_a_time_or_together_give_the_same_bytes(corpus, tmp_path, monkeypatch):
    from builder.run import worker

    build(corpus, tmp_path / "together", progress=False, workers=1)
    monkeypatch.setattr(worker, "TOGETHER_BYTES", 1)  # every file in a group of its own
    build(corpus, tmp_path / "alone", progress=False, workers=1)
    assert_same_files(tmp_path / "together", tmp_path / "alone")


def test_duplicate_ids_are_rejected_not_lost(tmp_path):
    src = write_corpus(tmp_path / "src", {
        "a.md": f"---\ntitle: A\nurl: https://example.com/1\n---\n{distinct_text(1)}",
        "b.md": f"---\ntitle: B\nurl: https://example.com/1\n---\n{distinct_text(2)}"})
    report = build(src, tmp_path / "out", progress=False)
    assert report.rows == 1 and report.rejected == {"duplicate_id": 1} and report.balanced
    line = json.loads((tmp_path / "out" / "rejects.jsonl").read_text())
    assert line["path"] == "b.md" and "a.md" in line["message"]


def test_many_partitions_some_with_duplicates(tmp_path, monkeypatch):
    # Read tasks of a few files, so partitions of a few rows: the shards gather rows from
    # partitions with and without duplicate clusters and repeated ids, which must not change
    # the rows or their schema.
    import builder.reading

    files = {f"source/_posts/c/f/s/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>") for i in range(60)}
    files["source/_posts/c/f/s/copy.md"] = article("副本", f"<p>{distinct_text(7)}</p>")
    files["source/_posts/c/f/s/same-id.md"] = f"---\ntitle: X\nid: fixed\n---\n{distinct_text(90)}"
    files["source/_posts/c/f/s/same-id2.md"] = f"---\ntitle: Y\nid: fixed\n---\n{distinct_text(91)}"
    src = write_corpus(tmp_path / "src", files)
    whole = build(src, tmp_path / "whole", progress=False, workers=1)
    monkeypatch.setattr(builder.reading, "_CHUNK", 3)
    parts = build(src, tmp_path / "parts", progress=False, workers=1)
    assert whole.rejected == parts.rejected == {"duplicate": 1, "duplicate_id": 1}
    assert whole.rows == parts.rows == 61
    for name in ("rejects.jsonl", "splits.json", "build_summary.json"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes(), name
    for shard in sorted((tmp_path / "whole" / "data").glob("*.parquet")):
        assert pq.read_table(shard).equals(pq.read_table(tmp_path / "parts" / "data" / shard.name))


def test_a_large_build_reads_more_files_a_task_so_its_shards_open_fewer_partitions():
    from builder.reading import _CHUNK, _PARTITIONS, _SPAN, _chunk_for

    assert _chunk_for(0) == _chunk_for(_CHUNK * _PARTITIONS) == _CHUNK  # up to 262,144 files: as before
    assert _chunk_for(600_000) == 1172 and -(-600_000 // 1172) <= _PARTITIONS
    assert _chunk_for(_SPAN * _PARTITIONS) == _chunk_for(10_000_000) == _SPAN


def test_card_configs_let_load_dataset_find_splits(corpus, tmp_path):
    out = tmp_path / "out"
    build(corpus, out, progress=False)
    card = (out / "README.md").read_text()
    assert "configs:" in card and "path: data/train-*" in card and "{{" not in card


def test_bundled_sample_builds(tmp_path):
    from builder.pipeline import SAMPLE_DIR

    if not any(SAMPLE_DIR.rglob("*.md")):
        pytest.skip("sample corpus not present")
    report = build(None, tmp_path / "out", progress=False)
    assert report.balanced and report.rows >= 30


def _wait_until_trusted(root):
    # A file is known by its stat only once it was hashed while older than the trust margin.
    import time

    from builder.cache import TRUST_MARGIN_NS

    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in root.rglob("*"))
    time.sleep(max(0.0, (newest + TRUST_MARGIN_NS - time.time_ns()) / 1e9 + 0.05))


def test_cached_rebuild_equals_clean_build(corpus, tmp_path):
    cache = tmp_path / "cache"
    articles = sum(rel.endswith(".md") for rel in CORPUS)
    first = build(corpus, tmp_path / "first", progress=False, cache_dir=cache)
    assert not first.from_cache
    # Files written within the trust margin before the build: read again, found the same.
    again = build(corpus, tmp_path / "again", progress=False, cache_dir=cache)
    assert again.from_cache == {"bytes": articles}
    _wait_until_trusted(corpus)
    build(corpus, tmp_path / "hashed", progress=False, cache_dir=cache)  # hashed while old enough
    cached = build(corpus, tmp_path / "cached", progress=False, cache_dir=cache)
    assert cached.from_cache == {"stat": articles}  # every file known by its stat, none read
    build(corpus, tmp_path / "clean", progress=False)
    for name in ("first", "again", "cached"):
        assert_same_files(tmp_path / name, tmp_path / "clean")


def test_a_file_is_trusted_by_how_old_it_was_when_read_not_when_the_build_began(tmp_path):
    # A build of many files reads the last ones long after it began: a file written just
    # before the build, read once it is old enough, is known by its stat next time.
    from builder.run.worker import read_file as _read

    fresh = tmp_path / "a.md"
    fresh.write_text("---\ntitle: a\n---\ntext\n", encoding="utf-8")
    first = _read(("a.md", str(fresh)), BuildSettings())
    assert first.data == fresh.read_bytes() and not first.trusted
    _wait_until_trusted(tmp_path)
    again = _read(("a.md", str(fresh)), BuildSettings())
    assert again.trusted and again.stat == first.stat and again.sha256 == first.sha256


def test_a_read_task_writes_its_rows_and_hands_back_only_facts(tmp_path):
    # The rows go to the task's partition; what crosses to the main process (pickled, as a
    # process pool sends it) is each file's outcome and each row's small columns: no text.
    import pickle

    from multiprocessing.reduction import ForkingPickler

    from builder.parts import part_path, read_part
    from builder.read.paths import ArticleList
    from builder.run.worker import ReadTask, read_task

    write_corpus(tmp_path, {"a.md": article("甲", "<p>" + distinct_text(1) + "</p>"),
                            "b.md": "not an article", "c.md": article("丙", "<p>" + distinct_text(3) + "</p>")})
    (tmp_path / "parts").mkdir()
    articles = ArticleList(str(tmp_path))
    for name in ("a.md", "b.md", "c.md"):
        articles.append(name)
    result = read_task(BuildSettings(), ReadTask(7, str(tmp_path / "parts"), 0, articles.block(0, 3)))
    rows = read_part(part_path(tmp_path / "parts", 7))
    assert rows.column("source_path").to_pylist() == ["a.md", "c.md"] and "text" in rows.column_names
    back = pickle.loads(ForkingPickler.dumps(result))
    assert back.facts.equals(result.facts) and "text" not in back.facts.column_names
    assert back.facts.column("k").to_pylist() == [0, 2] and back.facts.column("id").equals(rows.column("id"))
    assert back.index.column("path").to_pylist() == ["a.md", "b.md", "c.md"]
    assert back.index.column("reason")[1].as_py() == "no_title"
    assert back.index.column("part").to_pylist() == [7, -1, 7] and back.index.column("row").to_pylist() == [0, -1, 1]


def test_cache_is_per_source_folder(corpus, tmp_path):
    import shutil

    cache = tmp_path / "cache"
    build(corpus, tmp_path / "a", progress=False, cache_dir=cache)
    other = tmp_path / "copy"
    shutil.copytree(corpus, other)
    assert not build(other, tmp_path / "b", progress=False, cache_dir=cache).from_cache
    assert build(corpus, tmp_path / "c", progress=False, cache_dir=cache).from_cache  # the first kept
    assert len([p for p in cache.glob("build-*") if p.is_dir()]) == 2


def test_input_manifest_covers_every_article_file(corpus, tmp_path):
    import hashlib

    from builder.card import input_manifest_hash

    build(corpus, tmp_path / "out", progress=False)
    summary = json.loads((tmp_path / "out" / "build_summary.json").read_text())
    pairs = [(rel, hashlib.sha256((corpus / rel).read_bytes()).hexdigest())
             for rel in CORPUS if rel.endswith(".md")]
    assert summary["input_manifest_sha256"] == input_manifest_hash(pairs)


def test_cache_never_serves_a_stale_result(corpus, tmp_path):
    import os

    cache = tmp_path / "cache"
    build(corpus, tmp_path / "first", progress=False, cache_dir=cache)
    _wait_until_trusted(corpus)
    build(corpus, tmp_path / "second", progress=False, cache_dir=cache)  # every file trusted by its stat now
    edited = corpus / "source/_posts/金融/新浪财经/国内/二.md"
    before = edited.stat()
    # Same size, same mtime: only the ctime tells the content changed.
    text = edited.read_text(encoding="utf-8")
    assert "第二篇" in text
    edited.write_text(text.replace("第二篇", "第贰篇"), encoding="utf-8")
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert edited.stat().st_size == before.st_size
    removed = corpus / "source/_posts/金融/新浪财经/国内/一.md"
    removed.unlink()
    added = corpus / "source/_posts/金融/新浪财经/国内/五.md"
    added.write_text(text.replace("第二篇", "第五篇").replace(distinct_text(2), distinct_text(5)), encoding="utf-8")
    report = build(corpus, tmp_path / "cached", progress=False, cache_dir=cache)
    assert sum(report.from_cache.values()) == sum(rel.endswith(".md") for rel in CORPUS) - 2
    build(corpus, tmp_path / "clean", progress=False)
    assert_same_files(tmp_path / "cached", tmp_path / "clean")
    titles = pq.read_table(tmp_path / "cached" / "data" / "train-00000-of-00001.parquet").column("title").to_pylist()
    assert any("第贰篇" in t for t in titles) and not any("第二篇" in t for t in titles)
    # Other settings are another cache: a result never crosses settings.
    other = BuildSettings(quality=QualitySettings(languages=("zh", "en")))
    report = build(corpus, tmp_path / "other", progress=False, cache_dir=cache, settings=other)
    assert report.rows and not report.from_cache


def test_a_damaged_cache_stops_the_build_and_is_deleted(corpus, tmp_path):
    from builder.errors import CacheError

    cache = tmp_path / "cache"
    build(corpus, tmp_path / "first", progress=False, cache_dir=cache)
    (store,) = [p for p in cache.glob("build-*") if p.is_dir()]
    for part in store.rglob("t*.arrow"):  # rows gone, index intact
        import pyarrow.ipc as ipc

        schema = ipc.open_file(str(part)).schema
        with ipc.new_file(str(part), schema) as writer:
            writer.write_table(schema.empty_table())
    with pytest.raises(CacheError, match="gave no rows where its index says"):
        build(corpus, tmp_path / "second", progress=False, cache_dir=cache)
    assert not store.exists() and (tmp_path / "first").exists()
    report = build(corpus, tmp_path / "third", progress=False, cache_dir=cache)
    assert not report.from_cache
    assert_same_files(tmp_path / "third", tmp_path / "first")


def test_a_cache_of_another_format_is_ignored(corpus, tmp_path):
    cache = tmp_path / "cache"
    build(corpus, tmp_path / "first", progress=False, cache_dir=cache)
    (store,) = [p for p in cache.glob("build-*") if p.is_dir()]
    (store / "files.arrow").write_bytes(b"not arrow")
    (cache / "results-v2-0123456789abcdef.sqlite").write_bytes(b"the old cache")
    report = build(corpus, tmp_path / "second", progress=False, cache_dir=cache)
    assert not report.from_cache and not list(cache.glob("results-*"))
    assert_same_files(tmp_path / "second", tmp_path / "first")


def test_the_corpus_command_with_its_plot_helper_writes_the_same_bytes(tmp_path):
    # A fresh `corpus` process has no matplotlib imported: a build above the inline threshold
    # draws its plots in a helper process (and skips pyarrow's pandas probe). Nothing of it
    # may show in the output: same bytes as this process's in-process build.
    import subprocess
    import sys

    pytest.importorskip("matplotlib")
    files = {f"source/_posts/c/f/s/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>",
                                                        date=f"2024-{i % 12 + 1:02d}-01 08:00:00")
             for i in range(240)}
    src = write_corpus(tmp_path / "src", files)
    build(src, tmp_path / "here", progress=False, workers=2)
    for workers in ("1", "2"):
        out = tmp_path / f"cli{workers}"
        subprocess.run([sys.executable, "-m", "builder.cli", "build", str(src), "-o", str(out), "--workers", workers,
                        "--no-cache", "--quiet"], check=True, capture_output=True)
        assert (out / "assets/articles_per_month.png").exists() and (out / "assets/text_length.png").exists()
        assert_same_files(out, tmp_path / "here")
    # A large build starts the helper with the card instead (here: from 0 files on).
    script = tmp_path / "late.py"
    script.write_text("import sys\nimport builder.pipeline as p\nif __name__ == '__main__':\n"
                      "    p._PLOTS_WITH_CARD_FROM = 0\n"
                      "    p.build(sys.argv[1], sys.argv[2], workers=2, progress=False)\n"
                      "    import multiprocessing\n"
                      "    print(sorted(c.name for c in multiprocessing.active_children()), 'matplotlib' in sys.modules)\n")
    late = subprocess.run([sys.executable, str(script), str(src), str(tmp_path / "late")], check=True,
                          capture_output=True, text=True)
    assert late.stdout.split() == ["[]", "False"]  # drawn by the helper (not here), which ended
    assert (tmp_path / "late" / "assets/articles_per_month.png").exists()
    assert_same_files(tmp_path / "late", tmp_path / "here")


def test_each_rebuild_equals_a_clean_build_and_the_cache_holds_one_build(corpus, tmp_path):
    cache = tmp_path / "cache"
    build(corpus, tmp_path / "out", progress=False, cache_dir=cache)
    (store,) = [p for p in cache.glob("build-*") if p.is_dir()]
    titles = {"一": "第一篇", "二": "第二篇", "三": "第三篇", "四": "第四篇", "重复": "重复的一篇"}
    for name, title in titles.items():  # each rebuild computes one new row, takes the others
        (edited,) = corpus.rglob(f"{name}.md")
        edited.write_text(edited.read_text(encoding="utf-8").replace(title, f"{title}（更新）"), encoding="utf-8")
        report = build(corpus, tmp_path / "out", progress=False, cache_dir=cache)
        assert sum(report.from_cache.values()) == sum(rel.endswith(".md") for rel in CORPUS) - 1
        build(corpus, tmp_path / "clean", progress=False)
        assert_same_files(tmp_path / "out", tmp_path / "clean")
        # One build's partitions: every row copied into this build's own, nothing older kept.
        assert sorted(p.name for p in store.iterdir()) == ["files.arrow", "meta.json", "parts"]
        held = sum(pa.ipc.open_file(str(p)).read_all().num_rows for p in (store / "parts").glob("t*.arrow"))
        dropped_later = ("duplicate", "near_duplicate", "contained", "duplicate_id")
        assert held == report.rows + sum(report.rejected.get(r, 0) for r in dropped_later)


def test_tasks_cut_otherwise_than_the_cached_build_take_its_rows(corpus, tmp_path, monkeypatch):
    import builder.reading

    cache = tmp_path / "cache"
    build(corpus, tmp_path / "first", progress=False, cache_dir=cache)  # one task
    monkeypatch.setattr(builder.reading, "_span_for", lambda n: 2)  # tasks of two files: rows from one cached partition each
    edited = corpus / "source/_posts/金融/新浪财经/国内/二.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("第二篇", "第二篇（更新）"), encoding="utf-8")
    report = build(corpus, tmp_path / "cached", progress=False, cache_dir=cache)
    assert sum(report.from_cache.values()) == sum(rel.endswith(".md") for rel in CORPUS) - 1
    (store,) = [p for p in cache.glob("build-*") if p.is_dir()]
    assert len(list((store / "parts").glob("t*.arrow"))) > 1
    build(corpus, tmp_path / "clean", progress=False)
    assert_same_files(tmp_path / "cached", tmp_path / "clean")
    monkeypatch.setattr(builder.reading, "_span_for", lambda n: 2048)
    again = build(corpus, tmp_path / "again", progress=False, cache_dir=cache)  # and back to one task
    assert sum(again.from_cache.values()) == sum(rel.endswith(".md") for rel in CORPUS)
    assert_same_files(tmp_path / "again", tmp_path / "clean")


def test_runs_of_a_rebuild_skip_the_entries_of_deleted_files_and_read_new_ones(corpus, tmp_path, monkeypatch):
    # Each read task is given the cached entries of its stretch of path order: those of files
    # gone since sit between runs (or in one) and match nothing; a new or renamed file has none.
    import builder.reading

    cache = tmp_path / "cache"
    build(corpus, tmp_path / "first", progress=False, cache_dir=cache)
    monkeypatch.setattr(builder.reading, "_span_for", lambda n: 2)
    (corpus / "source/_posts/金融/新浪财经/国内/二.md").unlink()
    (corpus / "broken/404.md").unlink()
    (corpus / "source/_posts/金融/新浪财经/国内/三.md").rename(corpus / "source/_posts/金融/新浪财经/国内/三b.md")
    write_corpus(corpus, {"source/_posts/金融/新浪财经/国内/一a.md": article("新的一篇", f"<p>{distinct_text(7)}</p>")})
    report = build(corpus, tmp_path / "cached", progress=False, cache_dir=cache)
    articles = sum(rel.endswith(".md") for rel in CORPUS) - 2 + 1  # two deleted, one renamed, one new
    assert sum(report.from_cache.values()) == articles - 2  # the renamed and the new file are read
    build(corpus, tmp_path / "clean", progress=False)
    assert_same_files(tmp_path / "cached", tmp_path / "clean")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the worker processes in /proc")
def test_a_worker_killed_while_reading_costs_time_not_rows(tmp_path, caplog):
    # A worker killed from outside (the system's out-of-memory killer, a person) breaks the
    # pool: its tasks are read again in new workers, and the build is what it would have been.
    import signal
    import threading
    import time

    from builder import readers

    files = {f"a/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>" * 30) for i in range(1500)}
    src = write_corpus(tmp_path / "src", files)
    killed = []

    def kill_one_worker():
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            server = getattr(getattr(readers.forkserver, "_forkserver", None), "_forkserver_pid", None)
            for pid in (os.listdir("/proc") if server else []):
                try:
                    with open(f"/proc/{pid}/stat") as fh:
                        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == server:
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(int(pid))
                    return
            time.sleep(0.002)

    watcher = threading.Thread(target=kill_one_worker)
    watcher.start()
    with caplog.at_level("WARNING", logger="builder"):
        report = build(src, tmp_path / "out", workers=2, progress=False)
    watcher.join()
    assert killed and "worker process died" in caplog.text
    assert report.rows == len(files) and report.balanced
    build(src, tmp_path / "clean", workers=1, progress=False)
    assert_same_files(tmp_path / "out", tmp_path / "clean")


def test_a_script_without_a_main_guard_is_told_what_to_do(tmp_path):
    # Workers import the calling script: one that calls build() at its top level makes each
    # worker try to start workers of its own, and die. The build says why, and does not loop.
    import subprocess
    import sys


    files = {f"a/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>") for i in range(210)}
    src = write_corpus(tmp_path / "src", files)
    script = tmp_path / "run.py"
    script.write_text(f"from builder.pipeline import build\n"
                      f"build({str(src)!r}, {str(tmp_path / 'out')!r}, workers=2, progress=False)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.path.dirname(__file__)})
    assert done.returncode != 0 and not (tmp_path / "out").exists()
    assert "builder.errors.WorkerError" in done.stderr and "if __name__ == '__main__':" in done.stderr


def test_the_ledger_is_the_same_whichever_strategy_splits(tmp_path, monkeypatch):
    # The hash strategy's split is planned by the shard pass, the time strategy's by a pass
    # of its own: the duplicates' ledger lines (which copy, of which kept file, met before or
    # after it, across partitions) and the rows kept must not depend on which.
    import builder.reading
    from splits import SplitSpec

    files = {f"source/_posts/c/f/s/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>",
                                                        date=f"2024-01-{1 + i % 28:02d} 08:00:00")
             for i in range(40)}
    for k, i in enumerate((3, 17, 17, 33)):  # copies after and before the file they copy, one twice
        files[f"source/_posts/c/f/s/{'a' if k % 2 else 'z'}-copy{k}.md"] = article(
            f"副本{k}", f"<p>{distinct_text(i)}</p>", date="2024-02-01 08:00:00")
    files["source/_posts/c/f/s/same-id.md"] = f"---\ntitle: X\nid: fixed\n---\n{distinct_text(90)}"
    files["source/_posts/c/f/s/same-id2.md"] = f"---\ntitle: Y\nid: fixed\n---\n{distinct_text(91)}"
    src = write_corpus(tmp_path / "src", files)
    monkeypatch.setattr(builder.reading, "_CHUNK", 4)
    hashed = build(src, tmp_path / "hash", progress=False, workers=1)
    timed = build(src, tmp_path / "time", progress=False, workers=1,
                  split_spec=SplitSpec.from_sizes(test_size=0.2, strategy="time", group="dup_cluster"))
    assert hashed.rejected == timed.rejected == {"duplicate": 4, "duplicate_id": 1}
    assert hashed.rows == timed.rows == 41
    ledger = (tmp_path / "hash" / "rejects.jsonl").read_text()
    assert ledger == (tmp_path / "time" / "rejects.jsonl").read_text()
    assert "the same text as source/_posts/c/f/s/0017.md" in ledger
    ids = lambda out: sorted(i for p in (out / "data").glob("*.parquet") for i in pq.read_table(p).column("id").to_pylist())
    assert ids(tmp_path / "hash") == ids(tmp_path / "time")


def test_the_audit_counts_near_copies_a_split_puts_apart(tmp_path):
    # Kept copies grouped by id (not by their cluster) may land in two splits: the audit counts
    # the test rows with a near copy in train, from the detector's pairs. Checked here against
    # the published rows themselves: each cluster's rows and their splits.
    import datasets

    files = {}
    for i in range(40):
        body = distinct_text(i, 400)
        files[f"source/_posts/f/{i}a.md"] = article(f"甲{i}", f"<p>{body}</p>")
        files[f"source/_posts/f/{i}b.md"] = article(f"乙{i}", f"<p>{body[:380]}多了几个字。</p>")
    src = write_corpus(tmp_path / "src", files)
    spec = SplitSpec.from_sizes(test_size=0.3, group=None)
    settings = BuildSettings(dedup=DedupSettings(keep_duplicates=True))
    report = build(src, tmp_path / "out", settings=settings, split_spec=spec, progress=False, cache_dir=None)
    dd = datasets.load_dataset(str(tmp_path / "out"))
    split_of = {row["id"]: (name, row["dup_cluster"]) for name in dd for row in dd[name]}
    clusters: dict[str, set] = {}
    for row_id, (name, cluster) in split_of.items():
        clusters.setdefault(cluster, set()).add((row_id, name))
    expected = {row_id for members in clusters.values() if any(n == "train" for _, n in members)
                for row_id, n in members if n != "train"}
    assert len(clusters) == 40 and expected  # 40 stories of two rows, some split apart
    assert report.audit["copies_across_splits"] == len(expected)
    assert not report.audit["ok"]


def test_exclude_keeps_documentation_out_and_counts_it(tmp_path, capsys):
    from builder.cli import main

    src = write_corpus(tmp_path / "src", {
        "SOURCES.md": "# Sources\n\nThis archive was collected from public feeds; see each post's url.\n" * 3,
        "source/_posts/f/a.md": article("甲", f"<p>{distinct_text(1)}</p>"),
        "source/_posts/f/SOURCES.md": article("乙", f"<p>{distinct_text(2)}</p>")})
    assert main(["build", str(src), "-o", str(tmp_path / "out"), "-q", "--no-cache", "--exclude", "/SOURCES.md"]) == 0
    err = capsys.readouterr().err
    assert "files found 3: rows 2 + rejected 0 + ignored 1" in err and "excluded by --exclude: 1" in err
    report = build(src, tmp_path / "out2", progress=False, cache_dir=None, settings=BuildSettings(exclude=("SOURCES.md",)))
    assert report.rows == 1 and report.ignored == {"excluded": 2} and report.balanced


def test_the_progress_bar_counts_every_file_found(tmp_path, capsys):
    # The summary's "files found" and the bar agree: files that are no article are counted done.
    src = write_corpus(tmp_path / "src", {"a.md": article("甲", f"<p>{distinct_text(1)}</p>"),
                                          "b.png": b"\x89PNG", "c.json": "{}"})
    report = build(src, tmp_path / "out", progress=True, cache_dir=None, workers=1)
    err = capsys.readouterr().err
    assert report.files_found == 3 and "2/3 " in err and "/1 " not in err  # the two non-articles done first


def test_the_card_states_the_copy_leakage_audit(tmp_path):
    build(None, tmp_path / "out", progress=False, cache_dir=None)
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "0 rows with a near or contained copy in train." in card
