"""Final accuracy over an experiment's grid, seeds aggregated with their spread shown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.style import PALETTE, SEQUENTIAL, axis_label, value_label

AGGREGATES = ["mean", "std", "min", "max", "count"]  # of the seeds' final accuracies, per cell


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Final held-out accuracy over the grid, seeds aggregated (mean, with the seed spread shown).

    Two or more axes give a heatmap of the first two (any further axes averaged), each cell written
    as its mean over its seeds' range: with two or three seeds a standard deviation hides what the
    range shows, e.g. one seed that stayed at 0.5 beside one that reached 1.0. One axis gives a point
    plot with the seed standard deviation as error bars.
    """
    runs = tables["runs"]
    if len(axes) >= 2:
        x, y = axes[1], axes[0]
        table = runs.groupby([y, x])["final_acc"].agg(AGGREGATES).reset_index()
        mean = table.pivot(index=y, columns=x, values="mean").sort_index(ascending=False)
        low, high = (table.pivot(index=y, columns=x, values=v).reindex_like(mean) for v in ("min", "max"))
        notes = mean.map("{:.2f}".format) + "\n" + low.map("{:.2f}".format) + "–" + high.map("{:.2f}".format)
        fig, ax = plt.subplots(figsize=(1.0 * mean.shape[1] + 2.5, 0.7 * mean.shape[0] + 1.5))
        sns.heatmap(
            mean,
            annot=notes,
            fmt="",
            cmap=SEQUENTIAL,
            vmin=0,
            vmax=1,
            ax=ax,
            cbar_kws={"label": "final accuracy (seed mean; below it the seeds' range)"},
            annot_kws={"fontsize": 8},
        )
        ax.grid(False)
        ax.set_xticklabels([value_label(v) for v in mean.columns])
        ax.set_yticklabels([value_label(v) for v in mean.index], rotation=0)
        ax.set_ylabel(axis_label(y))
    else:
        (x,) = axes
        table = runs.groupby(x)["final_acc"].agg(AGGREGATES).reset_index()
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        sns.pointplot(runs, x=x, y="final_acc", errorbar="sd", ax=ax, color=sns.color_palette(PALETTE)[0])
        sns.stripplot(runs, x=x, y="final_acc", ax=ax, color="0.3", size=3, alpha=0.6)
        ax.set_ylabel("final accuracy")
        ax.set_ylim(0, 1.02)
    ax.set_xlabel(axis_label(x))
    ax.set_title(title)
    fig.tight_layout()
    return fig, table
