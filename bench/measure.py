"""Run a command and measure it: wall time and peak memory of its whole process tree.

Peak memory is the largest sum of RSS over the process and all its descendants (workers
included), sampled from /proc every 20 ms; the largest single process comes from
RUSAGE_CHILDREN. Shared by the benchmark scripts in this folder.
"""
from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from collections import defaultdict


def tree_rss(pid: int) -> int:
    """RSS in bytes of `pid` and all its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(fields[1])].append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def measure(cmd: list[str], *, cwd=None, env=None) -> tuple[float, int, int, int, str]:
    """(seconds, peak tree RSS, peak single-process RSS, return code, stdout+stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return seconds, peak, single, proc.returncode, out
