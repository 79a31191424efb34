"""The dataset card: dataset_card.md (the owner's template) rendered with what the build knows,
written as README.md beside croissant.json and the plots (assets/*.png).

provenance.py   the input manifest (a build's inputs, hashed)
tally.py        one shard's figures: counted by its shard task, or read back from the shard
stats.py        the figures of the card, merged from the shards' figures
template.py     the template, CardOptions over its YAML, the placeholder markers, the YAML header
sections.py     the text each placeholder stands for
check.py        the rendered card checked as the Hub reads it
render.py       all of it put together: render_card, write_card, render_release
croissant.py    croissant.json (Croissant 1.0)
plots.py        the PNG plots (matplotlib, optional), drawn here or in a helper process

The names below are imported from their module when first used: the plot helper process
imports builder.card.plots, and must not pay for pyarrow, yaml and huggingface_hub (0.4 s).
"""
from __future__ import annotations

import importlib

_HOMES = {
    "provenance": ("InputManifest", "input_manifest_hash"),
    "stats": ("LANGUAGE_NAMES", "PERCENTILES", "TOP", "CardStats", "SplitStats", "SubsetStats", "Subsets",
              "card_stats"),
    "template": ("BUILD_KEYS", "DEFAULT_TEMPLATE", "HUB_METADATA_KEYS", "PLACEHOLDERS", "SIZE_CATEGORIES",
                 "TEMPLATE_KEYS", "VERSION_KEY", "CardOptions", "Template", "read_template", "template_from_card",
                 "template_text"),
    "check": ("check_card",),
    "render": ("CROISSANT", "croissant_text", "render_card", "render_release", "write_card"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
