"""Held-out accuracy against random-label accuracy (paper Fig. 6, RLA: context labels permuted)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.panels import (
    cells,
    finish,
    grid,
    key_below,
    log_steps,
    mean_with_seeds,
    positive_steps,
    rows_of,
    shade_phases,
)
from icmeta.figures.style import PALETTE

TITLE_CHARS = 30  # a longer cell label (several axes) goes one axis a line, clear of its neighbours


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """One panel per cell. A semi-context circuit reads only the label multiset, which a permutation
    keeps, so RLA rises with Phase 2; a full-context circuit also uses which item has which label."""
    table = positive_steps(tables["metrics"])[[*axes, "seed", "step", "acc", "rla_acc"]]
    rows = list(cells(table, axes))
    ncols = -(-len(rows) // -(-len(rows) // 3))  # at most 3 across, rows filled evenly (4 as 2 x 2)
    # 3 fit a page; a block of one cell gets one wide panel, not a small one amid its legend's width
    fig, panels = grid(-(-len(rows) // ncols), ncols, 3.2 if len(rows) > 1 else 5.5, 2.6, sharey=True)
    colours = sns.color_palette(PALETTE, 3)
    for (label, part), ax in zip(rows, panels.flat, strict=False):
        shade_phases(ax, rows_of(tables["phases"], part, axes), part["step"].min())
        mean_with_seeds(ax, part, "acc", colours[0], "held-out (in-distribution)")
        mean_with_seeds(ax, part, "rla_acc", colours[2], "random labels (RLA)")
        log_steps(ax, part["step"])
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("accuracy")
        ax.set_title(label if len(label) <= TITLE_CHARS else label.replace(", ", "\n"), fontsize=9)
    for ax in list(panels.flat)[len(rows) :]:
        ax.set_visible(False)
    finish(fig, title)
    key_below(fig, panels.flat[0])
    return fig, table
