"""How the build's processes allocate memory: the main process frees back to the system.

A build's main process holds little at any moment (a partition, a row group) but allocates
and frees a lot; with the default allocators its RSS followed the most it ever held.
Measured on a 100,000-file build, the main process's peak after reading: jemalloc (Arrow's
pool until then) 326 MB; Arrow's system pool with the C library's mmap threshold fixed at
128 KiB, 212-227 MB. The fixed threshold makes every large buffer its own mapping, unmapped
when freed (glibc otherwise raises the threshold up to 32 MiB after the first large free,
and big arrays then stay in the heap).

Arrow's C++ code picks its default pool from ARROW_DEFAULT_MEMORY_POOL when it first needs
one, so the `corpus` command sets it before pyarrow loads (`for_this_process`); a library
caller's process gets what can still be changed (`in_running_process`: pyarrow's own pool).
Either way the threshold is set with mallopt, in this process only. The reading workers
keep jemalloc and glibc's defaults (`for_worker`): they are flat anyway, and the fixed
threshold cost them 12 % more CPU. An ARROW_DEFAULT_MEMORY_POOL set by the user decides.
"""
from __future__ import annotations

import os

MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (glibc's malloc.h)


def for_this_process() -> None:
    """For a process the build owns, before pyarrow is imported: the system pool for all of
    Arrow and a fixed mmap threshold."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    _mallopt_threshold()


def in_running_process() -> None:
    """For a process where pyarrow may be loaded already: pyarrow's default pool (unless the
    user chose one) and the mmap threshold."""
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL", "system") == "system":
        pa.set_memory_pool(pa.system_memory_pool())
    _mallopt_threshold()


def for_worker() -> None:
    """For a reading worker: the defaults. A worker holds one chunk of files at a time, so
    its memory is flat anyway; the fixed threshold cost it 12 % more CPU (a fresh mapping,
    and its page faults, for every buffer over 128 KiB)."""
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") in (None, "system"):
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except (NotImplementedError, pa.ArrowException):
            pass


def _mallopt_threshold() -> None:
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl): leave malloc alone
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    try:  # the user's own setting, when there is one, as glibc would read it
        threshold = int(os.environ.get("MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD))
    except ValueError:
        threshold = MMAP_THRESHOLD
    mallopt(_M_MMAP_THRESHOLD, threshold)
