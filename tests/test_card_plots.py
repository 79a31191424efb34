"""The card's plots: drawn in-process or by the background helper, with the same bytes."""
from __future__ import annotations

import pytest

from builder.card import plots

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
    assert not helper.running()


def test_the_helper_does_not_run_the_callers_script_again(tmp_path):
    # A script without an `if __name__ == '__main__':` guard: a multiprocessing "spawn" helper
    # ran its top level again (a build() in it built twice, the second one failing as busy).
    import os
    import subprocess
    import sys

    script = tmp_path / "script.py"
    script.write_text(f"from builder.card import plots\n"
                      f"with open({str(tmp_path / 'runs.txt')!r}, 'a') as fh:\n"
                      f"    fh.write('ran\\n')\n"
                      f"helper = plots.BackgroundPlots()\n"
                      f"helper.start({str(tmp_path / 'out')!r}, **{NUMBERS!r})\n"
                      f"print(len(helper.result()))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=os.getcwd())
    assert done.stdout.strip() == "3", done.stderr
    assert (tmp_path / "runs.txt").read_text() == "ran\n"
    assert done.stderr == ""


def _legend_fits(path) -> bool:
    """Whether every legend label of the composition plot is drawn inside the image."""
    import matplotlib.image

    image = matplotlib.image.imread(path)
    # The legend's bottom band: no ink may touch the left or right edge (clipped labels did).
    band = image[-60:, :, :3]
    return bool((band[:, :3] > 0.95).all() and (band[:, -3:] > 0.95).all())


@pytest.mark.parametrize("names", [None, [f"Feed number {i} of the English news" for i in range(10)] + ["other"]])
def test_the_legend_of_eleven_feeds_fits_and_latin_names_are_shown(tmp_path, names):
    labels = [f"#{i}" for i in range(1, 11)] + ["other"]
    composition = [("train", [1 / 11] * 11), ("validation", [1 / 11] * 11), ("test", [1 / 11] * 11)]
    plots.write_plots(tmp_path, **dict(NUMBERS, composition=composition, composition_labels=labels, feed_names=names))
    assert _legend_fits(tmp_path / "assets" / plots.COMPOSITION)
    shown = plots._feed_labels(labels, names)[0]
    assert shown == labels if names is None else shown[0] == "Feed number 0 of the En…" and shown[-1] == "other"


def test_cjk_names_need_a_cjk_font_else_ranks():
    labels, font = plots._feed_labels(["#1", "other"], ["新浪财经", "other"])
    cjk = plots._cjk_font()
    assert (labels, font) == ((["新浪财经", "other"], cjk) if cjk else (["#1", "other"], None))
