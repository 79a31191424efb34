"""Where a build's tasks run: executors that give small results back in task order.

`executor.py` holds the interface and the local implementations (this process, a process
pool); `worker.py` the read task a worker runs over a run of files; `timeout.py` the per-file
time limit. The pipeline plans tasks and composes their results; it never runs a worker's code.
"""
from .executor import Executor, Inline, LocalPool

__all__ = ["Executor", "Inline", "LocalPool"]
