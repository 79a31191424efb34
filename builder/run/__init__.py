"""Where a build's tasks run: executors that give small results back in task order.

`executor.py` holds the interface and the local implementations (this process, a process
pool); `ray.py` the same tasks on a Ray cluster (the `ray` extra); `worker.py` the read task
a worker runs over a run of files; `timeout.py` the per-file time limit. The pipeline plans
tasks and composes their results; it never runs a worker's code.
"""
from .executor import Executor, Inline, LocalPool

__all__ = ["ENGINES", "Executor", "Inline", "LocalPool", "check_engine", "executor_for"]

ENGINES = ("local", "ray")


def executor_for(engine: str, workers: int, *, inline: bool = False, initializer=None, describe=repr,
                 ray_address: str | None = None) -> Executor:
    """The executor a build's tasks run on: `engine` "local" (this process when `inline` or one
    worker, else a pool of `workers` processes) or "ray" (Ray tasks on the cluster at
    `ray_address`, else RAY_ADDRESS, else a Ray started here; the cluster's CPUs, not `workers`
    or `inline`, set how many run at once)."""
    check_engine(engine)
    if engine == "ray":
        from .ray import RayExecutor
        return RayExecutor(address=ray_address, initializer=initializer, describe=describe)
    if inline or workers == 1:
        return Inline()
    return LocalPool(workers, initializer=initializer, describe=describe)


def check_engine(engine: str) -> None:
    """ConfigError unless `engine` is known and can run here (Ray installed for "ray")."""
    from ..errors import ConfigError

    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r} is not known; use one of {', '.join(ENGINES)}")
    if engine == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise ConfigError("engine 'ray' needs Ray: pip install 'corpus-builder[ray]' "
                              "(or build with --engine local)")
