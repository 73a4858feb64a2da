"""The shared look of every figure, and how figures are written (PNG + PDF + their source table)."""

from __future__ import annotations

import numbers
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: cluster nodes and CI have no display

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.io import atomic_path, write_table

PALETTE = "colorblind"
SEQUENTIAL = "viridis"  # perceptually uniform and colour-blind safe
# One colour per behavioural circuit label (`icmeta.analysis.behaviour`), the same in every figure
# (colour-blind palette); a phase whose contrasts were not measured is grey (UNREAD).
_CB = sns.color_palette(PALETTE)
CIRCUIT_COLOURS = {"label prior": _CB[4], "NCC": _CB[1], "SCC": _CB[0], "FCC": _CB[2], "mixed": _CB[5]}
UNREAD = (0.8, 0.8, 0.8)


def circuit_colour(label: str) -> tuple[float, float, float]:
    """The colour of a behavioural label; an FCC's pairs ('FCC[1]') do not change it. An unread
    label (empty, or NaN as a CSV gives it back) is grey."""
    return CIRCUIT_COLOURS.get(label.split("[")[0], UNREAD) if isinstance(label, str) else UNREAD


# What a config axis name means, for axis labels; a name without an entry is shown as it is.
AXIS_MEANINGS = {
    "T": "T (tasks)",
    "eps": "ε (within-class item noise)",
    "K": "K (classes)",
    "L": "L (labels)",
    "N": "N (context pairs)",
    "alpha": "α (class Zipf exponent)",
    "beta": "β (task Zipf exponent)",
    "heads": "heads per layer",
    "layers": "layers",
}


def axis_label(name: str) -> str:
    return AXIS_MEANINGS.get(name, name)


def value_label(value: object) -> str:
    """An axis value as a tick label: 0.1 not 0.10000000000000001, 1 not 1.0, text as it is."""
    return f"{value:g}" if isinstance(value, numbers.Real) else str(value)


def set_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.1)


def attention_heatmap(ax: plt.Axes, matrix: pd.DataFrame, names: list[str]) -> None:
    """A square attention map (rows attend to columns, first token top left) on a 0-1 colour scale.

    Drawn with `imshow` rather than `seaborn.heatmap`, which draws the whole figure once per map to
    decide whether to rotate its tick labels: quadratic in the number of maps (a 16-map figure took
    20 s). The column labels are always vertical instead."""
    ax.imshow(
        matrix.to_numpy(dtype=float), cmap=SEQUENTIAL, vmin=0, vmax=1, aspect="equal", interpolation="nearest"
    )
    ticks = range(len(names))
    ax.set_xticks(ticks, names, rotation=90)
    ax.set_yticks(ticks, names)
    ax.grid(False)


def save_figure(
    fig: plt.Figure, table: pd.DataFrame, png: str | Path, pdf: str | Path, csv: str | Path
) -> None:
    """Write the figure (PNG, PDF) and its source table atomically, then close the figure."""
    fit_title(fig)
    for path in (png, pdf):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix[1:], dpi=150, bbox_inches="tight")
    write_table(table, csv)
    plt.close(fig)


def fit_title(fig: plt.Figure) -> None:
    """Wrap the figure's title onto more lines where it is wider than the figure, and set it above
    the panels.

    A block's description is its figures' title. Saved with a tight box, a title wider than the
    panels widens the image, and shown at page width every text in it shrinks: the restricted
    networks' one-panel figure came out three times as wide as its panel. Set just above the
    panels, the wrapped lines cannot reach into them whatever their number.
    """
    title = fig._suptitle  # matplotlib keeps the suptitle here and offers no getter
    if title is None or not title.get_text().strip():
        return
    renderer = fig.canvas.get_renderer()
    if title.get_window_extent(renderer).width <= fig.bbox.width:
        return
    lines = title.get_text().splitlines()  # a figure's own second line stays a line of its own
    chars = max(map(len, lines))
    while chars > 20 and title.get_window_extent(renderer).width > fig.bbox.width:
        chars = int(chars * 0.9)
        title.set_text("\n".join(textwrap.fill(line, chars) for line in lines))
    title.set_visible(False)
    top = fig.get_tightbbox(renderer).y1 / fig.get_figheight()  # the panels' top, the title aside
    title.set_visible(True)
    title.set_y(top + 0.01)
    title.set_verticalalignment("bottom")
