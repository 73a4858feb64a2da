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
    plot with the seed standard deviation as error bars. A grid of one cell, where either would be a
    single mark, shows each seed's value instead (`_seed_strip`).
    """
    runs = tables["runs"]
    table = runs.groupby(list(axes[:2]))["final_acc"].agg(AGGREGATES).reset_index()
    if runs.groupby(list(axes)).ngroups == 1:
        fig = _seed_strip(runs, axes)
    elif len(axes) >= 2:
        fig = _heatmap(table, axes[0], axes[1])
    else:
        fig = _points(runs, axes[0])
    fig.axes[0].set_title(title)
    fig.tight_layout()
    return fig, table


def _heatmap(table: pd.DataFrame, y: str, x: str) -> plt.Figure:
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
    ax.set_xlabel(axis_label(x))
    return fig


def _points(runs: pd.DataFrame, x: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    sns.pointplot(runs, x=x, y="final_acc", errorbar="sd", ax=ax, color=sns.color_palette(PALETTE)[0])
    sns.stripplot(runs, x=x, y="final_acc", ax=ax, color="0.3", size=3, alpha=0.6)
    ax.set_ylabel("final accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(axis_label(x))
    return fig


def _seed_strip(runs: pd.DataFrame, axes: Sequence[str]) -> plt.Figure:
    """The one cell's seeds side by side, each point written with its value, over the seed mean and
    the seeds' range: what a single mean and error bar would hide is whether the seeds agree."""
    runs = runs.sort_values("seed")
    values = runs["final_acc"].to_numpy(dtype=float)
    colour = sns.color_palette(PALETTE)[0]
    fig, ax = plt.subplots(figsize=(max(3.5, 0.8 * len(values) + 2.0), 3.2))
    positions = range(len(values))
    ax.axhspan(values.min(), values.max(), color=colour, alpha=0.15, lw=0,
               label=f"seeds' range {values.min():.3f}–{values.max():.3f}")  # fmt: skip
    ax.axhline(values.mean(), color=colour, lw=1.2, label=f"seed mean {values.mean():.3f}")
    ax.scatter(positions, values, color="0.2", s=25, zorder=3)
    for x, value in zip(positions, values, strict=True):
        ax.annotate(f"{value:.3f}", (x, value), xytext=(0, -12), textcoords="offset points", ha="center",
                    fontsize=8)  # fmt: skip
    ax.set_xticks(positions, [str(s) for s in runs["seed"]])
    ax.set_xlim(-0.6, len(values) - 0.4)
    ax.set_ylim(0, 1.02)
    cell = ", ".join(f"{a} = {value_label(runs[a].iloc[0])}" for a in axes)
    ax.set_xlabel(f"seed ({cell})")
    ax.set_ylabel("final accuracy")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return fig
