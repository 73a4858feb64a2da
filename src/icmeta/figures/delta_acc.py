"""Accuracy and the paper's ΔAcc with the transitions it marks and the detected phases (paper Fig. 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.panels import cells, first_seed, grid, log_steps, rows_of, shade_phases, step_list
from icmeta.figures.style import PALETTE


def delta_acc(run: pd.DataFrame, dt: int) -> pd.DataFrame:
    """ΔAcc(t) = Acc(t + dt) − Acc(t) on evaluations at multiples of dt, as the paper's rule reads it."""
    acc = run.set_index("step")["acc"]
    acc = acc[acc.index % dt == 0]
    ahead = acc.reindex(acc.index + dt).to_numpy()
    return pd.DataFrame({"step": acc.index, "acc": acc.to_numpy(), "delta_acc": ahead - acc.to_numpy()})


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """One panel per cell, its first seed: accuracy, ΔAcc, the threshold, a dashed line at every step
    the paper's rule fires, and the plateau detector's phases shaded for comparison."""
    runs, metrics = tables["runs"], tables["metrics"]
    rows = list(cells(first_seed(metrics), axes))
    fig, panels = grid(len(rows), 1, 7.0, 2.8)
    blue, green = sns.color_palette(PALETTE, 3)[0], sns.color_palette(PALETTE, 3)[2]
    plotted = []
    for (label, part), ax in zip(rows, panels.flat, strict=True):
        run = rows_of(runs, part, axes)
        dt, threshold = int(run["paper_dt"].iloc[0]), float(run["paper_threshold"].iloc[0])
        curve = delta_acc(part, dt)
        curve = curve[curve["step"] > 0]
        shade_phases(ax, rows_of(tables["phases"], part, axes))
        ax.plot(curve["step"], curve["acc"], color=blue, lw=1.2, label="accuracy")
        ax.plot(curve["step"], curve["delta_acc"], color=green, lw=0.8, label=f"ΔAcc (Δt = {dt})")
        ax.axhline(threshold, color=green, ls=":", lw=0.8)
        jumps = step_list(run["transition_steps"].iloc[:1])
        for step in jumps:
            ax.axvline(step, color="0.3", ls="--", lw=0.6)
        log_steps(ax)
        ax.set_ylabel("accuracy / ΔAcc")
        ax.set_title(f"{label}, seed {part['seed'].iloc[0]}: {len(jumps)} paper-rule transitions", fontsize=9)
        plotted.append(curve.assign(**{a: part[a].iloc[0] for a in axes}, seed=part["seed"].iloc[0]))
    panels.flat[0].legend(loc="upper left", fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, pd.concat(plotted, ignore_index=True)
