"""A setting at a glance, sized for a README: accuracy against the levels the paper predicts, what
each layer's attention does meanwhile (Tab. 2's metrics), and the attention maps on each plateau.

One seed is followed through every panel, the first: its accuracy is drawn dark among the other seeds,
its phases are the shading everywhere, and its metrics and maps are the ones shown, so that a reader can
follow one run from curve to circuit. The levels a plateau is judged by are drawn where a reader looks
for them: 1/T (the non-context circuit), 0.75 (where the paper reports its second plateau) and the band
of the seeds' label-multiset bounds (the semi-context circuit's ceiling, one per seed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.attention_maps import map_matrix, reading, token_names
from icmeta.figures.circuit_metrics import metrics_long
from icmeta.figures.panels import cells, first_seed, log_steps, positive_steps, rows_of, shade_phases
from icmeta.figures.style import CIRCUIT_COLOURS, PALETTE, SEQUENTIAL, attention_heatmap
from icmeta.network.circuits import METRICS, TITLES

WIDTH = 8.5  # inches: at 150 dpi shown 830 px wide, 7 pt text stays above 7 px
CURVES_HEIGHT, MAP_HEIGHT = 2.5, 1.75
FOLLOWED = "0.1"  # the followed seed's accuracy
PAPER_PHASE_2 = 0.75  # the accuracy of the paper's second plateau at its default setting


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


def _levels(ax: plt.Axes, runs: pd.DataFrame) -> None:
    """1/T, the paper's 0.75 and the band of the seeds' own bounds, named in the panel's legend."""
    low, high = runs["scc_prediction"].min(), runs["scc_prediction"].max()
    bounds = f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}–{high:.2f}"
    ax.axhspan(low - 0.004, high + 0.004, color=CIRCUIT_COLOURS["SCC"], alpha=0.25, lw=0,
               label=f"seeds' bounds {bounds}")  # fmt: skip
    ax.axhline(PAPER_PHASE_2, color="0.3", ls=":", lw=1, label="0.75, the paper's 2nd plateau")
    ncc = runs["ncc_prediction"].iloc[0]
    ax.axhline(ncc, color=CIRCUIT_COLOURS["NCC"], ls="--", lw=1, label=f"1/T = {ncc:.2f}")


def _accuracy(ax: plt.Axes, part: pd.DataFrame, runs: pd.DataFrame, seed: int) -> None:
    for other, run in part.groupby("seed"):
        if other != seed:
            ax.plot(run["step"], run["acc"], color="0.6", lw=0.6, alpha=0.7)
    mine = part[part["seed"] == seed]
    ax.plot(mine["step"], mine["acc"], color=FOLLOWED, lw=1.5, label=f"seed {seed}")
    ax.plot([], [], color="0.6", lw=0.8, label=f"other seeds ({part['seed'].nunique() - 1})")
    _levels(ax, runs)
    log_steps(ax)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("held-out accuracy")


def _metrics(ax: plt.Axes, long: pd.DataFrame, run: pd.DataFrame, layer: int, colours: dict) -> None:
    for name in METRICS:
        line = long[(long["layer"] == layer) & (long["metric"] == name)]
        ax.plot(line["step"], line["value"], color=colours[name], lw=1.4, label=TITLES[name])
    ax.plot(run["step"], run["acc"], color=FOLLOWED, ls="--", lw=0.9, label="accuracy")
    log_steps(ax)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"layer {layer}", fontsize=9)


def _maps(sub: plt.Figure, found: list[tuple[str, int, pd.DataFrame]], layers: list[int]) -> list[plt.Axes]:
    """Rows: layers; columns: the followed seed's phases and its last evaluation. Each map's title
    says which pair the query reads most and that pair's share of the query's attention on pairs."""
    whens = list(dict.fromkeys(w for w, _, _ in found))
    grid = sub.subplots(len(layers), len(whens), squeeze=False)
    for when, layer, matrix in found:
        ax = grid[layers.index(layer), whens.index(when)]
        attention_heatmap(ax, matrix, token_names(len(matrix)))
        ax.tick_params(labelsize=6, length=0, pad=1)
        top = f"{when}\n" if layer == layers[0] else ""
        ax.set_title(top + reading(matrix.to_numpy(), unit=""), fontsize=7)  # the unit is in the caption
        ax.set_ylabel(f"layer {layer}" if when == whens[0] else "", fontsize=8)
    scale = plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=SEQUENTIAL)
    sub.colorbar(scale, ax=grid, shrink=0.85, label="attention (row → column)")
    return list(grid.flat)


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Per cell, top: the accuracy of every seed (the first dark) against 1/T, 0.75 and the seeds'
    bounds; beside it each layer's Bigram, Label Attention and Chunk Example (heads averaged) with the
    accuracy dashed; shaded: the first seed's phases. Below: that seed's attention maps on each
    phase's plateau and at its last evaluation, heads averaged; rows attend to columns, and "q → pair
    k: s %" is the pair the query reads most and its share of the query's attention on pairs."""
    metrics = positive_steps(tables["metrics"])
    maps = first_seed(tables["phase_maps"])
    colours = dict(zip(METRICS, sns.color_palette(PALETTE, len(METRICS) + 2)[2:], strict=True))
    blocks = list(cells(metrics, axes))
    per_cell = {label: _maps_of(part) for label, part in cells(maps, axes)}
    layers = sorted(maps["layer"].unique())
    height = CURVES_HEIGHT + MAP_HEIGHT * len(layers) + 0.5
    fig = plt.figure(figsize=(WIDTH, height * len(blocks) + 0.4), layout="constrained")
    rows = fig.subfigures(len(blocks), 1, squeeze=False)[:, 0]
    plotted = []
    for (label, part), sub in zip(blocks, rows, strict=True):
        top, bottom = sub.subfigures(2, 1, height_ratios=[CURVES_HEIGHT, MAP_HEIGHT * len(layers) + 0.5])
        run = first_seed(part)
        seed = int(run["seed"].iloc[0])
        mine = rows_of(tables["phases"], run, axes)
        panels = top.subplots(1, 1 + len(layers), width_ratios=[1.5] + [1] * len(layers))
        for ax in panels:
            shade_phases(ax, mine, first_step=float(part["step"].min()))
        _accuracy(panels[0], part, rows_of(tables["runs"], part, axes), seed)
        long = _layer_metrics(run, axes)
        for layer, ax in zip(layers, panels[1:], strict=True):
            _metrics(ax, long, run, layer, colours)
            ax.sharey(panels[1])
        panels[1].set_ylabel("attention weight")
        named = [ax.get_legend_handles_labels() for ax in panels[:2]]
        top.legend(named[0][0] + named[1][0], named[0][1] + named[1][1], loc="outside lower center", ncol=5,
                   fontsize=7, frameon=False)  # fmt: skip
        top.suptitle(
            f"{label}: {part['seed'].nunique()} seeds; shaded: the phases of seed {seed}", fontsize=9
        )
        _maps(bottom, per_cell[label], layers)
        bottom.suptitle(f"seed {seed}'s attention maps, heads averaged", fontsize=9)
        plotted.append(
            part[[*axes, "seed", "step", "acc"]].assign(panel="accuracy").rename(columns={"acc": "value"})
        )
        plotted.append(long.assign(panel="circuit metrics", seed=seed, **{a: part[a].iloc[0] for a in axes}))
    fig.suptitle(title)
    return fig, pd.concat(plotted, ignore_index=True)
