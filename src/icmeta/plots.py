"""Figures from tidy tables; every figure is written as PNG and PDF beside the table it was drawn from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: cluster nodes and CI have no display

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.io import atomic_path, write_table

PALETTE = "colorblind"
SEQUENTIAL = "viridis"  # perceptually uniform and colour-blind safe


def set_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.1)


def save_figure(
    fig: plt.Figure, table: pd.DataFrame, png: str | Path, pdf: str | Path, csv: str | Path
) -> None:
    """Write the figure (PNG, PDF) and its source table atomically, then close the figure."""
    for path in (png, pdf):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix[1:], dpi=150, bbox_inches="tight")
    write_table(table, csv)
    plt.close(fig)


def _cell_label(frame: pd.DataFrame, axes: Sequence[str]) -> pd.Series:
    values = frame[list(axes)].astype(str)
    return values.agg(lambda r: ", ".join(f"{a}={v}" for a, v in zip(axes, r, strict=True)), axis=1)


def learning_curves(
    metrics: pd.DataFrame, axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Held-out accuracy against log-step: one colour per cell, one thin line per seed, the mean thick.

    With two or more axes the first one selects the panel, so curves stay few enough to read.
    """
    table = metrics[[*axes, "seed", "step", "acc"]].copy()
    table = table[table["step"] > 0]  # log axis
    panel_axis = axes[0] if len(axes) > 1 else None
    hue_axes = list(axes[1:]) if panel_axis else list(axes)
    table["cell"] = _cell_label(table, hue_axes)
    panels = sorted(table[panel_axis].unique()) if panel_axis else [None]
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False, sharey=True)
    hues = sorted(table["cell"].unique(), key=lambda s: [float(x) if _is_num(x) else x for x in _vals(s)])
    colours = dict(zip(hues, sns.color_palette(PALETTE, len(hues)), strict=True))
    for ax, value in zip(grid.flat, panels, strict=False):
        part = table if panel_axis is None else table[table[panel_axis] == value]
        for cell, group in part.groupby("cell", sort=False):
            for _, run in group.groupby("seed"):
                ax.plot(run["step"], run["acc"], color=colours[cell], lw=0.6, alpha=0.35)
            mean = group.groupby("step")["acc"].mean()
            ax.plot(mean.index, mean.to_numpy(), color=colours[cell], lw=1.8, label=cell)
        ax.set_xscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("held-out accuracy")
        ax.set_ylim(0, 1.02)
        if panel_axis:
            ax.set_title(f"{panel_axis} = {value}")
    for ax in list(grid.flat)[len(panels) :]:
        ax.set_visible(False)
    handles, labels = grid.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, table.drop(columns="cell")


def _vals(label: str) -> list[str]:
    return [part.split("=", 1)[1] for part in label.split(", ")]


def _is_num(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def final_accuracy(runs: pd.DataFrame, axes: Sequence[str], title: str) -> tuple[plt.Figure, pd.DataFrame]:
    """Final held-out accuracy over the grid, seeds aggregated (mean, with the seed spread shown).

    Two or more axes give a heatmap of the first two (any further axes averaged); one axis gives a
    point plot with the seed standard deviation as error bars.
    """
    if len(axes) >= 2:
        x, y = axes[1], axes[0]
        table = runs.groupby([y, x])["final_acc"].agg(["mean", "std", "count"]).reset_index()
        mean = table.pivot(index=y, columns=x, values="mean").sort_index(ascending=False)
        spread = table.pivot(index=y, columns=x, values="std").reindex_like(mean)
        notes = mean.map("{:.2f}".format) + "\n±" + spread.fillna(0).map("{:.2f}".format)
        fig, ax = plt.subplots(figsize=(1.0 * mean.shape[1] + 2.5, 0.7 * mean.shape[0] + 1.5))
        sns.heatmap(
            mean,
            annot=notes,
            fmt="",
            cmap=SEQUENTIAL,
            vmin=0,
            vmax=1,
            ax=ax,
            cbar_kws={"label": "final accuracy (seed mean)"},
            annot_kws={"fontsize": 7},
        )
    else:
        (x,) = axes
        table = runs.groupby(x)["final_acc"].agg(["mean", "std", "count"]).reset_index()
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        sns.pointplot(runs, x=x, y="final_acc", errorbar="sd", ax=ax, color=sns.color_palette(PALETTE)[0])
        sns.stripplot(runs, x=x, y="final_acc", ax=ax, color="0.3", size=3, alpha=0.6)
        ax.set_ylabel("final accuracy")
        ax.set_ylim(0, 1.02)
    ax.set_title(title)
    fig.tight_layout()
    return fig, table
