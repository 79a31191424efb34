"""The card's plots: PNG files under out/assets/, drawn with matplotlib (the `plots` extra).

Without matplotlib the card is rendered without images. The drawing takes aggregated
numbers only (never rows), uses matplotlib's own defaults and bundled DejaVu font whatever
the local matplotlibrc says, and writes PNGs without a Software tag or timestamp, so the
same numbers give the same bytes with the same matplotlib. Feeds are labelled by name when
DejaVu can draw every name (Latin, Greek, Cyrillic); names in other scripts (Chinese, ...)
are drawn with a CJK font when the machine has one (e.g. Debian's fonts-noto-cjk: the
bytes then depend on that font), else feeds are labelled by rank (#1, #2, ...), explained
by the card's feed table.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

ASSETS = "assets"
MONTHS = "articles_per_month.png"
LENGTHS = "text_length.png"
COMPOSITION = "split_composition_by_feed.png"
# Each plot's alt text, by its file name under assets/.
ALTS = {MONTHS: "Articles per month", LENGTHS: "Distribution of text length in characters",
        COMPOSITION: "Share of each split's rows by feed"}
_DPI = 100
_PNG_METADATA = {"Software": None}  # no version string in the bytes (Agg writes no time)


@dataclass(frozen=True)
class Plot:
    """A plot written for the card: its path within the dataset folder and its alt text."""

    path: str
    alt: str


def available() -> bool:
    """True when matplotlib is installed (`pip install 'corpus-builder[plots]'`)."""
    return importlib.util.find_spec("matplotlib") is not None


def write_plots(folder: str | Path, *, months: Sequence[tuple[str, int]], length_bins: Sequence[float],
                length_counts: Sequence[int], length_median: float | None,
                composition: Sequence[tuple[str, Sequence[float]]], composition_labels: Sequence[str],
                feed_names: Sequence[str] | None = None) -> list[Plot]:
    """Draw the plots into folder/assets and return them; [] without matplotlib.

    months: ("YYYY-MM", rows) for every month from the first to the last, zeros included.
    length_bins / length_counts: histogram edges (one more than counts) of characters per text.
    composition: (split, share of its rows per label) for each split; labels name the shares
    (ranks), and `feed_names` the same feeds by name, used when a font can draw them.
    """
    if not available():
        return []
    try:
        import matplotlib
    except ImportError:  # installed but broken (a missing shared library): no plots, not a failed build
        return []

    plots = planned(months=months, length_bins=length_bins, length_counts=length_counts,
                    length_median=length_median, composition=composition, composition_labels=composition_labels)
    assets = Path(folder) / ASSETS
    if plots:
        assets.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # the library's defaults, not the machine's matplotlibrc
        matplotlib.rcParams.update({"font.family": "DejaVu Sans", "svg.hashsalt": "corpus-builder",
                                    "axes.spines.top": False, "axes.spines.right": False})
        if months:
            _months(assets / MONTHS, months)
        if sum(length_counts):
            _lengths(assets / LENGTHS, length_bins, length_counts, length_median)
        if composition:
            labels, font = _feed_labels(composition_labels, feed_names)
            if font:
                matplotlib.rcParams["font.family"] = ["DejaVu Sans", font]
            _composition(assets / COMPOSITION, composition, labels)
    return plots


def _feed_labels(ranks: Sequence[str], names: Sequence[str] | None) -> tuple[list[str], str | None]:
    """The legend's labels (names, else ranks) and the extra font they need (None: DejaVu's own)."""
    if not names or len(names) != len(ranks):
        return list(ranks), None
    shown = [n if len(n) <= 24 else n[:23] + "…" for n in names]
    if all(ord(c) < 0x2000 or c == "…" for n in shown for c in n):  # DejaVu Sans draws these scripts
        return shown, None
    font = _cjk_font()
    return (shown, font) if font else (list(ranks), None)


def _cjk_font() -> str | None:
    """The family name of an installed CJK font (Noto/Source Han/WenQuanYi...), or None."""
    from matplotlib import font_manager

    names = sorted({f.name for f in font_manager.fontManager.ttflist
                    if any(k in f.name for k in ("CJK", "Source Han", "WenQuanYi", "Droid Sans Fallback"))})
    return names[0] if names else None


def planned(*, months, length_bins, length_counts, length_median, composition, composition_labels,
            feed_names=None) -> list[Plot]:
    """The plots write_plots draws for these numbers (with matplotlib there)."""
    drawn = {MONTHS: bool(months), LENGTHS: bool(sum(length_counts)), COMPOSITION: bool(composition)}
    return [Plot(f"{ASSETS}/{name}", alt) for name, alt in ALTS.items() if drawn[name]]


def found_in(folder: str | Path) -> list[Plot]:
    """The plots already drawn in folder/assets (a card re-rendered links what is there)."""
    return [Plot(f"{ASSETS}/{name}", alt) for name, alt in ALTS.items() if (Path(folder) / ASSETS / name).is_file()]


def plots_in_background(n_files: int, at_least: int) -> bool:
    """Whether a build of `n_files` should draw its plots in a helper process: not for a small
    build (the helper's own start costs more), nor where matplotlib is imported already (it
    would be imported again in the helper), nor without matplotlib."""
    return n_files >= at_least and "matplotlib" not in sys.modules and bool(sys.executable) and available()


class BackgroundPlots:
    """write_plots in a helper process started early, so that importing matplotlib (0.3 s) and
    drawing (0.3 s) overlap the build's last single-threaded stages (duplicates, splits,
    shards) instead of adding to them. `start` the drawing, do other work, then `result`.
    Any failure of the helper leaves the card without images, as without matplotlib.

    The helper is a fresh interpreter that imports this module and matplotlib only: not a
    multiprocessing "spawn" child, which runs the caller's main script again first (a script
    that calls build() without an `if __name__ == '__main__':` guard then built twice)."""

    def __init__(self) -> None:
        from multiprocessing import Pipe

        self._conn, child = Pipe()
        # The caller's import path, as multiprocessing gives its children: the same builder.
        code = (f"import sys; sys.path[:] = {sys.path!r}; "
                f"from builder.card.plots import _serve_fd; _serve_fd({child.fileno()})")
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=[child.fileno()],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
        except OSError:  # no interpreter to start: start() and result() find the pipe closed
            self._proc = None
            self._conn.close()
        child.close()
        self._expected: list[Plot] | None = None

    def start(self, folder: str | Path, **numbers) -> list[Plot]:
        """Begin drawing; return the plots that will be there if all goes well."""
        try:
            self._conn.send((str(folder), numbers))
        except (OSError, EOFError):
            self._expected = []
            return []
        self._expected = planned(**numbers)
        return self._expected

    def result(self) -> list[Plot]:
        """The plots drawn (waits for the helper); [] if it could not draw them."""
        try:
            drawn = self._conn.recv() if self._expected else []
        except (OSError, EOFError):
            drawn = []
        self.close()
        return drawn if isinstance(drawn, list) else []

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        self._conn.close()  # the helper, waiting for work, sees the pipe closed and ends
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _serve_fd(fd: int) -> None:
    """The helper's entry point: serve one drawing over the pipe end `fd`."""
    from multiprocessing.connection import Connection

    _serve(Connection(fd))


