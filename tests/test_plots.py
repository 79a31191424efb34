"""The card's plots: drawn in-process or by the background helper, with the same bytes."""
from __future__ import annotations

import pytest

from builder import plots

pytest.importorskip("matplotlib")

NUMBERS = dict(months=[("2024-01", 3), ("2024-02", 0), ("2024-03", 5)], length_bins=[10, 100, 1000],
               length_counts=[4, 4], length_median=120.0, composition=[("train", [0.75, 0.25]), ("test", [0.5, 0.5])],
               composition_labels=["#1", "other"])


def test_the_helper_draws_the_same_bytes_as_the_build_process(tmp_path):
    here = plots.write_plots(tmp_path / "here", **NUMBERS)
    helper = plots.BackgroundPlots()
    assert helper.start(tmp_path / "there", **NUMBERS) == here
    assert helper.result() == here
    for plot in here:
        assert (tmp_path / "here" / plot.path).read_bytes() == (tmp_path / "there" / plot.path).read_bytes()


def test_planned_plots_follow_the_numbers():
    assert [p.path for p in plots.planned(**NUMBERS)] == [
        "assets/articles_per_month.png", "assets/text_length.png", "assets/split_composition_by_feed.png"]
    empty = dict(NUMBERS, months=[], length_counts=[0, 0], composition=[])
    assert plots.planned(**empty) == []


def test_a_helper_that_fails_to_draw_reports_no_plots(tmp_path):
    helper = plots.BackgroundPlots()
    bad = dict(NUMBERS, length_bins=[1])  # edges that do not fit the counts: matplotlib raises
    assert helper.start(tmp_path, **bad)  # planned...
    assert helper.result() == []          # ...but not drawn: the card must not link them


def test_closing_an_unused_helper_ends_it():
    helper = plots.BackgroundPlots()
    helper.close()
    assert not helper._proc.is_alive()
