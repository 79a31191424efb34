"""Executors: run tasks and give their results back in task order, with few in flight.

The interface is one call, `map(fn, tasks)`: each task is (key, payload); `fn(payload)` runs
where the executor puts it and (key, result) comes back in task order; a task whose payload
is None is not run (its result is None). Results are small, and the caller takes each before
the executor runs far ahead, so finished work never piles up in memory. `Inline` runs tasks
in this process; `LocalPool` in worker processes started from the fork server (`readers`).
"""
from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from .. import readers
from ..errors import WorkerError

log = logging.getLogger(__name__)
K = TypeVar("K")


class Executor(ABC):
    """Runs tasks; gives (key, result) back in task order. One executor serves a build's
    stages one after another (its workers started once); `close` (or `with`) ends it."""

    @abstractmethod
    def map(self, fn: Callable[[Any], Any], tasks: Iterable[tuple[K, Any]]) -> Iterator[tuple[K, Any]]:
        ...

    def close(self) -> None:
        """Stop the workers (if any)."""

    def next_stage(self) -> None:
        """The tasks so far were a stage of the build, and the next stage's differ: a pool may
        run them in fresh workers (see LocalPool)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Inline(Executor):
    """Every task in this process, one after another (one worker, or too few files for a pool)."""

    def map(self, fn, tasks):
        for key, payload in tasks:
            yield key, (fn(payload) if payload is not None else None)


RESTART_ABOVE = 32 * 2**20  # a worker's RSS over the fork server's that earns it a restart between stages


def _rss(pid: int | None) -> int | None:
    """A process's resident bytes (None: no such process, or no /proc)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, TypeError):
        return None


class LocalPool(Executor):
    """`workers` processes started from the fork server, `window` tasks in flight at most.

    A worker that dies (killed, out of memory) breaks the whole pool and every task in flight:
    a new pool runs those tasks again, as long as the last one got somewhere; a task that
    breaks two pools in a row stops the build, naming it by `describe(payload)`."""

    def __init__(self, workers: int, *, initializer: Callable[[], None] | None = None, window: int | None = None,
                 describe: Callable[[Any], str] = repr):
        self.workers = workers
        self.initializer = initializer
        self.window = window or 4 * workers
        self.describe = describe
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=readers.context(), initializer=self.initializer)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
            readers.stop()

    def next_stage(self) -> None:
        """The next stage's tasks go to new workers, started from the fork server (which stays),
        when a worker holds RESTART_ABOVE more than the server: what a worker allocated and
        freed in one stage stayed in its RSS through the next, under that stage's own peak. A
        restart costs CPU (bench/NOTES_memory.md), so workers that stayed small are kept."""
        if self._pool is not None and self._grown():
            self._pool.shutdown()
            self._pool = None

    def _grown(self) -> bool:
        """Whether a worker's RSS exceeds the fork server's by RESTART_ABOVE (True when either
        cannot be read: no /proc)."""
        base = _rss(readers.server_pid())
        sizes = [_rss(pid) for pid in getattr(self._pool, "_processes", None) or {}]
        if base is None or not sizes or None in sizes:
            return True
        return max(sizes) - base > RESTART_ABOVE

    def map(self, fn, tasks):
        if self._pool is None:
            readers.claim()
            self._pool = self._start()
        pool = self._pool
        pending: deque = deque()  # (key, payload, future or None)
        tasks = iter(tasks)
        more = True
        broke_at = None  # the payload at the head when a pool last broke, until one finishes after it
        ran_any = False  # a worker finished a task: workers can start
        try:
            while True:
                try:
                    while more and len(pending) < self.window:
                        task = next(tasks, None)
                        if task is None:
                            more = False
                        else:
                            key, payload = task
                            pending.append((key, payload, None))
                            if payload is not None:  # a slot first, so a failed submit leaves the task pending
                                pending[-1] = (key, payload, pool.submit(fn, payload))
                    if not pending:
                        return
                    key, payload, future = pending[0]
                    result = future.result() if future is not None else None
                    pending.popleft()
                except BrokenProcessPool:
                    head = pending[0][1]
                    if broke_at is head and not ran_any:
                        raise WorkerError("the worker processes stop as they start (their error is printed "
                                          "above). A script that calls build() with workers must do so under "
                                          "`if __name__ == '__main__':` (each worker imports the script); or use "
                                          "workers=1") from None
                    if broke_at is head:
                        raise WorkerError(f"{self.describe(head)} stopped a worker process twice (a crash or out of "
                                          "memory); build with --workers 1 to find the file") from None
                    broke_at = head
                    log.warning("a reading worker process died; reading %d tasks again in new workers", len(pending))
                    pool.shutdown(cancel_futures=True)
                    pool = self._pool = self._start()
                    pending = deque((k, p, pool.submit(fn, p) if p is not None else None) for k, p, _ in pending)
                    continue
                if result is not None:
                    broke_at, ran_any = None, True
                yield key, result
        finally:
            for _, _, future in pending:  # a caller that stops early: nothing left running for it
                if future is not None:
                    future.cancel()
