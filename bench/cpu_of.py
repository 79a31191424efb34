#!/usr/bin/env python3
"""Run a Python module as a command and print, last, the CPU it used: its own and its children's.

    python bench/cpu_of.py builder.cli build SRC -o OUT

The last line of output is JSON: {"self": s, "children": s}, where "self" is the CPU time
(user + system) of this process, every thread included: the build's driver; "children" that
of the processes it waited for, and theirs (the fork server, the workers it reaped, the plot
helper). The driver's share of the build's CPU is self / (self + children).
"""
from __future__ import annotations

import json
import resource
import runpy
import sys


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    module, sys.argv = sys.argv[1], sys.argv[1:]
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    sys.stderr.flush()
    print(json.dumps({"self": cpu(resource.RUSAGE_SELF), "children": cpu(resource.RUSAGE_CHILDREN)}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
