"""The local executors: results in task order, and a stage's tasks in fresh workers."""
from __future__ import annotations

import os
from multiprocessing import forkserver

from builder.run import Inline, LocalPool


def _pid(_payload) -> int:
    return os.getpid()


def test_results_come_back_in_task_order_and_a_none_payload_is_not_run():
    tasks = [(k, None if k == 3 else -k) for k in range(20)]
    expected = [(k, None if k == 3 else k) for k in range(20)]
    assert list(Inline().map(abs, tasks)) == expected
    with LocalPool(2, window=3) as pool:
        assert list(pool.map(abs, tasks)) == expected


def test_the_next_stage_runs_in_fresh_workers_started_from_the_same_server():
    # What a worker allocated and freed in one stage must not sit in its RSS through the next.
    with LocalPool(2) as pool:
        first = {pid for _, pid in pool.map(_pid, enumerate(range(8)))}
        server = forkserver._forkserver._forkserver_pid
        pool.next_stage()
        second = {pid for _, pid in pool.map(_pid, enumerate(range(8)))}
        assert forkserver._forkserver._forkserver_pid == server  # no new server to start and import
    assert first and second and not first & second
    assert os.getpid() not in first | second
