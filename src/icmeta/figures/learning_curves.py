"""Learning curves: held-out accuracy and loss against log-step for every cell of an experiment
(paper Fig. 7, 15, 16, 18, 19a, 22)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.panels import (
    cell_label,
    finish,
    grid,
    log_steps,
    loss_limits,
    mean_with_seeds,
    positive_steps,
)
from icmeta.figures.style import PALETTE


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Accuracy (top) and loss (bottom): one colour per cell, one thin line per seed, the mean thick.

    With two or more axes the first one selects the column of panels, so curves stay few enough to
    read; the colours then follow the remaining axes.
    """
    table = positive_steps(tables["metrics"])[[*axes, "seed", "step", "acc", "loss"]].copy()
    panel_axis = axes[0] if len(axes) > 1 else None
    hue_axes = list(axes[1:]) if panel_axis else list(axes)
    table["cell"] = table.apply(lambda r: cell_label(r, hue_axes), axis=1)
    panels = list(dict.fromkeys(table[panel_axis])) if panel_axis else [None]
    hues = list(dict.fromkeys(table["cell"]))
    colours = dict(zip(hues, sns.color_palette(PALETTE, len(hues)), strict=True))
    fig, axs = grid(2, len(panels), 3.8, 2.9, sharex=True, sharey="row")
    for col, value in enumerate(panels):
        part = table if panel_axis is None else table[table[panel_axis] == value]
        for cell, group in part.groupby("cell", sort=False):
            for row, column in enumerate(("acc", "loss")):
                mean_with_seeds(axs[row, col], group, column, colours[cell], cell if row == 0 else None)
        for row in range(2):
            log_steps(axs[row, col])
        axs[0, col].set_ylim(0, 1.02)
        if panel_axis:
            axs[0, col].set_title(f"{panel_axis} = {value}")
    loss_limits(axs[1, 0], table, ["cell", *([panel_axis] if panel_axis else [])])  # the row shares y
    axs[0, 0].set_ylabel("held-out accuracy")
    axs[1, 0].set_ylabel("held-out loss")
    handles, labels = axs[0, 0].get_legend_handles_labels()
    for ax in axs[0, 1:]:
        more = ax.get_legend_handles_labels()
        handles += [h for h, lab in zip(*more, strict=True) if lab not in labels]
        labels += [lab for lab in more[1] if lab not in labels]
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    finish(fig, title)
    return fig, table.drop(columns="cell")
