import sqlite3

from builder.article import FileResult
from builder.cache import ResultCache, result_key
from builder.errors import Reject
from builder.quality import QualitySettings
from builder.settings import BuildSettings

S = BuildSettings()


def test_round_trip_and_keys_bind_path_and_content(tmp_path):
    cache = ResultCache(tmp_path, S)
    result = FileResult("a.md", reject=Reject("a.md", "empty_file", "the file is empty"), sha256="00")
    cache.put_many([(result_key("a.md", "00"), result)])
    assert cache.get(result_key("a.md", "00")) == result
    assert cache.get(result_key("b.md", "00")) is None  # same bytes elsewhere: another id, another row
    assert cache.get(result_key("a.md", "01")) is None  # edited
    cache.close()


def test_other_settings_are_another_cache(tmp_path):
    ResultCache(tmp_path, S).put_many([(b"k", FileResult("a.md"))])
    other = ResultCache(tmp_path, BuildSettings(quality=QualitySettings(min_chars=5)))
    assert other.get(b"k") is None and other.path != ResultCache(tmp_path, S).path


def test_a_broken_file_is_replaced_not_trusted(tmp_path):
    cache = ResultCache(tmp_path, S)
    cache.put_many([(b"k", FileResult("a.md"))])
    cache.close()
    cache.path.write_bytes(b"not a database at all" * 100)
    again = ResultCache(tmp_path, S)
    assert again.get(b"k") is None
    assert sqlite3.connect(again.path).execute("SELECT COUNT(*) FROM results").fetchone() == (0,)


def test_get_many_returns_the_cached_ones_across_query_batches(tmp_path):
    cache = ResultCache(tmp_path, S)
    stored = {result_key(f"{i}.md", "00"): FileResult(f"{i}.md") for i in range(0, 1200, 2)}
    cache.put_many(list(stored.items()))
    asked = [result_key(f"{i}.md", "00") for i in range(1200)]  # half cached, over two batches of 500
    found = cache.get_many(asked)
    assert found == stored
    assert cache.get_many([]) == {}


def test_the_writer_thread_stores_everything_queued_before_close(tmp_path):
    from builder.cache import CacheWriter

    writer = CacheWriter(ResultCache(tmp_path, S), max_pending=2)  # a full queue makes put wait, never drop
    for i in range(40):
        writer.put([(result_key(f"{i}.md", "00"), ResultCache.encode(FileResult(f"{i}.md")))])
    writer.put([])
    writer.close()
    found = ResultCache(tmp_path, S).get_many([result_key(f"{i}.md", "00") for i in range(40)])
    assert sorted(r.path for r in found.values()) == sorted(f"{i}.md" for i in range(40))
