"""The build cache's parts: entries written and streamed back, the merge that finds a path's
entry, the trust rule, the lock, installing a build, its key (over the settings, the rule files'
bytes, our code and the libraries' versions: a rule or code change is never served stale rows),
the folder's bound and `corpus cache info/clear`. End to end (rebuilds equal clean builds, a
stale file never served) in test_pipeline.py."""
import json

import pyarrow as pa
import pytest

from builder.cache import (TRUST_MARGIN_NS, BuildCache, Entry, IndexWriter, Lookup, PreviousBuild, Stat,
                           entry_at, index_table, trusted)
from builder.transform.quality import QualitySettings
from builder.settings import BuildSettings

S = BuildSettings()
SCHEMA = pa.schema([pa.field("id", pa.string(), False)])


def _entry(path, seq=0, **kw):
    base = dict(stat=Stat(10, 1, 2, 3), sha256="ab", trusted=True, part=0 if seq >= 0 else -1, row=seq,
                reason=None, message=None, warnings=[])
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
    got = list(PreviousBuild(tmp_path, {"n_tasks": 1}).entries())
    assert got == entries
    assert not got[-1].reusable and got[0].reusable
    assert not _entry("t.md", seq=-1, reason="timeout", message="slow").reusable  # may pass next time


def _index_of(tmp_path, paths, batch=3):
    writer = IndexWriter(tmp_path / "files.arrow", batch=batch)
    for k, p in enumerate(paths):
        writer.add_table(index_table([_entry(p, seq=k)]))
    writer.close()
    return PreviousBuild(tmp_path, {"n_tasks": 1})


def test_lookup_gives_the_entries_of_each_run_of_path_order(tmp_path):
    prev = _index_of(tmp_path, ["a/1.md", "a/3.md", "b/x.md", "c.md", "c/d.md", "e.md", "f.md"])
    lookup = Lookup(prev.batches())
    # A task's run of paths ends at its last path: it gets the entries up to it (b/x.md and
    # c/d.md, whose files are gone, come with a run and match none of its files).
    runs = [lookup.upto(last).column("path").to_pylist() for last in ("a/2.md", "c.md", "d.md", "g.md")]
    assert runs == [["a/1.md"], ["a/3.md", "b/x.md", "c.md"], ["c/d.md"], ["e.md", "f.md"]]
    assert lookup.upto("zzz.md").num_rows == 0


def test_lookup_runs_straddle_the_index_batches(tmp_path):
    paths = [f"{k:03d}.md" for k in range(20)]
    lookup = Lookup(_index_of(tmp_path, paths).batches())
    got = []
    for start in range(0, 20, 7):  # runs that straddle the index's batches of 3
        rows = lookup.upto(paths[min(19, start + 6)])
        got += rows.column("path").to_pylist()
        assert entry_at(rows, 0) == _entry(paths[start], seq=start)
    assert got == paths


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


def _stage(folder, rows):
    """A build's index (folder/index) and one partition of `rows` rows (folder/parts)."""
    import pyarrow.ipc as ipc

    (folder / "index").mkdir(parents=True)
    (folder / "parts").mkdir()
    writer = IndexWriter(folder / "index" / "files.arrow")
    writer.add_table(index_table([_entry(f"{k}.md", seq=k) for k in range(rows)]))
    writer.close()
    with ipc.new_file(str(folder / "parts" / "t000000.arrow"), SCHEMA) as w:
        w.write_table(pa.table({"id": [str(k) for k in range(rows)]}, schema=SCHEMA))
    return folder


def _install(cache, folder, rows):
    staged = _stage(folder, rows)
    cache.install(staged / "index", staged / "parts", n_tasks=1)


def test_install_swaps_in_a_whole_build_and_one_build_holds_the_lock(tmp_path):
    cache = BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA)
    assert cache.acquire() and cache.previous() is None
    other = BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA)
    assert not other.acquire() and other.previous() is None  # a second build goes without
    _install(other, tmp_path / "x", 1)  # leaves it alone
    _install(cache, tmp_path / "one", 3)
    assert cache.previous().n_tasks == 1
    _install(cache, tmp_path / "two", 5)  # the next build's index and partitions replace the first's
    prev = cache.previous()
    assert [e.path for e in prev.entries()] == [f"{k}.md" for k in range(5)]
    assert sorted(p.name for p in cache.store.iterdir()) == ["files.arrow", "meta.json", "parts"]
    assert pa.ipc.open_file(str(prev.parts / "t000000.arrow")).read_all().num_rows == 5
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [f"build-{cache.key}", f"build-{cache.key}.lock"]
    cache.release()
    assert other.acquire()  # free once released
    other.release()


