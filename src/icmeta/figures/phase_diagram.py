"""Phase diagram over two axes of an experiment, seeds aggregated.

Panels: how many phases a run goes through; in which fraction of seeds each Tab.-1 circuit appears as
a phase; the step at which each circuit's phase begins (seed median, log10); the NCC and SCC plateaus'
accuracy against their predictions (1/T; the label-multiset bound of `icmeta.theory`); and, for
comparison, the number of transitions the paper's ΔAcc rule reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from icmeta.figures.style import SEQUENTIAL

CIRCUITS = ("ncc", "scc", "fcc")
DIVERGING = "vlag"  # blue-white-red, distinguishable with the common colour-vision deficiencies


def _cell_stats(runs: pd.DataFrame, y: str, x: str) -> pd.DataFrame:
    """One row per grid cell: the quantities of every panel, with their seed spread."""
    runs = runs.copy()
    runs["ncc_gap"] = runs["ncc_acc"] - runs["ncc_prediction"]
    runs["scc_gap"] = runs["scc_acc"] - runs["scc_prediction"]
    agg: dict[str, tuple[str, object]] = {
        "seeds": ("seed", "count"),
        "n_phases_mean": ("n_phases", "mean"),
        "n_phases_sd": ("n_phases", "std"),
        "ncc_gap_mean": ("ncc_gap", "mean"),
        "ncc_gap_sd": ("ncc_gap", "std"),
        "scc_gap_mean": ("scc_gap", "mean"),
        "scc_gap_sd": ("scc_gap", "std"),
        "transitions_mean": ("n_transitions", "mean"),
    }
    for c in CIRCUITS:
        agg[f"{c}_present"] = (f"{c}_onset", lambda s: float(s.notna().mean()))
        agg[f"{c}_onset_median"] = (f"{c}_onset", "median")
        agg[f"{c}_onset_iqr"] = (f"{c}_onset", lambda s: float(s.quantile(0.75) - s.quantile(0.25)))
    return runs.groupby([y, x]).agg(**agg).reset_index()


def _heatmap(ax, table, y, x, value, title, notes=None, fmt=".2f", **kw) -> None:
    """One panel; `notes` names a column of ready-made annotations, else values are printed."""
    grid = table.pivot(index=y, columns=x, values=value).sort_index(ascending=False)
    if notes:
        annot, fmt = table.pivot(index=y, columns=x, values=notes).reindex_like(grid), ""
    else:
        annot = True
    sns.heatmap(grid, annot=annot, fmt=fmt, ax=ax, cbar=False, annot_kws={"fontsize": 6}, **kw)
    ax.set_title(title, fontsize=9)


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """The panels of the module docstring over the first two axes (reorder a block's axes to choose
    the pair); further axes and the seeds are pooled per cell of the diagram."""
    runs = tables["runs"]
    if len(axes) < 2:
        raise ValueError(f"a phase diagram needs two axes, the experiment has {list(axes)}")
    y, x = axes[0], axes[1]
    table = _cell_stats(runs, y, x)
    table["n_phases_note"] = [
        f"{m:.1f}\n±{0 if np.isnan(s) else s:.1f}"
        for m, s in zip(table["n_phases_mean"], table["n_phases_sd"], strict=True)
    ]
    for c in ("ncc", "scc"):
        table[f"{c}_gap_note"] = ["" if np.isnan(m) else f"{m:+.2f}" for m in table[f"{c}_gap_mean"]]
    fig, grid = plt.subplots(2, 5, figsize=(5 * 3.3, 2 * 3.0))
    top = max(3.0, float(table["n_phases_mean"].max()))
    _heatmap(grid[0, 0], table, y, x, "n_phases_mean", "(a) number of phases", "n_phases_note",
             cmap=SEQUENTIAL, vmin=0, vmax=top)  # fmt: skip
    for i, c in enumerate(CIRCUITS):
        name = c.upper()
        _heatmap(grid[0, i + 1], table, y, x, f"{c}_present", f"(b) {name} phase: fraction of seeds",
                 cmap=SEQUENTIAL, vmin=0, vmax=1)  # fmt: skip
        onset = table.assign(v=np.log10(table[f"{c}_onset_median"].clip(lower=1)))
        _heatmap(grid[1, i + 1], onset, y, x, "v", f"(c) {name} onset, log10 step (median)",
                 fmt=".1f", cmap=SEQUENTIAL, vmin=2, vmax=6)  # fmt: skip
    _heatmap(grid[1, 0], table, y, x, "transitions_mean", "(a') paper ΔAcc rule: transitions",
             fmt=".1f", cmap=SEQUENTIAL, vmin=0)  # fmt: skip
    _heatmap(grid[0, 4], table, y, x, "ncc_gap_mean", "(d) NCC plateau − 1/T", "ncc_gap_note",
             cmap=DIVERGING, center=0, vmin=-0.2, vmax=0.2)  # fmt: skip
    _heatmap(grid[1, 4], table, y, x, "scc_gap_mean", "(d) SCC plateau − multiset bound", "scc_gap_note",
             cmap=DIVERGING, center=0, vmin=-0.2, vmax=0.2)  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout()
    return fig, table.drop(columns=["n_phases_note", "ncc_gap_note", "scc_gap_note"])
