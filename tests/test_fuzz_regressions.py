"""Every input that once crashed, hung or lost text in the reader, kept as a file in
tests/regressions/ and run here: each must pass the fuzz properties (test_fuzz.check_file_result)
and end as EXPECTED.json says ("why" there tells what went wrong before the fix).

To add one (from a hypothesis failure or an atheris crash-* file): save the bytes under
tests/regressions/ with a name that says what it is (its suffix is the path's), add its line
to EXPECTED.json, and fix the bug.
"""
import json
import time
from pathlib import Path

import pytest

from builder.settings import BuildSettings
from test_fuzz import check_file_result

FOLDER = Path(__file__).parent / "regressions"
EXPECTED = json.loads((FOLDER / "EXPECTED.json").read_text(encoding="utf-8"))
FILES = sorted(p.name for p in FOLDER.iterdir() if p.name != "EXPECTED.json")


def test_every_regression_file_has_an_expectation():
    assert sorted(EXPECTED) == FILES


@pytest.mark.parametrize("name", FILES)
def test_regression(name):
    want = EXPECTED[name]
    t = time.perf_counter()
    result = check_file_result(name, (FOLDER / name).read_bytes(), BuildSettings())
    assert time.perf_counter() - t < 5
    got = "row" if result.row is not None else result.reject.reason
    assert got == want["outcome"], (name, result.reject)
    if result.row is not None:
        row = result.row
        if "title" in want:
            assert row["title"] == want["title"]
        for part in want.get("text_contains", []):
            assert part in row["text"], (name, part)
        for warning in want.get("warnings", []):
            assert warning in row["warnings"]
