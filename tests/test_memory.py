"""The build's allocator choices, each checked in a fresh process (they are process-wide)."""
from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest


def run(code: str, *args: str, **env) -> str:
    """What `code` prints in a fresh process given `args`, with `env` and none of the user's own
    allocator settings (ARROW_DEFAULT_MEMORY_POOL, glibc's MALLOC_*)."""
    full = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL" and not k.startswith("MALLOC_")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True,
                          env=full).stdout.strip()


def test_the_command_process_gives_all_of_arrow_the_system_pool():
    code = ("from builder import memory; memory.for_this_process(); import pyarrow as pa; "
            "print(pa.default_memory_pool().backend_name)")
    assert run(code) == "system"


@pytest.mark.skipif("jemalloc" not in pa.supported_memory_backends(), reason="pyarrow built without jemalloc")
def test_a_pool_the_user_chose_still_decides():
    code = ("from builder import memory; memory.for_this_process(); import pyarrow as pa; "
            "print(pa.default_memory_pool().backend_name)")
    assert run(code, ARROW_DEFAULT_MEMORY_POOL="jemalloc") == "jemalloc"


@pytest.mark.skipif("jemalloc" not in pa.supported_memory_backends(), reason="pyarrow built without jemalloc")
def test_workers_keep_the_fast_pool():
    code = ("import pyarrow as pa; from builder import memory; memory.for_worker(); "
            "print(pa.default_memory_pool().backend_name)")
    assert run(code) == "jemalloc"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("setup, size", [("memory.for_worker()", 1 << 20), ("memory.for_this_process()", 1 << 19)])
def test_the_heap_keeps_what_it_frees(setup, size):
    # Three buffers made and freed, twenty times over: glibc's defaults give the memory back
    # and fault it in again each time; a worker's heap (1 MiB buffers) and the main process's
    # (512 KiB: every chunk of rows a worker sends is about that size) keep it.
    code = ("import resource, sys\n"
            "if sys.argv[1] == 'ours':\n"
            f"    from builder import memory; {setup}\n"
            "def round():\n"
            f"    blocks = [bytearray({size}) for _ in range(3)]\n"
            "round()\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(20):\n"
            "    round()\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")

    def faults(kind: str, **env) -> int:
        return int(run(code, kind, **env))

    pages = 3 * 20 * size // 4096
    assert faults("default") > pages // 2  # what the setting is for: the buffers faulted in each round
    assert faults("ours") < pages // 20
    # A threshold the user set in the environment stays theirs.
    assert faults("ours", MALLOC_TRIM_THRESHOLD_="0", MALLOC_TOP_PAD_="0", MALLOC_MMAP_THRESHOLD_="65536") > pages // 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_release_hands_freed_heap_pages_back():
    # 100 MB in 1 KiB buffers freed but for the last one: the heap cannot shrink from its top,
    # so the pages stay in the RSS until release() gives the free ones back.
    code = ("from builder import memory; memory.for_this_process()\n"
            "def anon():\n"
            "    return int([l for l in open('/proc/self/status') if l.startswith('RssAnon')][0].split()[1]) >> 10\n"
            "blocks = [bytearray(1024) for _ in range(100_000)]\n"
            "del blocks[:-1]\n"
            "before = anon()\n"
            "memory.release()\n"
            "print(before, anon())\n")
    before, after = map(int, run(code).split())
    assert before - after > 60, (before, after)


@pytest.mark.parametrize("early, n_files", [(False, 210), (True, 20), (True, 210)])
def test_the_fork_server_is_stopped_after_reading_whoever_started_it(tmp_path, early, n_files):
    # A parallel build stops the server it started (idle, it holds 85 MB); the `corpus`
    # command starts one before it imports the reader, and a build of a few files, read
    # in-process without workers, must stop that one as well.
    from conftest import article, distinct_text, write_corpus

    files = {f"a/{i:04d}.md": article(f"标题{i}", f"<p>{distinct_text(i)}</p>") for i in range(n_files)}
    src = write_corpus(tmp_path / "src", files)
    code = (f"from builder import readers\n"
            f"if __name__ == '__main__':\n"
            f"    if {early}:\n"
            f"        readers.start()\n"
            f"    started = readers.running()\n"
            f"    from builder.pipeline import build\n"
            f"    report = build({str(src)!r}, {str(tmp_path / 'out')!r}, workers=2, progress=False)\n"
            f"    print(started, readers.running(), report.rows)\n")
    script = tmp_path / "run.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True,
                         cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.path.dirname(__file__)}).stdout
    assert out.split() == [str(early), "False", str(n_files)]


def test_processes_the_build_owns_skip_pyarrows_pandas_import_but_keep_to_pandas():
    code = ("import sys; from builder.run.worker import skip_pandas_probe; import pyarrow as pa; "
            "skip_pandas_probe(); pa.array(['x']); a = 'pandas' in sys.modules; "
            "df = pa.table({'x': [1]}).to_pandas(); print(a, len(df))")
    assert run(code) == "False 1"


@pytest.mark.skipif("jemalloc" not in pa.supported_memory_backends(), reason="pyarrow built without jemalloc")
def test_the_card_gets_jemalloc_unless_the_user_chose_a_pool():
    # The lean system pool up to the shard pass (the peaks of a build), jemalloc for the card
    # (its read-back ran ~2.5x slower on fresh mappings); a pool the user chose is never
    # changed, and a library caller's next build starts lean again.
    code = ("from builder import memory; memory.for_this_process(); import pyarrow as pa; "
            "a = pa.default_memory_pool().backend_name; memory.for_card(); "
            "print(a, pa.default_memory_pool().backend_name)")
    assert run(code) == "system jemalloc"
    assert run(code, ARROW_DEFAULT_MEMORY_POOL="system") == "system system"


def test_a_library_build_changes_nothing_process_wide(tmp_path):
    # build() as a library call: the caller's Arrow pool, SIGALRM handler and import machinery
    # are as they were (the `corpus` command's own process is where those are tuned).
    # (Libraries the build imports may add finders of their own: pyarrow's pandas probe imports
    # pandas where it is installed, and with it six's. Ours, such as the pandas blocker, must not stay.)
    code = ("import signal, sys; import pyarrow as pa; from builder.pipeline import build\n"
            "def now(): return (pa.default_memory_pool().backend_name, signal.getsignal(signal.SIGALRM),\n"
            "                   [f for f in sys.meta_path if not type(f).__module__.startswith('six')])\n"
            "before = now()\n"
            "build(None, sys.argv[1], progress=False, cache_dir=None, workers=1)\n"
            "print(before == now(), before[0])")
    assert run(code, str(tmp_path / "out")).split()[0] == "True"


def test_gathering_signatures_holds_a_page_a_row_at_most_not_the_file(tmp_path):
    # 16k random rows of 200,000 (a 100 MB signature file): the map's pages are dropped every
    # few hundred rows, so the RSS never holds the file (~105 MB more if they were not).
    code = """
import resource, sys
import numpy as np
from pathlib import Path
from builder.dedup.store import SignatureFile
store = SignatureFile(Path(sys.argv[1]), 128)
for k in range(20):
    store.append(np.full((10_000, 128), k, dtype=np.uint32))
rows = np.random.default_rng(1).integers(0, 200_000, size=16_384)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
got = store.gather(rows)
assert (got[:, 0] == rows // 10_000).all()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    grown_mb = int(run(code, str(tmp_path)))
    assert grown_mb < 40, grown_mb
