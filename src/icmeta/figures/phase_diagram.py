"""Phase diagram over two axes of an experiment, seeds aggregated.

The main panel gives each cell's phase sequence, the circuits its phases use in order (e.g.
NCC → SCC → FCC) as coloured blocks labelled with their plateau accuracy (median over the seeds
that share the sequence), with how many seeds went through exactly that sequence, what the others
went through, and the range of the seeds' final accuracy (a cell that ended short of 100 % has not
finished its phases within the step budget). Beside it: the number of phases per run; the NCC and SCC
plateaus' accuracy against their predictions (1/T; the label-multiset bound of `icmeta.task.theory`), in
accuracy points; and the step at which the seeds solved the task (how long the phases took, in
total). Cells where no seed had a quantity say so ("none", "never") instead of staying blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm

from icmeta.block.cells import NO_PHASE, SOLVED_AT, cell_stats
from icmeta.figures.phase_sequences import CELL_INCHES, check_axes, draw_sequences
from icmeta.figures.style import SEQUENTIAL, axis_label, value_label

DIVERGING = "vlag"  # blue-white-red, distinguishable with the common colour-vision deficiencies


def _heatmap(ax: plt.Axes, panel: Panel, grid: pd.DataFrame, notes: pd.DataFrame) -> None:
    """One quantitative panel with its colour bar; cells without a value are grey and say why."""
    sns.heatmap(grid, annot=notes.to_numpy(), fmt="", ax=ax, annot_kws={"fontsize": 8},
                cbar_kws={"label": panel.unit, "shrink": 0.8}, **panel.options)  # fmt: skip
    ax.set_xlabel(axis_label(grid.columns.name))
    ax.set_ylabel(axis_label(grid.index.name))
    ax.set_xticklabels([value_label(v) for v in grid.columns])
    ax.set_yticklabels([value_label(v) for v in grid.index], rotation=0)
    ax.grid(False)
    ax.set_facecolor("0.93")
    for r, c in zip(*np.nonzero(np.isnan(grid.to_numpy(dtype=float))), strict=True):
        ax.text(c + 0.5, r + 0.5, panel.missing, ha="center", va="center", fontsize=8, color="0.4")
    ax.set_title(panel.title, fontsize=9)


def _log_norm(steps: pd.Series) -> LogNorm:
    """A log colour scale over the steps (a decade at least, so that one value still gets a scale)."""
    low, high = steps.min(), steps.max()
    if np.isnan(low) or low <= 0:  # no cell has a value, or one at step 0
        low, high = 1.0, 10.0
    return LogNorm(min(low, high / 10), high)


@dataclass(frozen=True)
class Panel:
    """A quantitative panel: its values and their annotations per cell, and what a cell without a
    value says."""

    title: str
    unit: str
    values: pd.Series
    notes: list[str]
    missing: str
    options: dict


def _solved_note(median: float, solved: int, seeds: int) -> str:
    """'52.1k' where every seed solved the task; '52.1k' over '(1/2)' where only some did."""
    if solved == 0:
        return ""
    return f"{median / 1000:.1f}k" + ("" if solved == seeds else f"\n({solved}/{seeds})")


def _panels(table: pd.DataFrame) -> list[Panel]:
    gaps = {"cmap": DIVERGING, "center": 0, "vmin": -20, "vmax": 20}
    # "3" where every seed has the same count, "2.5±0.7" where they differ
    phases = [
        f"{m:g}" if np.isnan(s) or s == 0 else f"{m:.1f}±{s:.1f}"
        for m, s in zip(table["n_phases_mean"], table["n_phases_sd"], strict=True)
    ]
    solved = table["solved_median"]
    solved_notes = [
        _solved_note(m, n, k) for m, n, k in zip(solved, table["solved"], table["seeds"], strict=True)
    ]
    return [
        Panel("phases per run (mean ± sd over seeds)", "phases", table["n_phases_mean"], phases, NO_PHASE,
              {"cmap": SEQUENTIAL, "vmin": 0, "vmax": max(3.0, table["n_phases_mean"].max())}),
        Panel("NCC plateau − 1/T", "accuracy points", 100 * table["ncc_gap_mean"],
              [f"{100 * m:+.1f}" for m in table["ncc_gap_mean"]], NO_PHASE, gaps),
        Panel(f"accuracy ≥ {SOLVED_AT:g} at (median step of the seeds that reach it)", "step (log scale)",
              solved, solved_notes, "never", {"cmap": SEQUENTIAL, "norm": _log_norm(solved)}),
        Panel("SCC plateau − multiset bound", "accuracy points", 100 * table["scc_gap_mean"],
              [f"{100 * m:+.1f}" for m in table["scc_gap_mean"]], NO_PHASE, gaps),
    ]  # fmt: skip


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """The phase sequences over the first two axes (reorder a block's axes to choose the pair), with
    the quantitative panels of the module docstring beside them; further axes and the seeds are
    pooled per cell of the diagram."""
    y, x = check_axes(axes)
    table = cell_stats(tables["runs"], [y, x])
    n_y, n_x = table[y].nunique(), table[x].nunique()
    main_width, main_height = CELL_INCHES * n_x, CELL_INCHES * n_y
    fig = plt.figure(figsize=(main_width + 2 * 0.55 * main_width + 1.5, max(4.5, main_height + 1.5)))
    spec = fig.add_gridspec(2, 3, width_ratios=[2, 1.1, 1.1])
    draw_sequences(fig.add_subplot(spec[:, 0]), table, y, x)
    for k, panel in enumerate(_panels(table)):
        frame = table[[y, x]].assign(v=panel.values.to_numpy(), note=panel.notes)
        grid = frame.pivot(index=y, columns=x, values="v").sort_index(ascending=False)
        annot = frame.pivot(index=y, columns=x, values="note").reindex_like(grid)
        _heatmap(fig.add_subplot(spec[k % 2, 1 + k // 2]), panel, grid, annot)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, table
