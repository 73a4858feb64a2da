"""Per-pair attention against log-step: each (item, label) pair's share of the query's attention on
all pairs, per layer (the share the attention maps quote), and how much of each label's attention goes
to its own item in layer 1, with accuracy and the detected phases.

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
    key_below,
    log_steps,
    positive_steps,
    rows_of,
    shade_phases,
)
from icmeta.figures.style import PALETTE
from icmeta.network.circuits import layer_means

QUERY_PANEL = "layer {layer}: pair k's share of q's pair attention"
LABEL_PANEL = "layer 1: ℓk's attention on its own item xk"
Y_LABELS = {
    "query": "pair k's share of the\nquery's attention on pairs",
    LABEL_PANEL: "ℓk's attention on xk\n(share of all ℓk's)",
}


def _long(part: pd.DataFrame, axes: Sequence[str], n_pairs: int) -> pd.DataFrame:
    """step, panel, pair, value rows of one run, plus its acc. The query's value is pair k's share of
    its attention on all pairs, p[q, x_k] + p[q, l_k] over the same sum over every k (head means
    first): the share the attention maps quote, 1/N when every pair is read alike. A layer whose
    query cannot see the pairs (a restricted network) has no share (NaN, not drawn)."""
    ident = part[[*axes, "seed", "step", "acc"]]
    query = [
        layer_means(part, f"q_label{k}") + layer_means(part, f"q_item{k}") for k in range(1, n_pairs + 1)
    ]
    total = sum(query)
    rows = []
    for k, on_pair in enumerate(query, start=1):
        share = on_pair / total.where(total > 0)
        for layer in share.columns:
            rows.append(ident.assign(panel=QUERY_PANEL.format(layer=layer), pair=k, value=share[layer]))
        chunk = layer_means(part, f"label_item{k}")[1]
        rows.append(ident.assign(panel=LABEL_PANEL, pair=k, value=chunk))
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
    fig, panels = grid(len(row_keys), len(panel_names), 3.2, 2.4, sharex=True)
    for row in panels:  # the query panels share one y label (`finish`); the labels' panel has its own
        for ax in row[1 : panel_names.index(LABEL_PANEL)]:
            ax.sharey(row[0])
    for (label, part), row in zip(row_keys, panels, strict=True):
        phases = rows_of(tables["phases"], part, axes)
        for ax, name in zip(row, panel_names, strict=True):
            shade_phases(ax, phases, long["step"].min())
            sel = part[part["panel"] == name]
            for k, line in sel.groupby("pair"):
                ax.plot(line["step"], line["value"], color=colours[k - 1], lw=1.3, label=f"pair {k}")
            acc = sel[sel["pair"] == 1]
            ax.plot(acc["step"], acc["acc"], color="0.2", ls="--", lw=1.0, label="accuracy")
            if name != LABEL_PANEL:
                ax.axhline(1 / n_pairs, color="0.5", ls=":", lw=1.0, label="1/N: every pair alike")
            log_steps(ax, long["step"])
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{name}\n{label}", fontsize=7.5)
            ax.set_ylabel(Y_LABELS.get(name, Y_LABELS["query"]))
    finish(fig, title)
    key_below(fig, panels[0, 0])
    return fig, long
