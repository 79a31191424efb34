"""The Ray engine: the same tasks as the local pool, as Ray core tasks on a cluster.

`RayExecutor.map` keeps a window of tasks in flight and gives their results back in task
order, whatever order they finish in. A task whose worker process dies (killed, out of
memory, its node lost) is run again by Ray (`max_retries`); one that keeps dying stops the
build with a WorkerError naming it, before any output is written. Ray is joined, or started
on this machine, only if this process is not connected yet, and shut down (`close`) only if
this executor started it: one executor serves a build's stages one after another.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections import deque
from collections.abc import Callable
from typing import Any

import ray
import ray.exceptions

from ..errors import CorpusError, WorkerError
from .executor import Executor

log = logging.getLogger(__name__)

# Ray's own reasons a task gave no result other than an exception of the task's code.
_DIED = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError,
         ray.exceptions.OutOfMemoryError, ray.exceptions.LocalRayletDiedError, ray.exceptions.TaskCancelledError)

# The initializers that have run in this Ray worker process (which runs many tasks), by the
# digest of their pickled form: each task unpickles its own copy.
_initialised: set[str] = set()


def _call(init: tuple[str, Callable[[], None]] | None, fn: Callable[[Any], Any], payload: Any) -> Any:
    """A task as it runs in a Ray worker: the process set up once, then the task."""
    if init is not None and init[0] not in _initialised:
        init[1]()
        _initialised.add(init[0])
    return fn(payload)


_remote_call = ray.remote(_call)


class RayExecutor(Executor):
    """Tasks on Ray: at most `window` in flight (default: twice the cluster's CPUs), one CPU each.

    `address` is the cluster to join (`auto`, `ray://host:10001`, `host:6379`); None: the
    RAY_ADDRESS variable, else a Ray started on this machine for the build (`init_options`
    go to `ray.init` then). `initializer` runs once in each worker process before its first task."""

    def __init__(self, *, address: str | None = None, initializer: Callable[[], None] | None = None,
                 window: int | None = None, describe: Callable[[Any], str] = repr, max_retries: int = 3,
                 init_options: dict | None = None):
        self.address = address
        self.initializer = initializer
        self.window = window
        self.describe = describe
        self.max_retries = max_retries
        self.init_options = init_options or {}
        self._started = False

    def _connect(self) -> None:
        """Connect this process to Ray unless it is (then we started it, and `close` stops it)."""
        if ray.is_initialized():
            return
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        options = {"include_dashboard": False, **self.init_options} if address is None else {}
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WorkerError(f"cannot connect to {where} ({why}); check --ray-address (or RAY_ADDRESS), "
                              "or build with --engine local") from None
        self._started = True

    def close(self) -> None:
        """Shut Ray down if this executor started it; a cluster it joined is left as it was."""
        if self._started:
            self._started = False
            ray.shutdown()

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def map(self, fn, tasks):
        self._connect()
        pending: deque = deque()  # (key, payload, object ref or None)
        try:
            window = self.window or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
            remote = _remote_call.options(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)
            # The function (with its settings) and the initializer go to the object store once,
            # not with every task.
            fn_ref = ray.put(fn)
            init = None
            if self.initializer is not None:
                pickled = ray.cloudpickle.dumps(self.initializer)
                init = ray.put((hashlib.sha256(pickled).hexdigest(), self.initializer))
            tasks = iter(tasks)
            more = True
            while True:
                while more and len(pending) < window:
                    task = next(tasks, None)
                    if task is None:
                        more = False
                    else:
                        key, payload = task
                        ref = remote.remote(init, fn_ref, payload) if payload is not None else None
                        pending.append((key, payload, ref))
                if not pending:
                    return
                key, payload, ref = pending[0]
                result = self._get(ref, payload) if ref is not None else None
                pending.popleft()
                yield key, result
        finally:  # a failed or abandoned map: nothing left running
            refs = [ref for _, _, ref in pending if ref is not None]
            if refs:
                # Only the tasks still running: cancelling one that already ended (the task whose
                # failure stopped the map) crashed Ray's driver-side task manager ("Tried to
                # complete task that was not pending", Ray 2.60) and the process with it.
                _, running = ray.wait(refs, num_returns=len(refs), timeout=0)
                for ref in running:
                    ray.cancel(ref)

    def _get(self, ref, payload):
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            # The task's own error: Ray's copy is also of the error's type (as the local pool
            # raises it); a CorpusError keeps its one-line message.
            if isinstance(exc.cause, CorpusError):
                raise exc.cause from None
            raise
        except _DIED as exc:
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WorkerError(f"{self.describe(payload)} stopped a Ray worker {self.max_retries + 1} times "
                              f"(a crash, out of memory or a lost node; Ray said: {why[:200]}); build with "
                              "--engine local --workers 1 to find the file") from None
