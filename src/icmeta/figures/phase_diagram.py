"""Phase diagram over two axes of an experiment, seeds aggregated.

The main panel gives each cell's phase sequence, the circuits its phases use in order (e.g.
NCC → SCC → FCC) as coloured blocks labelled with their plateau accuracy (median over the seeds
that share the sequence), with how many seeds went through exactly that sequence, what the others
went through, and the range of the seeds' final accuracy (a cell that ended short of 100 % has not
finished its phases within the step budget). Beside it: the number of phases per run; the NCC and SCC
plateaus' accuracy against their predictions (1/T; the label-multiset bound of `icmeta.theory`), in
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
from matplotlib.patches import Patch, Rectangle

from icmeta.cells import NO_PHASE, SOLVED_AT, arrows, cell_stats
from icmeta.figures.style import CIRCUIT_COLOURS, SEQUENTIAL, axis_label, value_label

DIVERGING = "vlag"  # blue-white-red, distinguishable with the common colour-vision deficiencies
UNLABELLED_MARK = "?"  # what an unlabelled phase's block says: the word does not fit a block


def _short(sequence: str) -> str:
    return sequence.replace("unlabelled", UNLABELLED_MARK)


def _sequences(ax: plt.Axes, table: pd.DataFrame, y: str, x: str) -> None:
    """The main panel: per cell, its modal phase sequence as coloured blocks that name their circuit
    and plateau accuracy, with how many seeds agree and what the others went through."""
    ys = sorted(table[y].unique(), reverse=True)
    xs = sorted(table[x].unique())
    for _, row in table.iterrows():
        i, j = ys.index(row[y]), xs.index(row[x])
        phases = [] if row["sequence"] == NO_PHASE else row["sequence"].split(">")
        width = 0.9 / max(1, len(phases))
        size = 9 if len(phases) <= 3 else 7  # four or more blocks are narrower
        for k, circuit in enumerate(phases):
            colour = CIRCUIT_COLOURS.get(circuit, CIRCUIT_COLOURS["unlabelled"])
            left = j - 0.45 + k * width
            ax.add_patch(Rectangle((left, i - 0.4), width, 0.52, color=colour, lw=1, ec="white"))
            ink = "0.15" if circuit not in CIRCUIT_COLOURS or circuit == "unlabelled" else "white"
            ax.text(left + width / 2, i - 0.26, _short(circuit), ha="center", va="center", fontsize=size - 1,
                    fontweight="bold", color=ink)  # fmt: skip
            level = row.get(f"level{k + 1}", np.nan)
            if level == level:  # not NaN: the phase's plateau accuracy, median over the agreeing seeds
                ax.text(left + width / 2, i - 0.04, f"{level:.2f}", ha="center", va="center", fontsize=size,
                        color=ink)  # fmt: skip
        if not phases:
            ax.text(j, i - 0.14, "no phase", ha="center", va="center", fontsize=9)
        ax.text(j, i + 0.2, f"{row['agree']}/{row['seeds']} seeds", ha="center", va="center", fontsize=8,
                color="0.2")  # fmt: skip
        # where the runs ended: a cell whose runs stopped short of 100 % did not finish its phases
        low, high = f"{row['final_min']:.2f}", f"{row['final_max']:.2f}"
        ax.text(j, i + 0.32, f"final {low}" if low == high else f"final {low}–{high}", ha="center",
                va="center", fontsize=7, color="0.2")  # fmt: skip
        if row["others"]:
            ax.text(
                j, i + 0.43, arrows(_short(row["others"])), ha="center", va="center", fontsize=6, color="0.35"
            )
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(len(ys) - 0.5, -0.5)
    ax.set_xticks(range(len(xs)), [value_label(v) for v in xs])
    ax.set_yticks(range(len(ys)), [value_label(v) for v in ys])
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.grid(False)
    for edge in np.arange(-0.5, len(xs), 1.0):
        ax.axvline(edge, color="0.85", lw=0.8)
    for edge in np.arange(-0.5, len(ys), 1.0):
        ax.axhline(edge, color="0.85", lw=0.8)
    handles = [Patch(color=c, label=n if n != "unlabelled" else f"unlabelled ({UNLABELLED_MARK})")
               for n, c in CIRCUIT_COLOURS.items()]  # fmt: skip
    ax.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=5, fontsize=9, frameon=False
    )
    ax.set_title(
        "phase sequence per cell: circuit and plateau accuracy (median over the seeds that share it)",
        fontsize=10,
        pad=26,
    )


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
    runs = tables["runs"]
    if len(axes) < 2:
        raise ValueError(f"a phase diagram needs two axes, the experiment has {list(axes)}")
    y, x = axes[0], axes[1]
    table = cell_stats(runs, [y, x])
    n_y, n_x = table[y].nunique(), table[x].nunique()
    # Inches per cell of the main panel: large enough for three labelled blocks, small enough that the
    # figure's text stays readable when the whole figure is shown at page width.
    cell = 1.25
    main_width, main_height = cell * n_x, cell * n_y
    fig = plt.figure(figsize=(main_width + 2 * 0.55 * main_width + 1.5, max(4.5, main_height + 1.5)))
    spec = fig.add_gridspec(2, 3, width_ratios=[2, 1.1, 1.1])
    _sequences(fig.add_subplot(spec[:, 0]), table, y, x)
    for k, panel in enumerate(_panels(table)):
        frame = table[[y, x]].assign(v=panel.values.to_numpy(), note=panel.notes)
        grid = frame.pivot(index=y, columns=x, values="v").sort_index(ascending=False)
        annot = frame.pivot(index=y, columns=x, values="note").reindex_like(grid)
        _heatmap(fig.add_subplot(spec[k % 2, 1 + k // 2]), panel, grid, annot)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, table
