"""The build cache's parts: entries written and streamed back, the merge that finds a path's
entry, the trust rule, the lock, and installing a build. End to end (rebuilds equal clean
builds, a stale file never served) in test_pipeline.py."""
import pyarrow as pa

from builder.cache import (TRUST_MARGIN_NS, BuildCache, Entry, IndexWriter, Lookup, PreviousBuild, Stat,
                           entry_at, index_table, trusted)
from builder.quality import QualitySettings
from builder.settings import BuildSettings

S = BuildSettings()
SCHEMA = pa.schema([pa.field("id", pa.string(), False)])


def _entry(path, seq=0, **kw):
    base = dict(stat=Stat(10, 1, 2, 3), sha256="ab", trusted=True, seq=seq, layer=0, lseq=seq, reason=None,
                message=None, warnings=[])
    return Entry(path, **{**base, **kw})


def test_entries_round_trip_in_batches(tmp_path):
    entries = [_entry(f"{k:04d}.md", seq=k, warnings=["no_date"] if k % 3 else []) for k in range(10)]
    entries.append(_entry("reject.md", seq=-1, sha256=None, trusted=False, reason="too_large", message="big",
                          stat=Stat(2**40, -5, 2**62, 2**63 + 1)))
    writer = IndexWriter(tmp_path / "files.arrow", batch=4)
    for k in range(0, len(entries), 3):  # a few files at a time, as a build adds them
        writer.add_table(index_table(entries[k:k + 3]))
    writer.close()
    assert pa.ipc.open_file(str(tmp_path / "files.arrow")).num_record_batches == 2  # 6 rows, then the last 5
    got = list(PreviousBuild(tmp_path, {"n_partitions": 1, "layers": {}, "live_rows": 10}).entries())
    assert got == entries
    assert not got[-1].reusable and got[0].reusable
    assert not _entry("t.md", seq=-1, reason="timeout", message="slow").reusable  # may pass next time


def _index_of(tmp_path, paths, batch=3):
    writer = IndexWriter(tmp_path / "files.arrow", batch=batch)
    for k, p in enumerate(paths):
        writer.add_table(index_table([_entry(p, seq=k)]))
    writer.close()
    return PreviousBuild(tmp_path, {"n_partitions": 1, "layers": {}, "live_rows": len(paths)})


def test_lookup_merges_two_path_orders(tmp_path):
    prev = _index_of(tmp_path, ["a/1.md", "a/3.md", "b/x.md", "c.md", "c/d.md", "e.md", "f.md"])
    lookup = Lookup(prev.batches())
    found = []
    for block in (["a/0.md", "a/1.md", "a/2.md"], ["a/3.md", "b/y.md", "c.md"], ["d.md"], ["f.md", "g.md"]):
        rows, where = lookup.match(block)
        paths = rows.column("path").to_pylist()
        found += [paths[j] if j >= 0 else None for j in where]
    assert found == [None, "a/1.md", None, "a/3.md", None, "c.md", None, "f.md", None]
    assert entry_at(rows, 0) == _entry("f.md", seq=6)


def test_lookup_of_the_same_files_takes_them_in_order_across_batches(tmp_path):
    paths = [f"{k:03d}.md" for k in range(20)]
    lookup = Lookup(_index_of(tmp_path, paths).batches())
    for start in range(0, 20, 7):  # blocks that straddle the index's batches of 3
        rows, where = lookup.match(paths[start:start + 7])
        assert where == list(range(len(where))) and rows.column("path").to_pylist() == paths[start:start + 7]
    assert lookup.match(["zzz.md"])[1] == [-1]


