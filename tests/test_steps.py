from builder.steps import run_steps, run_together


def counter(name: str, n: int, log: list):
    for k in range(n):
        log.append((name, k))
        yield
    return f"{name} took {n} steps"


def test_run_steps_runs_every_step_and_returns_the_result():
    log = []
    assert run_steps(counter("a", 3, log)) == "a took 3 steps"
    assert log == [("a", 0), ("a", 1), ("a", 2)]


def test_run_together_runs_rounds_and_keeps_the_order_of_results():
    log = []
    results = run_together([counter("a", 2, log), counter("b", 0, log), counter("c", 3, log)])
    assert results == ["a took 2 steps", "b took 0 steps", "c took 3 steps"]
    # Each round gives every unfinished generator one step; a finished one drops out.
    assert log == [("a", 0), ("c", 0), ("a", 1), ("c", 1), ("c", 2)]


def test_run_together_of_nothing():
    assert run_together([]) == []
