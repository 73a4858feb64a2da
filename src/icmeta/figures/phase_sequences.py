"""The phase diagram as a reader should see it first: every run's whole path, cell by cell.

A cell's seeds can take different routes (one stays on the 1/T plateau while another climbs past it),
and a run that is still climbing at the step cap has not finished its phases. A summary per cell
(modal sequence, median levels) hides both, so each cell here draws every seed's accuracy over
training: thin where it moves, thick and coloured by the behavioural circuit on each detected plateau
(the label prior and unread phases in their own colours), against the two predictions a plateau is
judged by: 1/T (the non-context circuit) and the seed's own label-multiset bound (the semi-context
circuit's ceiling). The end of each path says how the run ended: a filled dot where the convergence
stop ended it, an open triangle where it reached the step cap (still moving, or never converged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from icmeta.analysis import behaviour
from icmeta.figures.panels import positive_steps, rows_of
from icmeta.figures.style import CIRCUIT_COLOURS, UNREAD, axis_label, circuit_colour, value_label

# Inches per cell: six columns fit a README at about 830 px with every label at 7 px or more.
CELL_WIDTH, CELL_HEIGHT = 1.35, 1.0
PATH_COLOUR, PATH_WIDTH = "0.45", 0.7
PLATEAU_WIDTH = 3.0
NCC_LINE = {"color": "0.25", "ls": "--", "lw": 0.8}
BOUND_LINE = {"color": CIRCUIT_COLOURS["SCC"], "ls": ":", "lw": 0.9}
STOPPED = {"marker": "o", "ms": 4, "color": "0.1"}
AT_CAP = {"marker": ">", "ms": 4.5, "mfc": "white", "mec": "0.1", "mew": 0.9, "color": "none"}


def check_axes(axes: Sequence[str]) -> tuple[str, str]:
    """The diagram's (row, column) axes: the block's first two; further axes are pooled per cell."""
    if len(axes) < 2:
        raise ValueError(f"a phase diagram needs two axes, the experiment has {list(axes)}")
    return axes[0], axes[1]


def _symbol(axis: str) -> str:
    """'ε' for eps, 'T' for T: the first word of the axis's meaning, for 'ε = 0.1' cell labels."""
    return axis_label(axis).split(" ")[0]


def _ends(final: pd.Series) -> str:
    """'end 0.82–0.87': the range of the seeds' final accuracy, the number a reader looks for first."""
    low, high = f"{final.min():.2f}", f"{final.max():.2f}"
    return f"end {low}" if low == high else f"end {low}–{high}"


def _run_path(ax: plt.Axes, path: pd.DataFrame, phases: pd.DataFrame, run: pd.Series) -> list[dict]:
    """One run: its path, its plateaus coloured by circuit, its end marker and its own bound."""
    ax.plot(path["step"], path["acc"], color=PATH_COLOUR, lw=PATH_WIDTH, zorder=2)
    drawn = []
    for _, phase in phases.sort_values("phase").iterrows():
        span = path[path["step"].between(phase["plateau_start"], phase["plateau_end"])]
        label = (
            phase["circuit_behaviour"] if isinstance(phase["circuit_behaviour"], str) else behaviour.UNREAD
        )
        ax.plot(span["step"], span["acc"], color=circuit_colour(label), lw=PLATEAU_WIDTH,
                solid_capstyle="butt", zorder=3)  # fmt: skip
        drawn.append({"kind": "plateau", "step": phase["plateau_start"], "end_step": phase["plateau_end"],
                      "acc": phase["plateau_acc"], "circuit": label})  # fmt: skip
    end = path.iloc[-1]
    stopped = bool(run["stopped"])
    ax.plot([end["step"]], [end["acc"]], zorder=4, **(STOPPED if stopped else AT_CAP))
    ax.axhline(run["scc_prediction"], zorder=1, **BOUND_LINE)
    drawn.append({"kind": "end", "step": end["step"], "acc": end["acc"], "stopped": stopped})
    drawn.append({"kind": "bound", "acc": run["scc_prediction"]})
    return drawn


def _legend(fig: plt.Figure) -> None:
    handles = [Patch(color=c, label=n) for n, c in CIRCUIT_COLOURS.items()]
    handles.append(Patch(color=UNREAD, label=f"not measured ({behaviour.UNREAD})"))
    handles += [
        Line2D([], [], color=PATH_COLOUR, lw=PATH_WIDTH * 1.5, label="accuracy between plateaus"),
        Line2D([], [], **NCC_LINE, label="1/T"),
        Line2D([], [], **BOUND_LINE, label="seed's label-multiset bound"),
        Line2D([], [], ls="none", **STOPPED, label="stopped: converged"),
        Line2D([], [], ls="none", **AT_CAP, label="reached the step cap"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=7, frameon=False)


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Rows: the block's first axis (largest value on top); columns: its second; further axes are
    pooled into their cell. Each panel: every seed's held-out accuracy over training steps (log)."""
    y, x = check_axes(axes)
    runs, phases, curves = tables["runs"], tables["phases"], positive_steps(tables["metrics"])
    ys, xs = sorted(runs[y].unique(), reverse=True), sorted(runs[x].unique())
    size = (CELL_WIDTH * len(xs) + 1.0, CELL_HEIGHT * len(ys) + 1.6)
    fig, grid = plt.subplots(len(ys), len(xs), figsize=size, sharex=True, sharey=True, squeeze=False,
                             layout="constrained")  # fmt: skip
    plotted = []
    for (i, row_value), (j, column_value) in ((a, b) for a in enumerate(ys) for b in enumerate(xs)):
        ax = grid[i, j]
        cell = {y: row_value, x: column_value}
        mine = [t.loc[(t[y] == row_value) & (t[x] == column_value)] for t in (runs, phases, curves)]
        for k in range(len(mine[0])):
            run = mine[0].sort_values("seed").iloc[k : k + 1]
            path = rows_of(mine[2], run, axes).sort_values("step")
            drawn = _run_path(ax, path, rows_of(mine[1], run, axes), run.iloc[0])
            ids = {**cell, "seed": run["seed"].iloc[0]}
            plotted += [path[["step", "acc"]].assign(kind="path", **ids), pd.DataFrame(drawn).assign(**ids)]
        if len(mine[0]):
            ax.axhline(mine[0]["ncc_prediction"].iloc[0], zorder=1, **NCC_LINE)
            ax.text(0.97, 0.04, _ends(mine[0]["final_acc"]), transform=ax.transAxes, ha="right",
                    va="bottom", fontsize=7, color="0.2")  # fmt: skip
        ax.set_xscale("log")
        ax.set_ylim(0, 1.05)
        ax.set_yticks([0, 0.5, 1], ["0", ".5", "1"])
        ax.tick_params(labelsize=7, pad=1)
        ax.grid(False)
        if i == 0:
            ax.set_title(f"{_symbol(x)} = {value_label(column_value)}", fontsize=8)
        if j == 0:
            ax.set_ylabel(f"{_symbol(y)} = {value_label(row_value)}", fontsize=8)
        if i == len(ys) - 1:
            ax.set_xlabel("step", fontsize=7)
    _legend(fig)
    fig.suptitle(f"{title}\nheld-out accuracy per seed, rows {axis_label(y)}, columns {axis_label(x)}",
                 fontsize=9)  # fmt: skip
    return fig, pd.concat(plotted, ignore_index=True)
