"""The Ray engine (builder.run.ray) on a real two-node Ray cluster on this machine.

One cluster for the module (Ray's start, ~3-10 s and ~0.6 GB, paid once): a head node and
a second node of one CPU each, so tasks really run in the other node's worker processes.
"""
from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install '.[ray]')")

from ray.cluster_utils import Cluster  # noqa: E402

from builder.pipeline import build  # noqa: E402
from builder.checks import check_before_reading  # noqa: E402
from builder.cli import main  # noqa: E402
from builder.errors import ConfigError, WorkerError  # noqa: E402
from builder.run import check_engine, executor_for  # noqa: E402
from builder.run.ray import RayExecutor  # noqa: E402
from builder.settings import BuildSettings  # noqa: E402
from splits import SplitSpec  # noqa: E402
from conftest import article, assert_same_files, distinct_text, write_corpus  # noqa: E402

# The tasks below are defined in this test module, which Ray's workers cannot import: sent by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

STORE = 80 * 2**20  # each node's object store: the tasks' results are small


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": STORE,
                                                       "include_dashboard": False})
    c.add_node(num_cpus=1, object_store_memory=STORE)
    c.wait_for_nodes()
    ray.init(address=c.address)
    deadline = time.monotonic() + 60  # both nodes' CPUs offered (a loaded machine registers them late)
    while ray.cluster_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def test_ray_is_joined_from_ray_address_and_left_as_it_was(cluster, monkeypatch):
    ray.shutdown()  # this process leaves the cluster, which goes on running
    try:
        monkeypatch.setenv("RAY_ADDRESS", cluster.address)
        with RayExecutor() as ex:
            assert list(ex.map(_square_late, [(1, 3)])) == [(1, 9)]
            assert ray.is_initialized()  # joined by the executor, so it leaves at close
        assert not ray.is_initialized()
        ray.init(address=cluster.address)
        with RayExecutor(address="auto") as ex:  # already connected: the executor joins nothing
            assert list(ex.map(_square_late, [(1, 4)])) == [(1, 16)]
        assert ray.is_initialized()
    finally:
        if not ray.is_initialized():
            ray.init(address=cluster.address)


def _node_after(delay: float) -> tuple[str, int]:
    time.sleep(delay)
    return ray.get_runtime_context().get_node_id(), os.getpid()


def _square_late(x: int) -> int:
    time.sleep(random.Random(x).random() * 0.05)
    return x * x


def test_results_in_task_order_when_tasks_finish_out_of_order(cluster):
    tasks = [(f"k{i}", i) for i in range(40)]
    tasks[7] = ("k7", None)  # a task without a payload is not run
    got = list(RayExecutor(window=6).map(_square_late, tasks))
    assert [k for k, _ in got] == [k for k, _ in tasks]
    assert [r for _, r in got] == [i * i if i != 7 else None for i in range(40)]
    assert ray.is_initialized()  # joined, not started: left running


def test_tasks_run_in_the_other_nodes_processes(cluster):
    here = ray.get_runtime_context().get_node_id()
    got = [r for _, r in RayExecutor(window=4).map(_node_after, [(i, 0.3) for i in range(8)])]
    nodes = {node for node, _ in got}
    assert len(nodes) == 2 and here in nodes  # both nodes' processes, the other among them
    assert os.getpid() not in {pid for _, pid in got}


def _note_pid(folder: Path):
    def init() -> None:
        with open(folder / str(os.getpid()), "a") as fh:
            fh.write("x")
    return init


def test_initializer_runs_once_per_worker_process_and_never_here(cluster, tmp_path):
    got = [r for _, r in RayExecutor(window=4, initializer=_note_pid(tmp_path)).map(_node_after,
                                                                                  [(i, 0.05) for i in range(16)])]
    pids = {pid for _, pid in got}
    assert {int(p.name) for p in tmp_path.iterdir()} == pids
    assert all(p.read_text() == "x" for p in tmp_path.iterdir())
    assert str(os.getpid()) not in {p.name for p in tmp_path.iterdir()}


def _die_once(marker: str) -> str:
    """Kill this worker process the first time (no marker yet): Ray must run the task again."""
    if not os.path.exists(marker):
        Path(marker).write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return "done"


def _die_always(_: object) -> str:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_worker_is_retried(cluster, tmp_path):
    got = list(RayExecutor().map(_die_once, [("a", str(tmp_path / "a")), ("b", str(tmp_path / "b"))]))
    assert got == [("a", "done"), ("b", "done")]


def test_a_task_that_keeps_killing_its_worker_is_one_clear_error(cluster):
    ex = RayExecutor(max_retries=1, describe=lambda p: f"reading {p}")
    with pytest.raises(WorkerError, match=r"^reading bad.md stopped a Ray worker 2 times .*--engine local"):
        list(ex.map(_die_always, [("x", "bad.md")]))


def _fail(x):
    raise ValueError(f"bug on {x}")


def test_a_tasks_own_error_is_raised_as_its_type(cluster):
    with pytest.raises(ValueError, match="bug on 3"):
        list(RayExecutor().map(_fail, [(3, 3)]))


def test_engines_are_checked(monkeypatch):
    with pytest.raises(ConfigError, match="engine 'spark' is not known; use one of local, ray"):
        check_before_reading(BuildSettings(), SplitSpec(), engine="spark")
    assert isinstance(executor_for("ray", 1, inline=True), RayExecutor)  # what the user asked for
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"pip install 'corpus-builder\[ray\]'"):
        check_engine("ray")


def _corpus(root: Path, n: int) -> Path:
    """n articles over three feeds, every 10th a near copy of the one before, a few rejects."""
    files: dict[str, str | bytes] = {}
    for i in range(n):
        body = distinct_text(i - 1 if i % 10 == 9 else i, 300) + ("。再版" if i % 10 == 9 else "")
        feed = ("金融", "新浪财经", ("国内", "国际", "股市")[i % 3])
        files[f"{feed[2]}/{i // 100:02d}/{i:05d}.md"] = article(f"标题 {i}", body, feed=feed)
    files["国内/empty.md"] = ""
    files["国内/bin.md"] = b"\x00\x01\x02" * 50
    files["notes.txt"] = "not an article"
    return write_corpus(root, files)


def test_a_ray_build_is_byte_identical_to_a_local_build(cluster, tmp_path):
    src = _corpus(tmp_path / "src", 1200)
    local = build(src, tmp_path / "local", workers=2, progress=False, cache_dir=None)
    assert sum(local.splits.values()) > 1000
    # `corpus build --engine ray`: the cluster this process is connected to (the fixture's)
    assert main(["build", str(src), "-o", str(tmp_path / "ray"), "--engine", "ray", "--no-cache", "-q"]) == 0
    assert_same_files(tmp_path / "local", tmp_path / "ray")