def test_a_damaged_or_foreign_cached_build_is_ignored(tmp_path):
    cache = BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA)
    assert cache.acquire()
    _install(cache, tmp_path / "one", 3)
    (cache.store / "parts" / "t000000.arrow").write_bytes(b"truncated")
    assert cache.previous() is None
    _install(cache, tmp_path / "two", 3)
    other_schema = BuildCache(cache.folder, cache.key, pa.schema([pa.field("x", pa.int8())]))
    assert other_schema.acquire() is False  # the lock is per process's open file: still ours
    cache.release()
    assert other_schema.acquire() and other_schema.previous() is None  # rows of another shape
    other_schema.release()


def test_installing_drops_this_sources_builds_of_other_code_or_rules_only(tmp_path):
    from builder import __version__
    from builder.cache import FORMAT

    cache = BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA)

    def fake(name, **meta):
        (tmp_path / "c" / name).mkdir(parents=True)
        (tmp_path / "c" / name / "meta.json").write_text(json.dumps(meta))

    ours = dict(source=cache.source, version=__version__, format=FORMAT, **cache.ids)
    fake("build-oldversion", **{**ours, "version": "0.0.1"})
    fake("build-oldformat", **{**ours, "format": FORMAT - 1})
    fake("build-beforecodeids", source=cache.source, version=__version__, format=FORMAT)
    fake("build-othercode", **{**ours, "code": "0123456789abcdef"})  # a git pull into an editable install
    fake("build-otherrules", **{**ours, "rules": "0123456789abcdef"})  # a rule file edited in place
    fake("build-othersource", **{**ours, "source": str(tmp_path / "elsewhere"), "version": "0.0.1"})
    fake("build-othersettings", **{**ours, "settings": "0123456789abcdef", "rules": "0123456789abcdef"})
    assert cache.acquire()
    _install(cache, tmp_path / "one", 1)
    left = sorted(p.name for p in (tmp_path / "c").iterdir() if p.is_dir())
    assert left == [f"build-{cache.key}", "build-othersettings", "build-othersource"]
    cache.release()


# ---- the key covers all that shapes a row (issue 18: never serve a stale row) -------------------


def _texts(out):
    import pyarrow.parquet as pq

    return sorted(t for f in sorted((out / "data").glob("*.parquet")) for t in pq.read_table(f).column("text").to_pylist())


def test_a_rule_file_edited_in_place_is_not_served_from_the_cache(tmp_path):
    from builder.pipeline import build
    from conftest import article, assert_same_files, distinct_text, write_corpus

    src = write_corpus(tmp_path / "src", {f"a/{k}.md": article(f"标题{k}", f"<p>{distinct_text(k)}</p>\n<p>MARKER-{k} 广告</p>")
                                          for k in range(4)})
    (tmp_path / "rules").mkdir()
    rule = tmp_path / "rules" / "mine.toml"
    rule.write_text("name = 'mine'\n[[strip]]\npattern = 'NOTHING MATCHES THIS'\n", encoding="utf-8")
    settings = BuildSettings(rules_dirs=(str(tmp_path / "rules"),))  # the same settings before and after

    def run(name, cache_dir=tmp_path / "cache"):
        return build(src, tmp_path / name, settings=settings, progress=False, cache_dir=cache_dir)

    run("first")
    assert run("again").from_cache  # an unchanged rebuild is served from the cache
    assert all("MARKER" in t for t in _texts(tmp_path / "again"))
    rule.write_text(rule.read_text(encoding="utf-8").replace("NOTHING MATCHES THIS", r"<p>MARKER-\d+ 广告</p>"),
                    encoding="utf-8")
    edited = run("edited")
    assert not edited.from_cache
    assert not any("MARKER" in t for t in _texts(tmp_path / "edited"))
    run("clean", cache_dir=None)
    assert_same_files(tmp_path / "edited", tmp_path / "clean")
    assert run("rebuilt").from_cache  # the edited rules' build is the cache now ...
    assert_same_files(tmp_path / "rebuilt", tmp_path / "clean")
    assert len([p for p in (tmp_path / "cache").glob("build-*") if p.is_dir()]) == 1  # ... and the old one gone


