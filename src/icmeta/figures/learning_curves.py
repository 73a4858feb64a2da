"""Learning curves: held-out accuracy and loss against log-step for every cell of an experiment
(paper Fig. 7, 15, 16, 18, 19a, 22)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.panels import (
    SPLIT_SHARE,
    finish,
    grid,
    log_steps,
    loss_limits,
    mean_with_seeds,
    positive_steps,
)
from icmeta.figures.style import PALETTE, axis_label, value_label


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Accuracy (top) and loss (bottom): one colour per cell, one thin line per seed, the mean thick.

    With two or more axes the first one selects the column of panels, so curves stay few enough to
    read; the colours then follow the remaining axes, in the order of their values. A single numeric
    colour axis (such as ε) gets an ordered palette, so that neighbouring values look alike.
    """
    table = positive_steps(tables["metrics"])[[*axes, "seed", "step", "acc", "loss"]].copy()
    panel_axis = axes[0] if len(axes) > 1 else None
    hue_axes = list(axes[1:]) if panel_axis else list(axes)
    table["cell"] = table.apply(lambda r: _hue_label(r, hue_axes), axis=1)
    panels = sorted(set(table[panel_axis])) if panel_axis else [None]
    order = table.drop_duplicates("cell").sort_values(hue_axes)["cell"].tolist()
    colours = dict(zip(order, _palette(table, hue_axes, len(order)), strict=True))
    fig, axs = grid(2, len(panels), 3.8, 2.9, sharex=True, sharey="row")
    loss_top = loss_limits(axs[1, 0], table, ["cell", *([panel_axis] if panel_axis else [])])  # shared
    split_at = {"acc": SPLIT_SHARE, "loss": SPLIT_SHARE * loss_top}  # a share of each panel's height
    for col, value in enumerate(panels):
        part = table if panel_axis is None else table[table[panel_axis] == value]
        for cell, group in part.groupby("cell", sort=False):
            for row, column in enumerate(("acc", "loss")):
                label = cell if row == 0 else None
                mean_with_seeds(axs[row, col], group, column, colours[cell], label, split_at[column])
        for row in range(2):
            log_steps(axs[row, col])
        axs[0, col].set_ylim(0, 1.02)
        if panel_axis:
            axs[0, col].set_title(f"{axis_label(panel_axis)} = {value_label(value)}")
    axs[0, 0].set_ylabel("held-out accuracy")
    axs[1, 0].set_ylabel("held-out loss")
    labelled = {lab: h for ax in axs[0] for h, lab in zip(*ax.get_legend_handles_labels(), strict=True)}
    handles = [labelled[c] for c in order if c in labelled]
    legend_title = axis_label(hue_axes[0]) if len(hue_axes) == 1 else None
    fig.legend(
        handles,
        [c for c in order if c in labelled],
        title=legend_title,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
        fontsize=8,
        title_fontsize=8,
    )
    fig.text(
        1.0,
        0.12,
        "thin: seeds; thick: their mean;\ndotted: seeds more than a tenth\nof the panel apart",
        fontsize=7,
        color="0.35",
        va="top",
    )
    finish(fig, title)
    return fig, table.drop(columns="cell")


def _hue_label(row: pd.Series, hue_axes: Sequence[str]) -> str:
    if len(hue_axes) == 1:
        return value_label(row[hue_axes[0]])
    return ", ".join(f"{a}={value_label(row[a])}" for a in hue_axes)


def _palette(table: pd.DataFrame, hue_axes: Sequence[str], n: int) -> list:
    numeric = len(hue_axes) == 1 and pd.api.types.is_numeric_dtype(table[hue_axes[0]])
    if numeric and n > 2:
        return sns.color_palette("viridis", n + 1)[:n]  # without the last, pale yellow
    return sns.color_palette(PALETTE, n)
