"""Attention maps of every layer and head, averaged over each detected phase's plateau and at the
last evaluation (paper Fig. 2 right, 8, 12, 19b, 23). Each panel's title names the (item, label) pair
the query attends most and that pair's share of the query's attention on all pairs (near 100 % when
it reads one), or says that the query spreads its attention over the pairs when no pair stands out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from icmeta.figures.panels import cells, first_seed
from icmeta.figures.style import SEQUENTIAL, attention_heatmap

# A figure of maps is at most PAGE_INCH wide (plus its colour bar): saved at 150 dpi and shown 830
# px wide, its 6-point tick labels then stay above the 7 px a reader needs. Maps wrap to stay within.
PAGE_INCH = 8.0
MAP_INCH = 1.95  # one map with its tick labels, wide enough for its one-line reading
TITLE_INCH = 0.45  # a map's two-line title
MAX_TICKS = 12  # tick labels per axis; a longer context labels every few items (and q)
NO_PAIRS = 0.01  # below this share of its attention on pairs the query reads no pair
# A pair the query reads holds at least this multiple of the uniform share 1/N of its pair attention;
# below it, "q → pair 1: 26 %" of four pairs would name a pair the query does not single out.
STANDS_OUT = 1.5
BAR_INCH = 0.9  # the colour bar's column

# One block of the figure: its title (cell, seed · when) and its maps, (layer, head, long rows) each.
Group = tuple[str, list[tuple[int, int, pd.DataFrame]]]


def token_names(size: int) -> list[str]:
    """x1, l1, ..., xN, lN, q for a (2N+1)-token sequence."""
    n = (size - 1) // 2
    return [f"{kind}{k}" for k in range(1, n + 1) for kind in ("x", "ℓ")] + ["q"]


def query_pair_reading(matrix: np.ndarray) -> tuple[int, float]:
    """The pair k (1-based) the query row attends most, p[q, x_k] + p[q, l_k], and its share of the
    query's attention on all pairs."""
    pairs = matrix[-1, :-1].reshape(-1, 2).sum(1)
    top = int(np.argmax(pairs))
    return top + 1, float(pairs[top] / pairs.sum())


def reading(matrix: np.ndarray, unit: str = " of pair attention") -> str:
    """The query's reading as a title. A share of pair attention means nothing where the query puts
    (almost) none on pairs, as a layer attending only to itself does, or where its row has gaps; the
    title then says so instead of printing a share of nothing."""
    row = matrix[-1, :-1]
    if np.isnan(row).any():
        return "q → pairs: row q not recorded"
    if row.sum() < NO_PAIRS:
        return f"q reads no pair (<{NO_PAIRS:.0%} on pairs)"
    pair, share = query_pair_reading(matrix)
    n_pairs = len(row) // 2
    if share < STANDS_OUT / n_pairs:
        return f"q spreads over {n_pairs} pairs (top {share:.0%})"
    return f"q → pair {pair}: {share:.0%}{unit}"


def map_matrix(rows: pd.DataFrame, size: int) -> pd.DataFrame:
    """One attention map as a size x size matrix (rows attend to columns) from its long rows (row, col,
    weight); rows of several heads are averaged."""
    mean = rows.groupby(["row", "col"])["weight"].mean().reset_index()
    return mean.pivot(index="row", columns="col", values="weight").reindex(range(size))


