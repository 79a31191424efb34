import pytest

from builder.errors import OutputError
from builder.output import MARKER, atomic_output, output_lock, recover


def _ours(target):
    """A folder as this tool writes it: with its marker."""
    target.mkdir()
    (target / MARKER).write_text("")
    (target / "old.txt").write_text("old")


def test_replaces_existing_folder(tmp_path):
    target = tmp_path / "out"
    _ours(target)
    with atomic_output(target) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (target / "old.txt").exists()  # untouched until the end
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left beside it


@pytest.mark.parametrize("name", ["notes.txt", ".git"])
def test_a_folder_this_tool_did_not_write_is_never_replaced(tmp_path, name):
    target = tmp_path / "out"
    target.mkdir()
    (target / name).write_text("mine")
    with pytest.raises(OutputError, match="did not write"):
        with atomic_output(target):
            pass
    assert [p.name for p in target.iterdir()] == [name]


def test_an_empty_folder_is_written(tmp_path):
    (tmp_path / "out").mkdir()
    with atomic_output(tmp_path / "out") as tmp:
        (tmp / "new.txt").write_text("new")
    assert (tmp_path / "out" / "new.txt").exists()


def test_the_lock_is_held_once_and_leaves_nothing_behind(tmp_path):
    from builder.errors import BusyError

    with output_lock(tmp_path / "out", "build"):
        with pytest.raises(BusyError, match=r"being written by a corpus build \(pid \d+\)"):
            with output_lock(tmp_path / "out"):
                pass
    with output_lock(tmp_path / "out"):  # released: free again
        pass
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_previous_output(tmp_path):
    target = tmp_path / "out"
    _ours(target)
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "old.txt"]
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
