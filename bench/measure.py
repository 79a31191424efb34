"""Run a command and measure it: wall time and peak memory of its whole process tree.

Peak memory is the largest sum of RSS over the process and all its descendants (workers
included), sampled from /proc every 20 ms (the descendants found every 0.2 s); the largest single process comes from
RUSAGE_CHILDREN. Beside it, the largest sum of PSS (sampled every 0.2 s, from smaps_rollup):
a sum of RSS counts a page shared by several processes once in each (the libraries, the pages
a worker shares with the fork server it was forked from), PSS divides it among them, so the
sum of PSS is what the tree takes from the machine. Shared by the benchmark scripts in this folder.
"""
from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from collections import defaultdict
from typing import NamedTuple


_PAGE = os.sysconf("SC_PAGE_SIZE")
_RESCAN = 0.2  # seconds between scans of /proc for the tree's members


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants, from a scan of /proc (every process's parent)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(fields[1])].append(int(entry))
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        found.append(p)
        stack.extend(children.get(p, []))
    return found


def rss(pid: int) -> int:
    """RSS in bytes of one process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss(pid: int) -> int:
    """PSS in bytes of one process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("Pss:")) * 1024
    except (OSError, StopIteration, ValueError):
        return 0


class Measured(NamedTuple):
    seconds: float
    peak: int       # the tree's largest sum of RSS
    single: int     # the largest single process's RSS
    code: int
    out: str        # stdout and stderr
    peak_pss: int   # the tree's largest sum of PSS


def measure(cmd: list[str], *, cwd=None, env=None) -> Measured:
    """Run `cmd`; its time, memory (see the module's docstring), return code and output."""
    os.sync()  # what earlier commands wrote goes to disk now, not during this one
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env)
    peak, peak_pss, done = 0, 0, threading.Event()

    def sample() -> None:
        # The tree's members come from a scan of /proc every _RESCAN s, their RSS every 20 ms:
        # a scan costs ~2 ms (70 processes), a scan each sample took 11 % of a core from the
        # build being measured (a two-worker build on two cores, not the one-process script).
        # PSS walks every mapping of a process: read at the scans only.
        nonlocal peak, peak_pss
        members, scanned = [], 0.0
        while not done.is_set():
            if time.monotonic() - scanned >= _RESCAN:
                members, scanned = tree_pids(proc.pid), time.monotonic()
                peak_pss = max(peak_pss, sum(pss(p) for p in members))
            peak = max(peak, sum(rss(p) for p in members))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return Measured(seconds, peak, single, proc.returncode, out, peak_pss)
