"""The local executors: results in task order, and a stage's tasks in fresh workers."""
from __future__ import annotations

import os
import time
from multiprocessing import forkserver

from builder.run import Inline, LocalPool


def _pid(_payload) -> int:
    time.sleep(0.05)  # long enough that every worker takes some of the tasks
    return os.getpid()


def test_results_come_back_in_task_order_and_a_none_payload_is_not_run():
    tasks = [(k, None if k == 3 else -k) for k in range(20)]
    expected = [(k, None if k == 3 else k) for k in range(20)]
    assert list(Inline().map(abs, tasks)) == expected
    with LocalPool(2, window=3) as pool:
        assert list(pool.map(abs, tasks)) == expected


_held: list[bytes] = []


def _hold(mb: int) -> int:
    """Keep `mb` MB resident in this worker (as a stage's leftovers would be); its pid."""
    _held.append(b"x" * (mb << 20))
    return os.getpid()


def test_workers_that_grew_run_the_next_stage_fresh_from_the_same_server():
    # What a worker allocated and freed in one stage must not sit in its RSS through the next.
    with LocalPool(2) as pool:
        first = {pid for _, pid in pool.map(_hold, enumerate([40] * 8))}  # 160 MB a worker, or more
        server = forkserver._forkserver._forkserver_pid
        pool.next_stage()
        second = {pid for _, pid in pool.map(_pid, enumerate(range(8)))}
        assert forkserver._forkserver._forkserver_pid == server  # no new server to start and import
    assert first and second and not first & second
    assert os.getpid() not in first | second


def test_workers_that_stayed_small_are_kept_for_the_next_stage():
    # A restart costs ~0.12 s of CPU a worker: a small build or a rebuild keeps its workers.
    with LocalPool(2) as pool:
        first = {pid for _, pid in pool.map(_pid, enumerate(range(8)))}
        pool.next_stage()
        second = {pid for _, pid in pool.map(_pid, enumerate(range(8)))}
    assert first == second
