"""The phase diagram's numbers: per cell of two axes, seeds pooled, what the runs' paths show.

Four panels, each a heatmap over the cells: where the runs ended (median final accuracy, and how many
reached the step cap instead of being stopped by the convergence rule, so that a censored cell is
never read as a finished one); the NCC plateau against 1/T; when the seeds solved the task; and the
SCC plateau against each run's own label-multiset bound (`icmeta.task.theory`), with how many runs had
one. Cells where no run had a quantity say so ("none", "never") instead of staying blank. The paths
themselves are the `phase_sequences` figure.
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
from icmeta.figures.phase_sequences import check_axes
from icmeta.figures.style import SEQUENTIAL, axis_label, value_label

CELL_INCHES = 0.62  # per heatmap cell: two panels side by side fit a page at 7 px
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


def _share(part: int, whole: int) -> str:
    """'' where every run counts, '\n(k/n)' where only some do."""
    return "" if part == whole else f"\n({part}/{whole})"


def _panels(table: pd.DataFrame) -> list[Panel]:
    gaps = {"cmap": DIVERGING, "center": 0, "vmin": -20, "vmax": 20}
    seeds = table["seeds"]
    final = [
        f"{m:.2f}" + ("" if capped == 0 else f"\n{capped}/{n} at cap")
        for m, capped, n in zip(table["final_median"], table["at_cap"], seeds, strict=True)
    ]
    solved = table["solved_median"]
    solved_notes = [_solved_note(m, k, n) for m, k, n in zip(solved, table["solved"], seeds, strict=True)]

    def gap_notes(circuit: str) -> list[str]:
        means, counts = table[f"{circuit}_gap_mean"], table[f"{circuit}_gap_runs"]
        return [
            f"{100 * m:+.1f}" + _share(k, n) if k else ""
            for m, k, n in zip(means, counts, seeds, strict=True)
        ]

    return [
        Panel("final accuracy (seed median)", "accuracy", table["final_median"], final, "none",
              {"cmap": SEQUENTIAL, "vmin": 0, "vmax": 1}),
        Panel(f"step at accuracy ≥ {SOLVED_AT:g} (median)", "step (log scale)",
              solved, solved_notes, "never", {"cmap": SEQUENTIAL, "norm": _log_norm(solved)}),
        Panel("NCC plateau − 1/T", "accuracy points", 100 * table["ncc_gap_mean"],
              gap_notes("ncc"), NO_PHASE, gaps),
        Panel("SCC plateau − the run's bound", "accuracy points",
              100 * table["scc_gap_mean"], gap_notes("scc"), NO_PHASE, gaps),
    ]  # fmt: skip


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """The four panels of the module docstring over the first two axes (reorder a block's axes to
    choose the pair); further axes and the seeds are pooled per cell."""
    y, x = check_axes(axes)
    table = cell_stats(tables["runs"], [y, x])
    n_y, n_x = table[y].nunique(), table[x].nunique()
    size = (max(7.0, 2 * CELL_INCHES * n_x + 3.4), 2 * CELL_INCHES * n_y + 2.2)
    fig, grid = plt.subplots(2, 2, figsize=size, layout="constrained")
    for ax, panel in zip(grid.flat, _panels(table), strict=True):
        frame = table[[y, x]].assign(v=panel.values.to_numpy(), note=panel.notes)
        values = frame.pivot(index=y, columns=x, values="v").sort_index(ascending=False)
        notes = frame.pivot(index=y, columns=x, values="note").reindex_like(values)
        _heatmap(ax, panel, values, notes)
    fig.suptitle(title)
    return fig, table
