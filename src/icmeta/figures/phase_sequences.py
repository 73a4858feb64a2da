"""Each cell's phase sequence over two axes of an experiment: the phase diagram's main panel alone.

Per cell, the circuits that the phases use in order (e.g. NCC → SCC → FCC) as coloured blocks, each
labelled with its plateau accuracy (median over the seeds that share the sequence); how many seeds went
through exactly that sequence and what the others went through; and the range of the seeds' final
accuracy (a cell that ended short of 100 % has not finished its phases within the step budget). It is
sized to be read at the width of a page, where the full phase diagram's side panels would not be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch, Rectangle

from icmeta.analysis import behaviour
from icmeta.block.cells import NO_PHASE, arrows, cell_stats
from icmeta.figures.style import CIRCUIT_COLOURS, UNREAD, axis_label, circuit_colour, value_label

UNREAD_MARK = "?"  # what a block says for a phase whose contrasts were not measured
# Inches per cell: large enough for three labelled blocks, small enough that the text stays readable
# when a figure of six by six cells is shown at page width.
CELL_INCHES = 1.25


def _short(circuit: str) -> str:
    """A label that fits a block: 'prior' for the label prior."""
    return circuit.replace("label prior", "prior")


def check_axes(axes: Sequence[str]) -> tuple[str, str]:
    """The diagram's (row, column) axes: the block's first two; further axes are pooled per cell."""
    if len(axes) < 2:
        raise ValueError(f"a phase diagram needs two axes, the experiment has {list(axes)}")
    return axes[0], axes[1]


def draw_sequences(ax: plt.Axes, table: pd.DataFrame, y: str, x: str) -> None:
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
            colour = circuit_colour(circuit)
            left = j - 0.45 + k * width
            ax.add_patch(Rectangle((left, i - 0.4), width, 0.52, color=colour, lw=1, ec="white"))
            ink = "0.15" if colour == UNREAD else "white"
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
            ax.text(j, i + 0.43, arrows(row["others"]), ha="center", va="center", fontsize=6, color="0.35")
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
    handles = [Patch(color=c, label=n) for n, c in CIRCUIT_COLOURS.items()]
    handles.append(Patch(color=UNREAD, label=f"not measured ({behaviour.UNREAD})"))
    ax.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=6, fontsize=9, frameon=False
    )
    ax.set_title(
        "phase sequence per cell: circuit by behaviour and plateau accuracy (median over the seeds that"
        " share it)",
        fontsize=10,
        pad=26,
    )


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """The phase sequences over the first two axes (reorder a block's axes to choose the pair); further
    axes and the seeds are pooled per cell."""
    y, x = check_axes(axes)
    table = cell_stats(tables["runs"], [y, x])
    n_y, n_x = table[y].nunique(), table[x].nunique()
    fig, ax = plt.subplots(figsize=(CELL_INCHES * n_x + 1.2, CELL_INCHES * n_y + 1.6))
    draw_sequences(ax, table, y, x)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, table
