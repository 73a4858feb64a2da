"""Learning curves: held-out accuracy against log-step for every cell of an experiment."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.style import PALETTE


def _cell_label(frame: pd.DataFrame, axes: Sequence[str]) -> pd.Series:
    values = frame[list(axes)].astype(str)
    return values.agg(lambda r: ", ".join(f"{a}={v}" for a, v in zip(axes, r, strict=True)), axis=1)


def draw(metrics: pd.DataFrame, axes: Sequence[str], title: str) -> tuple[plt.Figure, pd.DataFrame]:
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
