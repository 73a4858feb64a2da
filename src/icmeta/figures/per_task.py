"""Accuracy on each task separately, next to the average (paper Fig. 7e, task Zipf β)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.panels import cells, finish, grid, log_steps, mean_with_seeds, positive_steps
from icmeta.figures.style import PALETTE

_TASK = re.compile(r"^acc_task(\d+)$")
COLUMNS = 3  # panels wrap at three across: one page-wide row of five shrank its text below 7 px


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Panels: the average over tasks, then task 1 (the most frequent under Zipf), 2, ...; one colour
    per cell. Under a skewed task law the frequent task is memorised first (an early NCC at its
    share), while the rare ones can skip straight to the in-context circuit."""
    metrics = positive_steps(tables["metrics"])
    tasks = sorted(int(m[1]) for c in metrics.columns if (m := _TASK.match(c)))
    columns = ["acc"] + [f"acc_task{t}" for t in tasks]
    table = metrics[[*axes, "seed", "step", *columns]].dropna(axis=1, how="all")
    columns = [c for c in columns if c in table.columns]
    ncols = min(COLUMNS, len(columns) + 1)  # a slot for the legend after the last panel
    fig, panels = grid(-(-(len(columns) + 1) // ncols), ncols, 3.2, 2.6, sharey=True)
    found = list(cells(table, axes))
    colours = sns.color_palette(PALETTE, len(found))
    for ax, column in zip(panels.flat, columns, strict=False):
        for (label, part), colour in zip(found, colours, strict=True):
            mean_with_seeds(ax, part, column, colour, label)
        log_steps(ax)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("held-out accuracy")
        ax.set_title("average" if column == "acc" else f"task τ = {column.removeprefix('acc_task')}")
    key, *spare = panels.flat[len(columns) :]
    key.legend(*panels.flat[0].get_legend_handles_labels(), loc="center left", fontsize=8, frameon=False)
    key.axis("off")
    for ax in spare:
        fig.delaxes(ax)
    finish(fig, title)
    return fig, table
