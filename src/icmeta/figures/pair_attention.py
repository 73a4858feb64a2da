"""Per-pair attention against log-step: how much the query of each layer reads each (item, label)
pair, and how much each label reads its own item in layer 1, with accuracy and the detected phases.

The paper's metrics average over the N pairs; these curves show a circuit that reads one pair (the
FCC1 of the phase labels) where the averages show nothing above uniform attention."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.analysis.phases import pair_count
from icmeta.figures.panels import (
    cells,
    finish,
    first_seed,
    grid,
    log_steps,
    positive_steps,
    rows_of,
    shade_phases,
)
from icmeta.figures.style import PALETTE
from icmeta.network.circuits import layer_means


def _long(part: pd.DataFrame, axes: Sequence[str], n_pairs: int) -> pd.DataFrame:
    """step, panel, pair, value rows of one run (head means), plus its acc."""
    ident = part[[*axes, "seed", "step", "acc"]]
    rows = []
    for k in range(1, n_pairs + 1):
        query = layer_means(part, f"q_label{k}") + layer_means(part, f"q_item{k}")
        for layer in query.columns:
            rows.append(ident.assign(panel=f"layer {layer}: query → pair k", pair=k, value=query[layer]))
        chunk = layer_means(part, f"label_item{k}")[1]
        rows.append(ident.assign(panel="layer 1: label k → own item", pair=k, value=chunk))
    return pd.concat(rows, ignore_index=True)


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """A row per cell (first seed), a column per layer's query and one for layer-1 labels; one colour
    per pair k, accuracy dashed. Head means; per run, because seeds may read different pairs."""
    metrics = positive_steps(first_seed(tables["metrics"]))
    n_pairs = pair_count(metrics.columns)
    if not n_pairs:
        raise ValueError("the metrics table has no per-pair columns (q_label1_L1H1, ...): re-run training")
    long = pd.concat([_long(part, axes, n_pairs) for _, part in cells(metrics, axes)], ignore_index=True)
    panel_names = list(dict.fromkeys(long["panel"]))
    colours = sns.color_palette(PALETTE, n_pairs)
    row_keys = list(cells(long, axes))
    fig, panels = grid(len(row_keys), len(panel_names), 3.6, 2.6, sharex=True, sharey=True)
    for (label, part), row in zip(row_keys, panels, strict=True):
        phases = rows_of(tables["phases"], part, axes)
        for ax, name in zip(row, panel_names, strict=True):
            shade_phases(ax, phases)
            sel = part[part["panel"] == name]
            for k, line in sel.groupby("pair"):
                ax.plot(line["step"], line["value"], color=colours[k - 1], lw=1.3, label=f"pair {k}")
            acc = sel[sel["pair"] == 1]
            ax.plot(acc["step"], acc["acc"], color="0.2", ls="--", lw=1.0, label="accuracy")
            log_steps(ax)
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{name}\n{label}", fontsize=8)
        # A share of all the query's attention (not of its attention to pairs), beside accuracy.
        row[0].set_ylabel("share of attention\n(dashed: accuracy)")
    panels[0, 0].legend(loc="upper left", fontsize=7, frameon=False, ncol=2)
    finish(fig, title)
    return fig, long
