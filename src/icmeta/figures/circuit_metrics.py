"""Bigram, Label Attention and Chunk Example per layer (and per head) against log-step, with accuracy
and the detected phases (paper Fig. 4; per head, Fig. 9 and 17); and the label focus, the share of the
query's label attention on its most-attended label (1/N spread over the pairs, 1 on one pair)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

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
from icmeta.network.circuits import MAP_METRICS, TITLES, per_layer_columns


def _heads(metrics: pd.DataFrame) -> list[int]:
    return list(range(1, len(next(iter(per_layer_columns(metrics.columns, "bigram").values()))) + 1))


def metrics_long(part: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """step, layer, head, metric, value rows of one run (plus its acc), for plotting and the table."""
    rows = []
    for name in MAP_METRICS:
        for layer, cols in per_layer_columns(part.columns, name).items():
            for head, col in enumerate(cols, start=1):
                ident = {"metric": name, "layer": layer, "head": head}
                rows.append(part[[*axes, "seed", "step", "acc"]].assign(**ident, value=part[col].to_numpy()))
    return pd.concat(rows, ignore_index=True)


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """A row per cell and head (first seed), a column per metric; one colour per layer, accuracy
    dashed. Per-run, because seeds switch circuits at different steps."""
    metrics = positive_steps(first_seed(tables["metrics"]))
    heads = _heads(metrics)
    long = pd.concat([metrics_long(part, axes) for _, part in cells(metrics, axes)], ignore_index=True)
    layers = sorted(long["layer"].unique())
    colours = dict(zip(layers, sns.color_palette(PALETTE, len(layers) + 2)[2:], strict=True))
    # A sweep over heads mixes cells of one and two heads: a cell's rows are the heads it has, so
    # that a one-head cell shows no panel of accuracy alone.
    row_keys = [
        (label, part, h)
        for label, part in cells(long, axes)
        for h in heads
        if part.loc[part["head"] == h, "value"].notna().any()
    ]
    # Narrow panels: four side by side must keep their text readable on a page-wide image.
    fig, panels = grid(len(row_keys), len(MAP_METRICS), 2.5, 2.2, sharex=True, sharey=True)
    first_step = long["step"].min()
    for (label, part, head), row in zip(row_keys, panels, strict=True):
        phases = rows_of(tables["phases"], part, axes)
        for ax, name in zip(row, MAP_METRICS, strict=True):
            shade_phases(ax, phases, first_step)
            sel = part[(part["metric"] == name) & (part["head"] == head)]
            for layer, line in sel.groupby("layer"):
                ax.plot(line["step"], line["value"], color=colours[layer], lw=1.3, label=f"layer {layer}")
            acc = sel[sel["layer"] == layers[0]]
            ax.plot(acc["step"], acc["acc"], color="0.2", ls="--", lw=1.0, label="accuracy")
            log_steps(ax, long["step"])
            ax.set_ylim(0, 1.02)
            head_note = f", head {head}" if len(heads) > 1 else ""
            ax.set_title(f"{TITLES[name]}\n{label}{head_note}", fontsize=8)
            ax.set_ylabel("attention share\n(dashed: accuracy)")
    finish(fig, title)
    key_below(fig, panels[0, 0])
    return fig, long
