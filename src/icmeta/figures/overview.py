"""A setting at a glance, as the paper's Fig. 2 and 4 tell it together: accuracy with its phases
shaded, what each layer's attention does meanwhile (Tab. 2's metrics), and the attention maps on each
phase's plateau. The maps are the evidence for the circuit names; the metrics show when they change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.attention_maps import map_matrix, query_pair_reading, token_names
from icmeta.figures.circuit_metrics import metrics_long
from icmeta.figures.panels import (
    cells,
    first_seed,
    log_steps,
    mean_with_seeds,
    positive_steps,
    rows_of,
    shade_phases,
)
from icmeta.figures.style import PALETTE, SEQUENTIAL, attention_heatmap
from icmeta.network.circuits import METRICS, TITLES

MAP_SIZE = 1.55  # inches per attention map: its 9 token names stay legible at page width


def _layer_metrics(run: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """step, layer, metric, value of one run, averaged over the heads of a layer (what the layer as a
    whole does; the per-head view is the circuit_metrics figure)."""
    long = metrics_long(run, axes)
    long = long[long["metric"].isin(list(METRICS))]
    return long.groupby(["step", "layer", "metric"], sort=False)["value"].mean().reset_index()


def _maps_of(maps: pd.DataFrame) -> list[tuple[str, int, pd.DataFrame]]:
    """(when, layer, matrix) per phase and layer of one run, heads averaged."""
    size = int(maps["row"].max()) + 1
    out = []
    for when, part in maps.groupby("when", sort=False):
        for layer, sel in part.groupby("layer"):
            out.append((str(when), int(layer), map_matrix(sel, size)))
    return out


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """A row per cell. Left: accuracy, seeds thin and their mean thick, phases shaded and numbered.
    Middle: Bigram, Label Attention and Chunk Example of each layer (first seed, heads averaged), with
    its accuracy dashed. Right: the first seed's attention maps on each phase's plateau and at its last
    evaluation, one column per layer; rows attend to columns."""
    metrics = positive_steps(tables["metrics"])
    maps = first_seed(tables["phase_maps"])
    colours = dict(zip(METRICS, sns.color_palette(PALETTE, len(METRICS) + 2)[2:], strict=True))
    blocks = list(cells(metrics, axes))
    per_cell = {label: _maps_of(part) for label, part in cells(maps, axes)}
    layers = sorted(maps["layer"].unique())
    heights = [max(3.4, MAP_SIZE * len({w for w, _, _ in per_cell[label]}) + 0.6) for label, _ in blocks]
    width = 4.2 + 3.8 * len(layers) + MAP_SIZE * len(layers) + 1.2
    fig = plt.figure(figsize=(width, sum(heights) + 0.6), layout="constrained")
    rows = fig.subfigures(len(blocks), 1, height_ratios=heights, squeeze=False)[:, 0]
    plotted = []
    for (label, part), sub in zip(blocks, rows, strict=True):
        left, middle, right = sub.subfigures(
            1, 3, width_ratios=[4.2, 3.8 * len(layers), MAP_SIZE * len(layers) + 1.2]
        )
        phases = rows_of(tables["phases"], part, axes)
        ax = left.subplots()
        shade_phases(ax, phases)
        mean_with_seeds(ax, part, "acc", "0.15", "accuracy")
        log_steps(ax)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("held-out accuracy")
        ax.set_title(f"{label}: accuracy ({part['seed'].nunique()} seeds; phases: seed median)", fontsize=9)
        plotted.append(
            part[[*axes, "seed", "step", "acc"]].assign(panel="accuracy").rename(columns={"acc": "value"})
        )

        run = first_seed(part)
        long = _layer_metrics(run, axes)
        mine = phases[phases["seed"] == run["seed"].iloc[0]]
        metric_axes = middle.subplots(1, len(layers), sharey=True, squeeze=False)[0]
        for layer, mx in zip(layers, metric_axes, strict=True):
            shade_phases(mx, mine)
            for name in METRICS:
                line = long[(long["layer"] == layer) & (long["metric"] == name)]
                mx.plot(line["step"], line["value"], color=colours[name], lw=1.4, label=TITLES[name])
            mx.plot(run["step"], run["acc"], color="0.2", ls="--", lw=1.0, label="accuracy")
            log_steps(mx)
            mx.set_ylim(0, 1.02)
            mx.set_title(f"layer {layer} (seed {run['seed'].iloc[0]})", fontsize=9)
        metric_axes[0].set_ylabel("attention weight")
        metric_axes[0].legend(loc="center left", fontsize=7, frameon=False)
        plotted.append(long.assign(panel="circuit metrics", seed=run["seed"].iloc[0],
                                   **{a: part[a].iloc[0] for a in axes}))  # fmt: skip

        found = per_cell[label]
        whens = list(dict.fromkeys(w for w, _, _ in found))
        map_axes = right.subplots(len(whens), len(layers), squeeze=False)
        for when, layer, matrix in found:
            mx = map_axes[whens.index(when), layers.index(layer)]
            names = token_names(len(matrix))
            attention_heatmap(mx, matrix, names)
            mx.tick_params(labelsize=5, length=0)
            mx.set_xlabel("")
            mx.set_ylabel(when if layer == layers[0] else "", fontsize=7)
            pair, share = query_pair_reading(matrix.to_numpy())
            mx.set_title(f"layer {layer}: q → pair {pair} {share:.0%}", fontsize=7)
        scale = plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=SEQUENTIAL)
        right.colorbar(scale, ax=map_axes, shrink=0.8, label="attention weight (row → column)")
    fig.suptitle(title)
    return fig, pd.concat(plotted, ignore_index=True)
