"""Where a build's tasks run: executors that give small results back in task order.

`executor.py` holds the interface and the local implementations (this process, a process
pool); `worker.py` the read task a worker runs over a run of files; `timeout.py` the per-file
time limit. The pipeline plans tasks and composes their results; it never runs a worker's code.
"""
from .executor import Executor, Inline, LocalPool

__all__ = ["ENGINES", "Executor", "Inline", "LocalPool", "executor_for"]

ENGINES = ("local",)


def executor_for(engine: str, workers: int, *, inline: bool = False, initializer=None, describe=repr,
                 ray_address: str | None = None) -> Executor:
    """The executor a build's tasks run on: `engine` "local" (this process when `inline` or one
    worker, else a pool of `workers` processes). `ray_address` is for engines that start a cluster."""
    if engine not in ENGINES:
        from ..errors import ConfigError
        raise ConfigError(f"engine {engine!r} is not known; use one of {', '.join(ENGINES)}")
    if inline or workers == 1:
        return Inline()
    return LocalPool(workers, initializer=initializer, describe=describe)
