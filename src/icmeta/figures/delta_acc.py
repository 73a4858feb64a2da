"""Accuracy and the paper's ΔAcc with the transitions it marks and the detected phases (paper Fig. 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.panels import (
    cells,
    first_seed,
    grid,
    key_below,
    log_steps,
    rows_of,
    shade_phases,
    step_list,
)
from icmeta.figures.style import PALETTE


def delta_acc(run: pd.DataFrame, dt: int) -> pd.DataFrame:
    """ΔAcc(t) = Acc(t + dt) − Acc(t) on evaluations at multiples of dt, as the paper's rule reads it."""
    acc = run.set_index("step")["acc"]
    acc = acc[acc.index % dt == 0]
    ahead = acc.reindex(acc.index + dt).to_numpy()
    return pd.DataFrame({"step": acc.index, "acc": acc.to_numpy(), "delta_acc": ahead - acc.to_numpy()})


def delta_limit(values: pd.Series, threshold: float) -> float:
    """Half the height of a ΔAcc axis centred on 0: room for the largest |ΔAcc| and the threshold.
    ΔAcc is a few hundredths where accuracy spans 0 to 1: on the accuracy axis it is a flat line."""
    measured = values.dropna().abs()  # a run shorter than 2 Δt has no ΔAcc at all
    return 1.15 * max(float(measured.max()) if len(measured) else 0.0, abs(threshold))


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """One panel per cell, its first seed: accuracy (left axis), ΔAcc on its own axis (right) with the
    threshold, a dashed line at every step the paper's rule fires, and the plateau detector's phases
    shaded for comparison."""
    runs, metrics = tables["runs"], tables["metrics"]
    rows = list(cells(first_seed(metrics), axes))
    fig, panels = grid(len(rows), 1, 7.0, 2.8)
    blue, green = sns.color_palette(PALETTE, 3)[0], sns.color_palette(PALETTE, 3)[2]
    plotted, twins = [], []
    for (label, part), ax in zip(rows, panels.flat, strict=True):
        run = rows_of(runs, part, axes)
        dt, threshold = int(run["paper_dt"].iloc[0]), float(run["paper_threshold"].iloc[0])
        curve = delta_acc(part, dt)
        curve = curve[curve["step"] > 0]
        # Shaded from the first evaluation at the latest; the axis itself starts at the first ΔAcc.
        first_step = part.loc[part["step"] > 0, "step"].min()
        shade_phases(ax, rows_of(tables["phases"], part, axes), first_step=first_step)
        ax.plot(curve["step"], curve["acc"], color=blue, lw=1.2, label="accuracy (left)")
        jumps = step_list(run["transition_steps"].iloc[:1])
        for step in jumps:
            ax.axvline(step, color="0.3", ls="--", lw=0.6)
        log_steps(ax, curve["step"])
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("held-out accuracy", color=blue)
        twins.append(_delta_axis(ax, curve, dt, threshold, green))
        count = f"{len(jumps)} paper-rule transition{'' if len(jumps) == 1 else 's'}"
        ax.set_title(f"{label}, seed {part['seed'].iloc[0]}: {count}", fontsize=9)
        plotted.append(curve.assign(**{a: part[a].iloc[0] for a in axes}, seed=part["seed"].iloc[0]))
    fig.suptitle(title)
    fig.tight_layout()
    key_below(fig, panels.flat[0], twins[0])
    return fig, pd.concat(plotted, ignore_index=True)


def _delta_axis(ax: plt.Axes, curve: pd.DataFrame, dt: int, threshold: float, colour) -> plt.Axes:
    """ΔAcc on a twin axis of `ax`, symmetric about a zero line; returns the twin."""
    delta = ax.twinx()
    delta.grid(False)
    delta.axhline(0, color="0.5", lw=0.6)
    delta.plot(curve["step"], curve["delta_acc"], color=colour, lw=0.8, label=f"ΔAcc, Δt = {dt} (right)")
    delta.axhline(threshold, color=colour, ls=":", lw=0.8, label=f"threshold {threshold:g}")
    limit = delta_limit(curve["delta_acc"], threshold)
    delta.set_ylim(-limit, limit)
    delta.set_ylabel("ΔAcc = Acc(t + Δt) − Acc(t)", color=colour)
    return delta