def test_trust_needs_both_times_older_than_the_margin():
    hashed_at = 10 * TRUST_MARGIN_NS
    old = Stat(1, mtime_ns=hashed_at - 2 * TRUST_MARGIN_NS, ctime_ns=hashed_at - 2 * TRUST_MARGIN_NS, ino=1)
    assert trusted(old, hashed_at)
    assert not trusted(old._replace(mtime_ns=hashed_at - TRUST_MARGIN_NS // 2), hashed_at)
    assert not trusted(old._replace(ctime_ns=hashed_at), hashed_at)  # metadata changed as it was hashed


def test_cache_key_binds_source_and_settings(tmp_path):
    a = BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA)
    assert a.key == BuildCache.for_build(tmp_path / "c", tmp_path / "src", BuildSettings(), SCHEMA).key
    assert a.key != BuildCache.for_build(tmp_path / "c", tmp_path / "other", S, SCHEMA).key
    strict = BuildSettings(quality=QualitySettings(min_chars=5))
    assert a.key != BuildCache.for_build(tmp_path / "c", tmp_path / "src", strict, SCHEMA).key


def _stage(folder, rows, layer=0):
    (folder / f"L{layer}").mkdir(parents=True)
    writer = IndexWriter(folder / "files.arrow")
    writer.add_table(index_table([_entry(f"{k}.md", seq=k)._replace(layer=layer) for k in range(rows)]))
    writer.close()
    import pyarrow.ipc as ipc

    with ipc.new_file(str(folder / f"L{layer}" / "part-00000.arrow"), SCHEMA) as w:
        w.write_table(pa.table({"id": [str(k) for k in range(rows)]}, schema=SCHEMA))
    return folder


def _layers(*ids, rows=3):
    return {k: {"seq_space": rows, "rows": rows} for k in ids}


def test_install_swaps_in_a_whole_build_and_one_build_holds_the_lock(tmp_path):
    cache = BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA)
    assert cache.acquire() and cache.previous() is None
    other = BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA)
    assert not other.acquire() and other.previous() is None  # a second build goes without
    other.install(_stage(tmp_path / "x", 1), n_partitions=1, layers=_layers(0), live_rows=1)  # leaves it alone
    cache.install(_stage(tmp_path / "one", 3), n_partitions=1, layers=_layers(0), live_rows=3)
    assert cache.previous().layers == _layers(0)
    # The next build adds layer 1 and keeps layer 0, which is moved over from the cached build.
    cache.install(_stage(tmp_path / "two", 5, layer=1), n_partitions=1, layers=_layers(0, 1), live_rows=5)
    prev = cache.previous()
    assert [e.path for e in prev.entries()] == [f"{k}.md" for k in range(5)]
    assert prev.layers == _layers(0, 1) and prev.part(0, 0).exists() and prev.part(1, 0).exists()
    assert prev.stored_rows == 6 and prev.live_rows == 5
    cache.install(_stage(tmp_path / "three", 2, layer=2), n_partitions=1, layers=_layers(2), live_rows=2)
    assert sorted(p.name for p in cache.store.iterdir()) == ["L2", "files.arrow", "meta.json"]  # 0, 1 dropped
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [f"build-{cache.key}", f"build-{cache.key}.lock"]
    cache.release()
    assert other.acquire()  # free once released
    other.release()


def test_a_damaged_or_foreign_cached_build_is_ignored(tmp_path):
    cache = BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA)
    assert cache.acquire()
    cache.install(_stage(tmp_path / "one", 3), n_partitions=1, layers=_layers(0), live_rows=3)
    (cache.store / "L0" / "part-00000.arrow").write_bytes(b"truncated")
    assert cache.previous() is None
    cache.install(_stage(tmp_path / "two", 3), n_partitions=1, layers=_layers(0), live_rows=3)
    other_schema = BuildCache(cache.folder, cache.key, pa.schema([pa.field("x", pa.int8())]))
    assert other_schema.acquire() is False  # the lock is per process's open file: still ours
    cache.release()
    assert other_schema.acquire() and other_schema.previous() is None  # rows of another shape
    other_schema.release()


def test_installing_drops_this_sources_builds_of_other_tool_versions_only(tmp_path):
    import json

    from builder import __version__
    from builder.cache import FORMAT

    cache = BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA)

    def fake(name, **meta):
        (tmp_path / "c" / name).mkdir(parents=True)
        (tmp_path / "c" / name / "meta.json").write_text(json.dumps(meta))

    fake("build-oldversion", source=cache.source, version="0.0.1", format=FORMAT)
    fake("build-oldformat", source=cache.source, version=__version__, format=FORMAT - 1)
    fake("build-othersource", source=str(tmp_path / "elsewhere"), version="0.0.1", format=FORMAT)
    fake("build-othersettings", source=cache.source, version=__version__, format=FORMAT)
    assert cache.acquire()
    cache.install(_stage(tmp_path / "one", 1), n_partitions=1, layers=_layers(0), live_rows=1)
    left = sorted(p.name for p in (tmp_path / "c").iterdir() if p.is_dir())
    assert left == [f"build-{cache.key}", "build-othersettings", "build-othersource"]
    cache.release()
