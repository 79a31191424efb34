"""Where builder.plots was: the card's plots now live in builder/card/plots.py (this name stays
until builder/pipeline.py imports from there)."""
from .card.plots import BackgroundPlots, plots_in_background

__all__ = ["BackgroundPlots", "plots_in_background"]
