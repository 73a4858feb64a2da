"""Accuracy and circuit metrics of each setting of the first axis against the reference setting (on
the clamp axis the unclamped run, otherwise the axis's first value), with the setting's detected
phases shaded (docs/clamps.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from icmeta.figures.panels import (
    cells,
    grid,
    key_below,
    log_steps,
    mean_with_seeds,
    positive_steps,
    reference_setting,
    rows_of,
    shade_phases,
    step_list,
)
from icmeta.figures.style import PALETTE
from icmeta.network.circuits import METRICS, TITLES, layer_means, per_layer_columns


def seed_means(rows: pd.DataFrame) -> pd.DataFrame:
    """step, quantity, value: the seed mean of accuracy and of each metric's head mean per layer."""
    per_layer = [rows[["seed", "step", "acc"]]]
    for name in METRICS:
        means = layer_means(rows, name)
        per_layer.append(means.set_axis([f"{name}_L{layer}" for layer in means.columns], axis=1))
    wide = pd.concat(per_layer, axis=1).groupby("step").mean().drop(columns="seed")
    return wide.reset_index().melt(id_vars="step", var_name="quantity", value_name="value")


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """A row per cell: accuracy (seeds thin, mean thick) and, per layer, Bigram, Label Attention and
    Chunk Example (seed mean of the head mean), the reference dashed in grey. Shading marks the
    cell's own phases (`panels.phase_spans`), a dotted line each step where a clamp switches on or off."""
    metrics = positive_steps(tables["metrics"])
    rows = list(cells(metrics, axes))
    # Narrow panels: four side by side must keep their text readable on a page-wide image.
    fig, panels = grid(len(rows), 1 + len(METRICS), 2.5, 2.1, sharex=True, sharey=True)
    colours = sns.color_palette(PALETTE, 4)
    plotted = []
    ref_setting = reference_setting(metrics[axes[0]], axes[0])
    for i, ((label, part), row) in enumerate(zip(rows, panels, strict=True)):
        # the reference cell: the reference setting of the first axis, this cell's other axes and seeds
        reference = rows_of(metrics, part.assign(**{axes[0]: ref_setting}), axes)
        own, ref = seed_means(part), seed_means(reference)
        plotted += [own.assign(cell=label, curve="setting"), ref.assign(cell=label, curve="reference")]
        phases = rows_of(tables["phases"], part, axes)
        switches = _switches(rows_of(tables["runs"], part, axes))
        for ax in row:
            shade_phases(ax, phases, metrics["step"].min())
            for step in switches:
                ax.axvline(step, color="0.2", ls=":", lw=1.0)
            log_steps(ax, metrics["step"])
            if i < len(rows) - 1:  # the bottom row names the shared step axis
                ax.set_xlabel("")
        mean_with_seeds(row[0], part, "acc", colours[0], "setting")
        _line(row[0], ref, "acc", "0.45", "--", "reference")
        row[0].set_ylabel(f"{label}\naccuracy or attention share", fontsize=8)
        row[0].set_ylim(0, 1.02)
        for ax, name in zip(row[1:], METRICS, strict=True):
            for layer in per_layer_columns(part.columns, name):
                colour = colours[1 + layer % 3]
                _line(ax, own, f"{name}_L{layer}", colour, "-", f"layer {layer}")
                _line(ax, ref, f"{name}_L{layer}", colour, "--", f"layer {layer}, reference")
    for ax, name in zip(panels[0], ["accuracy", *(TITLES[m] for m in METRICS)], strict=True):
        ax.set_title(name, fontsize=10, pad=12)
    fig.tight_layout()
    key_below(fig, panels[0, 0], panels[0, 1])
    fig.suptitle(title, y=1.0, va="bottom")  # above the column titles; saved with a tight box
    return fig, pd.concat(plotted, ignore_index=True)


def _switches(runs: pd.DataFrame) -> list[int]:
    """Steps where a clamp of these runs switches on or off (summary column `clamp_switches`)."""
    if "clamp_switches" not in runs:
        return []
    return step_list(runs["clamp_switches"])


def _line(ax: plt.Axes, curves: pd.DataFrame, quantity: str, colour, style: str, label: str) -> None:
    line = curves[curves["quantity"] == quantity]
    ax.plot(line["step"], line["value"], color=colour, ls=style, lw=1.4 if style == "-" else 1.0, label=label)