def _thin_ticks(ax: plt.Axes, names: list[str]) -> None:
    """Label every few items and the query of a long context: 65 labels at a readable size would not
    fit a map's side."""
    if len(names) <= MAX_TICKS:
        return
    step = 2 * -(-len(names) // (2 * MAX_TICKS))
    keep = [*range(0, len(names) - 1, step), len(names) - 1]
    ax.set_xticks(keep, [names[i] for i in keep], rotation=90)
    ax.set_yticks(keep, [names[i] for i in keep])


def _groups(maps: pd.DataFrame, axes: Sequence[str]) -> list[Group]:
    """(cell, seed · when, [(layer, head, rows)]) per cell and phase, with only the heads the cell has: the
    heads sweep puts cells of one and of several heads in one block."""
    layers = sorted(maps["layer"].unique())
    out = []
    for label, part in cells(maps, axes):
        for when in part["when"].unique():
            mine = part[part["when"] == when]
            found = []
            for layer in layers:
                for head in range(1, int(mine["head"].max()) + 1):
                    sel = mine[(mine["layer"] == layer) & (mine["head"] == head)]
                    if sel.empty:
                        raise ValueError(f"{label}, {when}: no attention map of layer {layer} head {head}")
                    found.append((int(layer), head, sel))
            out.append((f"{label}, seed {mine['seed'].iloc[0]} · {when}", found))
    return out


def _draw_map(ax: plt.Axes, sel: pd.DataFrame, title: str) -> None:
    size = int(sel["row"].max()) + 1  # per map: a block over the context length N has several sizes
    matrix = map_matrix(sel, size)
    names = token_names(size)
    attention_heatmap(ax, matrix, names)
    _thin_ticks(ax, names)
    ax.tick_params(labelsize=6, length=0)
    ax.set_title(f"{title}\n{reading(matrix.to_numpy())}", fontsize=7)


def _pack(groups: list[Group], per_row: int) -> list[list[Group]]:
    """Blocks in order, each on the current row of the page while its maps fit there."""
    rows: list[list[Group]] = []
    used = per_row
    for group in groups:
        width = min(per_row, len(group[1]))
        if used + width > per_row:
            rows.append([])
            used = 0
        rows[-1].append(group)
        used += width
    return rows


def _colour_bar(bar: plt.Figure, map_rows: int) -> None:
    """One bar for every map (all on 0..1), as tall as three rows of maps at the top: a bar the
    height of a long figure would sit far from most of its maps."""
    spec = bar.add_gridspec(max(3, map_rows), 1)
    cax = bar.add_subplot(spec[: min(3, map_rows), 0], label="<colorbar>")  # as matplotlib names it
    scale = plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=SEQUENTIAL)
    bar.colorbar(scale, cax=cax, label="attention weight (row → column)")


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """A block of maps per cell and phase (first seed), titled by both, wrapping across the page;
    within a block one map per layer and head, in that order; rows attend to columns."""
    maps = first_seed(tables["phase_maps"])
    per_row = max(1, int(PAGE_INCH // MAP_INCH))
    rows = _pack(_groups(maps, axes), per_row)
    widths = [[min(per_row, len(found)) for _, found in row] for row in rows]  # maps across a block
    heights = [max(-(-len(found) // per_row) for _, found in row) for row in rows]  # rows of maps
    across = max(map(sum, widths))  # maps across the page
    several_heads = maps["head"].nunique() > 1
    fig = plt.figure(
        figsize=(across * MAP_INCH + BAR_INCH, sum(h * (MAP_INCH + TITLE_INCH) + 0.3 for h in heights)),
        layout="constrained",  # keeps the square maps, their titles and the colour bar apart
    )
    page, bar = fig.subfigures(1, 2, width_ratios=[across * MAP_INCH, BAR_INCH])
    lines = page.subfigures(len(rows), 1, height_ratios=heights, squeeze=False)[:, 0]
    for row, ws, height, line in zip(rows, widths, heights, lines, strict=True):
        spare = [across - sum(ws)] if sum(ws) < across else []  # keeps every map the same size
        subs = line.subfigures(1, len(ws) + len(spare), width_ratios=ws + spare, squeeze=False)[0]
        for (label, found), width, sub in zip(row, ws, subs, strict=False):
            sub.suptitle(label, fontsize=8, fontweight="bold")
            spec = sub.add_gridspec(height, width)
            for i, (layer, head, sel) in enumerate(found):
                ax = sub.add_subplot(spec[i // width, i % width])
                _draw_map(ax, sel, f"layer {layer}" + (f" head {head}" if several_heads else ""))
    _colour_bar(bar, sum(heights))
    fig.suptitle(title)
    return fig, maps
