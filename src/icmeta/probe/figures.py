"""Figures of the SST-2 probe: the paper's Fig. 10 (metrics per layer), per-head heatmaps, and the
metrics against pre-training step for a list of checkpoints of one model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.style import PALETTE, SEQUENTIAL, save_figure, set_style
from icmeta.network.circuits import TITLES
from icmeta.probe.attention import METRICS


def _models(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary["run"].str.startswith("models/")]


def layers(metrics: pd.DataFrame, summary: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """Head-mean metric per layer, one colour per model (the paper's Fig. 10 for GPT2-XL: Chunk
    Example high in early layers, Label Attention in middle and late layers)."""
    runs = _models(summary)
    table = (
        metrics[metrics["run"].isin(runs["run"])]
        .groupby(["run", "metric", "layer"], as_index=False)["mean"]
        .mean()
    )
    fig, axs = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.2), squeeze=False)
    colours = sns.color_palette(PALETTE, len(runs))
    for ax, name in zip(axs.flat, METRICS, strict=True):
        for colour, run in zip(colours, runs.itertuples(), strict=True):
            part = table[(table["run"] == run.run) & (table["metric"] == name)]
            ax.plot(
                part["layer"],
                part["mean"],
                color=colour,
                marker="o",
                ms=2.5,
                lw=1.3,
                label=f"{run.model} (2-shot acc {run.accuracy:.3f})",
            )
        ax.set_title(TITLES[name])
        ax.set_xlabel("layer")
    axs[0, 0].set_ylabel("mean attention (heads, prompts)")
    axs[0, -1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
    fig.tight_layout()
    return fig, table


def heads(metrics: pd.DataFrame, summary: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """Every head of every layer, one row of heatmaps per model: which heads carry each pattern."""
    runs = _models(summary)
    table = metrics[metrics["run"].isin(runs["run"])]
    fig, axs = plt.subplots(
        len(runs), len(METRICS), figsize=(4.2 * len(METRICS), 3.4 * len(runs)), squeeze=False
    )
    for row, run in zip(axs, runs.itertuples(), strict=True):
        for ax, name in zip(row, METRICS, strict=True):
            part = table[(table["run"] == run.run) & (table["metric"] == name)]
            grid = part.pivot(index="layer", columns="head", values="mean")
            sns.heatmap(grid, ax=ax, cmap=SEQUENTIAL, vmin=0, cbar_kws={"shrink": 0.7})
            ax.set_title(f"{TITLES[name]}: {run.model}", fontsize=8)
    fig.tight_layout()
    return fig, table


def checkpoints(metrics: pd.DataFrame, summary: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """Head-mean metric per layer (rows) against pre-training step (columns), and 2-shot accuracy:
    whether the label-attention and chunking layers appear, and in which order, during pre-training."""
    runs = summary[summary["run"].str.startswith("checkpoints/")].sort_values("step")
    table = (
        metrics[metrics["run"].isin(runs["run"])]
        .merge(runs[["run", "step"]], on="run")
        .groupby(["step", "metric", "layer"], as_index=False)["mean"]
        .mean()
    )
    fig, axs = plt.subplots(1, len(METRICS) + 1, figsize=(4.0 * (len(METRICS) + 1), 3.4), squeeze=False)
    for ax, name in zip(axs.flat, METRICS, strict=False):
        grid = table[table["metric"] == name].pivot(index="layer", columns="step", values="mean")
        sns.heatmap(grid, ax=ax, cmap=SEQUENTIAL, vmin=0, cbar_kws={"shrink": 0.7})
        ax.set_title(TITLES[name])
        ax.set_xlabel("pre-training step")
    acc = axs.flat[-1]
    acc.plot(runs["step"], runs["accuracy"], marker="o", color=sns.color_palette(PALETTE)[0])
    positive = runs.loc[runs["step"] > 0, "step"]
    acc.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1.0)
    acc.set_ylim(0, 1.02)
    acc.set_xlabel("pre-training step")
    acc.set_title("2-shot accuracy")
    fig.suptitle(f"{runs['model'].iloc[0]} during pre-training")
    fig.tight_layout()
    return fig, table.merge(runs[["step", "accuracy"]], on="step")


FIGURES: dict[str, Callable[[pd.DataFrame, pd.DataFrame], tuple[plt.Figure, pd.DataFrame]]] = {
    "probe_layers": layers,
    "probe_heads": heads,
    "probe_checkpoints": checkpoints,
}


def draw(figure: str, metrics_csv: str | Path, summary_csv: str | Path, png: str, pdf: str, csv: str) -> None:
    if figure not in FIGURES:
        raise ValueError(f"unknown probe figure '{figure}'; known: {', '.join(FIGURES)}")
    set_style()
    fig, table = FIGURES[figure](pd.read_csv(metrics_csv), pd.read_csv(summary_csv))
    save_figure(fig, table, png, pdf, csv)