def _serve(conn) -> None:
    # Import first, while the build is busy elsewhere; then draw what is asked, once.
    if available():
        try:
            import matplotlib.figure  # noqa: F401
            from matplotlib.backends import backend_agg  # noqa: F401
        except ImportError:
            pass
    try:
        folder, numbers = conn.recv()
    except (OSError, EOFError):
        return
    try:
        conn.send(write_plots(folder, **numbers))
    except Exception as exc:  # the card goes without images; the build goes on
        conn.send(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def _figure(width: float, height: float):
    # A bare Figure with its own Agg canvas: no pyplot, no global figure registry, no backend choice.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _margins(fig, *, left: float = 0.8, right: float = 0.2, top: float = 0.4, bottom: float = 0.5) -> None:
    # Fixed margins in inches: matplotlib's constrained layout measured every label first and
    # cost more than drawing the plots (0.3 s a build).
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h)


def _save(fig, path: Path) -> None:
    fig.savefig(path, format="png", dpi=_DPI, metadata=_PNG_METADATA)


def _months(path: Path, months: Sequence[tuple[str, int]]) -> None:
    fig = _figure(8, 3.2)
    ax = fig.add_subplot()
    x = range(len(months))
    ax.bar(x, [n for _, n in months], width=0.9 if len(months) <= 60 else 1.0, color="#4C72B0")
    step = max(1, len(months) // 12)
    if len(months) > 24:  # label January of each year (or every k-th year) instead of every month
        years = [i for i, (m, _) in enumerate(months) if m.endswith("-01")] or [0]
        step_years = max(1, len(years) // 12)
        ticks = years[::step_years]
        ax.set_xticks(ticks, [months[i][0][:4] for i in ticks])
    else:
        ticks = list(x)[::step]
        ax.set_xticks(ticks, [months[i][0] for i in ticks], rotation=45, ha="right")
    _margins(fig, bottom=0.4 if len(months) > 24 else 0.75)
    ax.set_ylabel("articles")
    ax.set_title("Articles per month (UTC)")
    _save(fig, path)


def _lengths(path: Path, bins: Sequence[float], counts: Sequence[int], median: float | None) -> None:
    fig = _figure(8, 3.2)
    ax = fig.add_subplot()
    widths = [b - a for a, b in zip(bins[:-1], bins[1:])]
    ax.bar(bins[:-1], counts, width=widths, align="edge", color="#55A868", edgecolor="white", linewidth=0.3)
    if bins[-1] > 10 * max(bins[0], 1):
        ax.set_xscale("log")
    if median is not None:
        ax.axvline(median, color="#C44E52", linestyle="--", linewidth=1)
        ax.annotate(f"median {median:,.0f}", (median, 1), xycoords=("data", "axes fraction"),
                    xytext=(4, -12), textcoords="offset points", color="#C44E52")
    _margins(fig, bottom=0.6)
    ax.set_xlabel("characters per text")
    ax.set_ylabel("articles")
    ax.set_title("Text length")
    _save(fig, path)


def _composition(path: Path, composition: Sequence[tuple[str, Sequence[float]]], labels: Sequence[str]) -> None:
    from matplotlib import colormaps

    fig = _figure(8, 1.6 + 0.4 * len(composition))
    ax = fig.add_subplot()
    colors = colormaps["tab10"].colors  # ten distinct hues for the top ten feeds
    names = [split for split, _ in composition][::-1]  # first split on top
    left = [0.0] * len(names)
    for k, label in enumerate(labels):
        shares = [shares[k] * 100 for _, shares in composition][::-1]
        color = "#BBBBBB" if label == "other" else colors[k % len(colors)]
        ax.barh(names, shares, left=left, height=0.7, color=color, label=label, edgecolor="white", linewidth=0.5)
        left = [a + b for a, b in zip(left, shares)]
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the split's rows")
    by_rank = bool(labels) and str(labels[0]).startswith("#")
    ax.set_title("Split composition by feed" + (" (feeds by rank: see the table)" if by_rank else ""))
    width = max([len(n) for n in names] + [4])
    # As many legend columns as fit the figure's width (ranks are short, names long): a legend
    # wider than the figure was clipped at both ends ("#1" cut, "othe").
    longest = max([len(str(label)) for label in labels] + [2])
    ncols = max(1, min(len(labels), int(7.6 / (0.5 + 0.075 * longest))))
    rows = -(-len(labels) // ncols)
    legend_height = 0.22 * rows + 0.1
    fig.set_size_inches(8, 1.6 + 0.4 * len(composition) + legend_height)
    _margins(fig, left=0.25 + 0.09 * width, bottom=0.6 + legend_height)
    fig.legend(ncols=ncols, loc="lower center", bbox_to_anchor=(0.5, 0.0), fontsize="small", frameon=False)
    _save(fig, path)
