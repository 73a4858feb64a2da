"""Attention maps of every layer and head, averaged over each detected phase's plateau and at the
last evaluation (paper Fig. 2 right, 8, 12, 19b, 23). Each panel's title names the (item, label) pair
the query attends most and that pair's share of the query's attention on all pairs: 1/N when it
reads every pair alike, near 100 % when it reads one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from icmeta.figures.panels import cells, first_seed, grid
from icmeta.figures.style import SEQUENTIAL, attention_heatmap


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


def map_matrix(rows: pd.DataFrame, size: int) -> pd.DataFrame:
    """One attention map as a size x size matrix (rows attend to columns) from its long rows (row, col,
    weight); rows of several heads are averaged."""
    mean = rows.groupby(["row", "col"])["weight"].mean().reset_index()
    return mean.pivot(index="row", columns="col", values="weight").reindex(range(size))


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """A row per cell and phase (first seed), a column per layer and head; rows attend to columns."""
    maps = first_seed(tables["phase_maps"])
    columns = maps[["layer", "head"]].drop_duplicates().sort_values(["layer", "head"]).to_numpy().tolist()
    row_keys = [(label, when, part[part["when"] == when])
                for label, part in cells(maps, axes) for when in part["when"].unique()]  # fmt: skip
    size = int(maps["row"].max()) + 1
    names = token_names(size)
    cell = max(1.6, 0.28 * size)
    # Constrained layout keeps the square maps, their titles, the figure title and the colour bar apart.
    fig, panels = grid(len(row_keys), len(columns), cell + 0.4, cell + 0.3, layout="constrained")
    for (label, when, part), row in zip(row_keys, panels, strict=True):
        for ax, (layer, head) in zip(row, columns, strict=True):
            sel = part[(part["layer"] == layer) & (part["head"] == head)]
            if sel.empty:
                if head <= part["head"].max():
                    raise ValueError(f"{label}, {when}: no attention map of layer {layer} head {head}")
                ax.axis("off")  # a cell with fewer heads than the block's widest (the heads sweep)
                continue
            matrix = map_matrix(sel, size)
            attention_heatmap(ax, matrix, names)
            ax.tick_params(labelsize=5 if size > 9 else 6)
            ax.set_xlabel("")
            ax.set_ylabel(f"{label}\n{when}" if (layer, head) == tuple(columns[0]) else "", fontsize=7)
            head_note = f" head {head}" if len(set(h for _, h in columns)) > 1 else ""
            pair, share = query_pair_reading(matrix.to_numpy())
            ax.set_title(
                f"layer {layer}{head_note}\nq → pair {pair}: {share:.0%} of pair attention", fontsize=7
            )
    scale = plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=SEQUENTIAL)
    fig.colorbar(
        scale, ax=panels, shrink=min(1.0, 3 / len(row_keys)), label="attention weight (row → column)"
    )
    fig.suptitle(title)
    return fig, maps