def test_the_rules_digest_is_over_the_bytes_of_the_rule_files_in_use(tmp_path):
    from builder.fingerprint import rules_digest

    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "a.toml").write_text('name = "a"\n', encoding="utf-8")
    before = rules_digest([str(tmp_path / "r")])
    assert before == rules_digest([str(tmp_path / "r")]) != rules_digest([])
    (tmp_path / "r" / "a.toml").write_text('name = "A"\n', encoding="utf-8")
    assert rules_digest([str(tmp_path / "r")]) != before
    (tmp_path / "r" / "notes.txt").write_text("not a rule file", encoding="utf-8")  # not read by load_rules
    assert rules_digest([str(tmp_path / "r")]) == rules_digest([str(tmp_path / "r")])
    # A missing folder raises nothing here (the build reports it), and is not an empty one.
    (tmp_path / "empty").mkdir()
    assert rules_digest([str(tmp_path / "missing")]) != rules_digest([str(tmp_path / "empty")])


def test_the_source_digest_covers_every_source_file(tmp_path):
    import shutil

    from builder.fingerprint import PACKAGE_ROOTS, source_digest

    def copy(to):
        return [shutil.copytree(root, to / root.name, ignore=shutil.ignore_patterns("__pycache__", "sample"))
                for root in PACKAGE_ROOTS]

    roots = copy(tmp_path / "one")
    digest = source_digest(roots)
    assert source_digest(copy(tmp_path / "two")) == digest  # the same files wherever they are
    clean = roots[0] / "transform" / "clean.py"
    clean.write_text(clean.read_text(encoding="utf-8") + "\n# a pulled change\n", encoding="utf-8")
    edited = source_digest(roots)
    assert edited != digest
    (roots[1] / "new_module.py").write_text("", encoding="utf-8")
    assert source_digest(roots) not in (digest, edited)
    assert source_digest() == source_digest(PACKAGE_ROOTS)  # our own roots by default (once a process)


def test_the_cache_key_takes_the_code_the_libraries_and_the_rules(tmp_path):
    import os

    from builder.cache import cache_key
    from builder.fingerprint import LIBRARIES, code_fingerprint, rules_digest

    code = code_fingerprint()
    assert set(code["libraries"]) == set(LIBRARIES) and code["libraries"]["pyarrow"] == pa.__version__
    real = os.path.realpath(tmp_path / "src")
    key = cache_key(real, S, rules=rules_digest(()), code=code)
    assert BuildCache.for_build(tmp_path / "c", tmp_path / "src", S, SCHEMA).key == key
    assert cache_key(real, S, rules=rules_digest(()), code=dict(code)) == key
    for other in ({**code, "source": "0" * 64},                                        # our code changed
                  {**code, "libraries": {**code["libraries"], "lxml": "4.9.0"}},        # a library's version
                  {**code, "python": "3.99.0"},
                  {**code, "tool": "9.9.9"}):
        assert cache_key(real, S, rules=rules_digest(()), code=other) != key
    assert cache_key(real, S, rules="0" * 64, code=code) != key


# ---- the folder's bound, `corpus cache info` and `corpus cache clear` ----------------------------


def _installed(folder, tmp_path, name, *, age, max_bytes=2**40):
    """A cached build of the source `name`, last used `age` seconds ago."""
    import os
    import time

    cache = BuildCache.for_build(folder, tmp_path / name, S, SCHEMA, max_bytes=max_bytes)
    assert cache.acquire()
    _install(cache, tmp_path / f"staged-{name}", 3)
    cache.release()
    then = time.time() - age
    os.utime(cache.store / "meta.json", (then, then))
    return cache


