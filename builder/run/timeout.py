"""The per-file time limit: a periodic SIGALRM that stops the step whose file ran out of time.

Files processed together (builder.transform.process.run_steps, a step at a time over a batch) share
one timer for the whole batch instead of one per step, whose two system calls each would cost
more than many steps: the handler compares the clock with `DEADLINE.at`, the running step's
limit on the monotonic clock (infinite between steps). A SIGALRM interrupts Python code and regular expressions; a
long C call (an lxml parse) is interrupted when it returns. Signals reach only a process's
main thread: elsewhere (build() called from a thread, or no setitimer) files are read
without a limit.
"""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator


class FileTimeout(BaseException):
    """Raised by the watchdog; a BaseException, so process_file's catch-all lets it through."""


class Deadline:
    """The running step's limit (`at`), and whether this process keeps the watchdog's handler
    installed for its life (a worker of ours: installing a handler through the signal module
    costs more than the timer itself) or installs it around each batch (the caller's process)."""

    def __init__(self) -> None:
        self.at = float("inf")
        self.resident = False


DEADLINE = Deadline()


def on_alarm(signum: int, frame: object) -> None:
    if time.monotonic() > DEADLINE.at:
        raise FileTimeout()


def install_for_process() -> None:
    """In a worker process of ours: the handler stays for the process's life."""
    if hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, on_alarm)
        DEADLINE.resident = True


def can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def watch(limit: float) -> Iterator[bool]:
    """The watchdog's timer for the time inside (and its handler, unless it is resident); whether
    a limit can be enforced here. A timer and handler the caller had are restored."""
    if not can_alarm():
        yield False
        return
    interval = min(max(limit / 20, 0.005), 0.1)
    old_handler = None if DEADLINE.resident else signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, interval, interval)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if not DEADLINE.resident:
            _restore_alarm(old_handler, old_delay, old_interval, started)


def _restore_alarm(handler, delay: float, interval: float, started: float) -> None:
    signal.signal(signal.SIGALRM, signal.SIG_DFL if handler is None else handler)
    if delay:
        signal.setitimer(signal.ITIMER_REAL, max(delay - (time.monotonic() - started), 1e-6), interval)


def timed_steps(limit: float, enforced: bool, n: int):
    """A step runner for process.run_steps: each of the `n` articles gets `limit` seconds over
    all its steps; one past it is rejected ('timeout') and runs no further step."""
    spent = [0.0] * n

    def timed_step(k: int, step, article, settings):
        start = time.monotonic()
        try:
            try:
                if enforced:
                    DEADLINE.at = start + limit - spent[k]
                return step(article, settings)
            finally:
                DEADLINE.at = float("inf")
        except FileTimeout:  # in its step, or just after it (then it was at the limit anyway)
            DEADLINE.at = float("inf")
            return article.rejected("timeout", f"reading took longer than {limit:g} s (max_seconds_per_file)")
        finally:
            spent[k] += time.monotonic() - start

    return timed_step
