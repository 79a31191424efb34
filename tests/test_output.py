import pytest

from builder.errors import OutputError
from builder.output import atomic_output, recover


def test_replaces_existing_folder(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_output(target) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (target / "old.txt").exists()  # untouched until the end
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left beside it


def test_failure_leaves_previous_output(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_recover_restores_folder_moved_aside(tmp_path):
    old = tmp_path / ".out.old-1234"
    old.mkdir()
    (old / "data.txt").write_text("x")
    recover(tmp_path / "out")
    assert (tmp_path / "out" / "data.txt").read_text() == "x"


def test_output_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        with atomic_output(tmp_path / "out"):
            pass
