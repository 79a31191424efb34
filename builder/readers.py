"""The fork server the reading workers start from: started once per build (or early, by the
`corpus` command), stopped when reading is done.

Workers fork from a server that imported the reader (`builder.run.worker`) once: each starts at
once and shares those pages with the others instead of importing them itself. forkserver, not
fork: workers start from a clean process, not a copy of one holding Arrow's threads. This
module imports nothing heavy, so the `corpus` command can start the server before it imports
the reader itself: the two imports then run on two cores at once.
"""
from __future__ import annotations

import multiprocessing
import os
from multiprocessing import forkserver

PRELOAD = ["builder.run.worker"]
_ours = False  # the running server was started by us (so we stop it)


def count(workers: int | None) -> int:
    """The number of reading workers a build asked for `workers` gets (default: one a core)."""
    return workers or os.cpu_count() or 1


def context():
    """The multiprocessing context of the workers, its server preloading the reader."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def server_pid() -> int | None:
    """The running server's process id (None when none runs)."""
    return getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)


def running() -> bool:
    return server_pid() is not None


def start() -> None:
    """Start the server now (it imports the reader while the caller goes on), unless one runs."""
    global _ours
    context()
    if not running():
        forkserver.ensure_running()
        _ours = True


def claim() -> None:
    """A build is about to start workers: a server it starts now is its own to stop."""
    global _ours
    if not running():
        _ours = True


def stop() -> None:
    """Stop the server if we started it: idle, it holds the preloaded reader (~85 MB) through
    the rest of the build; a later build starts it again. (multiprocessing's own stop method,
    private, hence the care: without it the server simply lives on.)"""
    global _ours
    if not _ours:
        return
    _ours = False
    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        try:
            stop()
        except OSError:
            pass
