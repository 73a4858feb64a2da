"""Accuracy and loss against log-step with the detected phases shaded (paper Fig. 2 left, Fig. 18)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.panels import (
    SPLIT_SHARE,
    cells,
    finish,
    grid,
    log_steps,
    loss_limits,
    mean_with_seeds,
    positive_steps,
    rows_of,
    shade_phases,
)
from icmeta.figures.style import PALETTE

# With their units: accuracy is a share of queries, the loss the query label's cross-entropy in nats
# (natural log), both on the held-out set (icmeta.training.evaluation); steps are optimiser steps.
# On two lines: in one line the loss label is taller than a one-row figure's panel and reaches up
# into the figure's title.
ACC_LABEL = "held-out accuracy\n(fraction)"
LOSS_LABEL = "held-out loss\n(cross-entropy, nats)"


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """One row per cell (named above both panels): held-out accuracy and loss against training steps,
    seeds thin, mean thick, phases shaded (`panels.phase_spans`)."""
    metrics = positive_steps(tables["metrics"])
    table = metrics[[*axes, "seed", "step", "acc", "loss"]]
    rows = list(cells(table, axes))
    fig, panels = grid(len(rows), 2, 4.4, 2.8, sharex=True)
    blue, red = sns.color_palette(PALETTE, 4)[0], sns.color_palette(PALETTE, 4)[3]
    for (label, part), (ax_acc, ax_loss) in zip(rows, panels, strict=True):
        loss_split = SPLIT_SHARE * loss_limits(ax_loss, part, [])
        for ax, column, colour, split in (
            (ax_acc, "acc", blue, SPLIT_SHARE),
            (ax_loss, "loss", red, loss_split),
        ):
            shade_phases(ax, rows_of(tables["phases"], part, axes), part["step"].min())
            mean_with_seeds(ax, part, column, colour, None, split)
            log_steps(ax, part["step"])
        ax_acc.set_ylim(0, 1.02)
        ax_acc.set_ylabel(ACC_LABEL)
        ax_loss.set_ylabel(LOSS_LABEL)
        for ax in (ax_acc, ax_loss):
            ax.set_title(label, fontsize=9)
    finish(fig, title)
    return fig, table
