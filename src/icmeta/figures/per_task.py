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
    fig, panels = grid(1, len(columns), 3.6, 3.0, sharey=True)
    found = list(cells(table, axes))
    colours = sns.color_palette(PALETTE, len(found))
    for ax, column in zip(panels.flat, columns, strict=True):
        for (label, part), colour in zip(found, colours, strict=True):
            mean_with_seeds(ax, part, column, colour, label)
        log_steps(ax)
        ax.set_ylim(0, 1.02)
        ax.set_title("average" if column == "acc" else f"task τ = {column.removeprefix('acc_task')}")
    panels.flat[0].set_ylabel("held-out accuracy")
    panels.flat[-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
    finish(fig, title)
    return fig, table
