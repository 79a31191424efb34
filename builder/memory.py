"""How the build's processes allocate memory: the main process frees back to the system.

A build's main process holds little at any moment (a partition, a row group) but allocates
and frees a lot; with the default allocators its RSS followed the most it ever held.
Measured on a 100,000-file build, the main process's peak after reading: jemalloc (Arrow's
pool until then) 326 MB; Arrow's system pool with the C library's mmap threshold fixed at
128 KiB, 212-227 MB. The fixed threshold makes every large buffer its own mapping, unmapped
when freed (glibc otherwise raises the threshold up to 32 MiB after the first large free,
and big arrays then stay in the heap). The threshold is now 1 MiB, with freed heap memory
kept up to 8 MiB (`MAIN_HEAP`): at 128 KiB every chunk of rows a worker sent (a few hundred
KiB) was a fresh mapping, faulted in page by page, as was every buffer of the spill and the
shard pass: a million page faults in a 100,000-file build. With 1 MiB: 600,000, a full build
about 1 s faster (of 24) and a rebuild 0.9 s (of 7.4), the main process's peak 14 MB higher;
with 4 MiB no faster, and 13 MB higher again.

Arrow's C++ code picks its default pool from ARROW_DEFAULT_MEMORY_POOL when it first needs
one, so the `corpus` command sets it before pyarrow loads (`for_this_process`), with the heap
set by mallopt, in this process only. `build()` called as a library changes none of this: a
caller's process keeps its own pool and heap. The reading workers
keep jemalloc for Arrow and a C heap that holds on to more of what it frees (`for_worker`):
they are flat anyway, and a small threshold cost them 12 % more CPU, glibc's own trimming as
much again in page faults. For the card, the last stage, the main process too takes
jemalloc for Arrow (`for_card`): the card's statistics read every row group back, and on
fresh mappings that took 0.95 s at 100,000 files against 0.37 s with jemalloc. Not earlier:
with jemalloc from the shard pass on, the shard pass was faster too, but a million-file
build peaked there at 393 MB (+11-15 % over 100,000 files) against 367-369 MB (+8 %) with
the system pool. An ARROW_DEFAULT_MEMORY_POOL set by the user decides, and so does any of
glibc's MALLOC_*_ variables set in the environment.
"""
from __future__ import annotations

import os

# glibc's heap settings, by their environment variable: (mallopt parameter number from
# malloc.h, value). The main process's; a reading worker's (WORKER_HEAP) keeps more.
MAIN_HEAP = {"MALLOC_TRIM_THRESHOLD_": (-1, 8 * 2**20), "MALLOC_TOP_PAD_": (-2, 2**20),
             "MALLOC_MMAP_THRESHOLD_": (-3, 2**20)}


_chosen = False  # the pool was chosen here, not by the user: for_card may change it


def for_this_process() -> None:
    """For a process the build owns, before pyarrow is imported: the system pool for all of
    Arrow and the heap settings of MAIN_HEAP."""
    global _chosen
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
        _chosen = True
    _set_heap(MAIN_HEAP)


def for_card() -> None:
    """For the card, the build's last stage, in a process the `corpus` command owns (it called
    for_this_process; a library caller's process is never changed): jemalloc for what Arrow
    allocates from here on (unless the user chose a pool). The card's statistics read the shards back a row group at
    a time; with the system pool each group's buffers were fresh mappings, faulted in page by
    page; jemalloc reuses freed pages for about a second before it returns them. Buffers
    allocated before are still freed by the pool that allocated them."""
    if not _chosen:
        return
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except (NotImplementedError, pa.ArrowException):  # a pyarrow built without jemalloc
        pass


# A reading worker's C heap: freed memory kept for reuse up to 16 MiB.
WORKER_HEAP = {"MALLOC_TRIM_THRESHOLD_": (-1, 16 * 2**20), "MALLOC_TOP_PAD_": (-2, 4 * 2**20),
               "MALLOC_MMAP_THRESHOLD_": (-3, 4 * 2**20)}


def for_worker() -> None:
    """For a reading worker: jemalloc for Arrow, and a C heap that keeps what it frees. A
    worker holds one chunk of files at a time, so its memory is flat anyway; with glibc's
    defaults its heap shrank and grew again around every chunk, and the page faults of
    growing it again (15 a file, 1.5 million in a 100,000-file build) took 12 % of its time
    in the kernel. Kept up to 16 MiB (trim threshold), grown 4 MiB at a time, and buffers
    under 4 MiB from the heap: no page faults left but the first."""
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") in (None, "system"):
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except (NotImplementedError, pa.ArrowException):
            pass
    _set_heap(WORKER_HEAP)


def _mallopt():
    """glibc's mallopt, or None (not glibc: macOS, musl; malloc is then left alone)."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def _set_heap(settings: dict[str, tuple[int, int]]) -> None:
    """Each of glibc's heap settings: the user's, when their environment sets it (as glibc
    would read it), else ours."""
    mallopt = _mallopt()
    if mallopt is None:
        return
    for name, (param, value) in settings.items():
        try:
            value = int(os.environ.get(name, value))
        except ValueError:
            pass
        mallopt(param, value)


def release() -> None:
    """Hand the C heap's free pages back to the system (glibc's malloc_trim), between stages:
    what the read stage allocated and freed (each task's results, 70 bytes a row at 300,000
    files) otherwise stays in the RSS under the next stage's peak. Changes no setting, so a
    library caller's process may have it too; nothing where the C library is not glibc."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
