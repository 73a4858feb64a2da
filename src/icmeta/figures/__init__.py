"""Figures from tidy tables, one module per figure so that editing one re-runs only that figure.

Each module's `draw(table, axes, title)` returns the figure and the table it plotted.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from icmeta.figures.style import save_figure, set_style

NAMES = ("learning_curves", "final_accuracy", "phase_diagram")


def draw(
    figure: str, table: str | Path, axes: Sequence[str], title: str, png: str, pdf: str, csv: str
) -> None:
    """Draw one named figure from its source table; writes PNG, PDF and the table it plotted."""
    if figure not in NAMES:
        raise ValueError(f"unknown figure '{figure}'; known: {', '.join(NAMES)}")
    set_style()
    fig, plotted = importlib.import_module(f"icmeta.figures.{figure}").draw(pd.read_csv(table), axes, title)
    save_figure(fig, plotted, png, pdf, csv)