def test_the_least_recently_used_builds_are_evicted_past_the_bound_never_a_held_one(tmp_path):
    from builder.cache import cache_info

    folder = tmp_path / "c"
    old, held, newer = (_installed(folder, tmp_path, name, age=age)
                        for name, age in (("old", 300), ("held", 400), ("newer", 100)))
    size = max(v.size for v in cache_info(folder).variants)
    assert held.acquire()  # a running build holds it (the oldest)
    latest = _installed(folder, tmp_path, "latest", age=0, max_bytes=int(3.5 * size))
    assert not old.store.exists()  # the least recently used that no build holds
    assert held.store.exists() and newer.store.exists() and latest.store.exists()
    # Past a bound smaller than one build: everything but the held one and the one just installed.
    again = _installed(folder, tmp_path, "latest", age=0, max_bytes=1)
    assert sorted(p.name for p in folder.glob("build-*") if p.is_dir()) == sorted([held.store.name, again.store.name])
    assert not (folder / f"{newer.store.name}.lock").exists()  # its lock file went with it
    held.release()


def test_a_build_uses_the_bound_from_the_environment(tmp_path, monkeypatch):
    from builder.pipeline import build
    from conftest import article, distinct_text, write_corpus

    src = write_corpus(tmp_path / "src", {f"{k}.md": article(f"标题{k}", f"<p>{distinct_text(k)}</p>") for k in range(3)})
    monkeypatch.setenv("CORPUS_CACHE_MAX_BYTES", "1K")  # smaller than any build: the last one alone stays
    cache = tmp_path / "cache"
    build(src, tmp_path / "a", progress=False, cache_dir=cache)
    assert len([p for p in cache.glob("build-*") if p.is_dir()]) == 1
    build(src, tmp_path / "b", progress=False, cache_dir=cache, settings=BuildSettings(quality=QualitySettings(min_chars=5)))
    (kept,) = [p for p in cache.glob("build-*") if p.is_dir()]
    assert json.loads((kept / "meta.json").read_text())["settings"] == BuildSettings(
        quality=QualitySettings(min_chars=5)).fingerprint


def test_the_bound_comes_from_the_environment_and_a_bad_one_is_named(monkeypatch):
    from builder.cache import DEFAULT_MAX_BYTES, max_bytes_setting
    from builder.errors import ConfigError

    monkeypatch.delenv("CORPUS_CACHE_MAX_BYTES", raising=False)
    assert max_bytes_setting() == DEFAULT_MAX_BYTES == 5 * 2**30
    monkeypatch.setenv("CORPUS_CACHE_MAX_BYTES", "20G")
    assert max_bytes_setting() == 20 * 2**30
    monkeypatch.setenv("CORPUS_CACHE_MAX_BYTES", "lots")
    with pytest.raises(ConfigError, match="CORPUS_CACHE_MAX_BYTES='lots'.*500M"):
        max_bytes_setting()


def test_cache_info_and_clear_on_the_command_line(tmp_path, capsys, monkeypatch):
    from builder.cli import main

    monkeypatch.delenv("CORPUS_CACHE_MAX_BYTES", raising=False)
    folder = tmp_path / "c"
    old, held = _installed(folder, tmp_path, "old", age=300), _installed(folder, tmp_path, "held", age=100)
    assert held.acquire()
    assert main(["cache", "info", "--cache-dir", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"build cache {folder}: 2 cached builds"
    assert old.store.name in out[1] and old.source in out[1] and "in use" not in out[1]  # least recently used first
    assert held.store.name in out[2] and "in use by a running build" in out[2]
    assert out[3].startswith("total ") and "of at most 5.0 GiB" in out[3]
    assert main(["cache", "clear", "--cache-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"removed {old.store.name}" in out and f"kept {held.store.name}" in out and "a running build holds it" in out
    assert not old.store.exists() and held.store.exists()
    held.release()
    assert main(["cache", "clear", "--cache-dir", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == []  # nor lock files left
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "none")]) == 0  # a missing folder: nothing cached
    assert "no cached builds" in capsys.readouterr().out and not (tmp_path / "none").exists()


def test_a_file_as_the_cache_folder_is_one_line_naming_it(tmp_path, capsys):
    from builder.cli import main
    from conftest import article, distinct_text, write_corpus

    src = write_corpus(tmp_path / "src", {"a.md": article("甲", f"<p>{distinct_text(1)}</p>")})
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    for argv in (["build", str(src), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "file"), "--quiet"],
                 ["cache", "info", "--cache-dir", str(tmp_path / "file")],
                 ["cache", "clear", "--cache-dir", str(tmp_path / "file")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert str(tmp_path / "file") in err and "it is a file" in err and "--no-cache" in err
    assert not (tmp_path / "out").exists()
