"""Learning curves: held-out accuracy and loss against log-step for every cell of an experiment
(paper Fig. 7, 15, 16, 18, 19a, 22)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from icmeta.figures.panels import SPLIT_SHARE, grid, log_steps, loss_limits, mean_with_seeds, positive_steps
from icmeta.figures.style import PALETTE, axis_label, value_label

# Panels side by side: more would shrink every label below what a page-wide image can show, so a
# longer first axis wraps onto further rows, each an accuracy row above a loss row.
MAX_COLUMNS = 3
PANEL_WIDTH, PANEL_HEIGHT = 3.2, 2.5  # inches


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Accuracy above loss: one colour per cell, one thin line per seed, the mean thick.

    With two or more axes the first one selects the panel, so curves stay few enough to read; the
    colours then follow the remaining axes, in the order of their values. A single numeric colour axis
    (such as ε) gets an ordered palette whose neighbours still differ in hue (`_palette`).
    """
    table = positive_steps(tables["metrics"])[[*axes, "seed", "step", "acc", "loss"]].copy()
    panel_axis = axes[0] if len(axes) > 1 else None
    hue_axes = list(axes[1:]) if panel_axis else list(axes)
    table["cell"] = table.apply(lambda r: _hue_label(r, hue_axes), axis=1)
    panels = sorted(set(table[panel_axis])) if panel_axis else [None]
    order = table.drop_duplicates("cell").sort_values(hue_axes)["cell"].tolist()
    colours = dict(zip(order, _palette(table, hue_axes, len(order)), strict=True))
    fig, slots = _panel_grid(len(panels))
    loss_top = loss_limits(slots[0][1], table, ["cell", *([panel_axis] if panel_axis else [])])
    split_at = {"acc": SPLIT_SHARE, "loss": SPLIT_SHARE * loss_top}  # a share of each panel's height
    for value, pair in zip(panels, slots, strict=True):
        part = table if panel_axis is None else table[table[panel_axis] == value]
        for cell, group in part.groupby("cell", sort=False):
            for ax, column in zip(pair, ("acc", "loss"), strict=True):
                label = cell if column == "acc" else None
                mean_with_seeds(ax, group, column, colours[cell], label, split_at[column])
        if panel_axis:
            pair[0].set_title(f"{axis_label(panel_axis)} = {value_label(value)}")
    _label_panels(slots, table["step"])
    _legend(fig, slots, order, axis_label(hue_axes[0]) if len(hue_axes) == 1 else None)
    fig.suptitle(title)
    return fig, table.drop(columns="cell")


def _panel_grid(n: int) -> tuple[plt.Figure, list[tuple[plt.Axes, plt.Axes]]]:
    """A figure of n (accuracy, loss) panel pairs, at most MAX_COLUMNS side by side; the slots a short
    last row leaves are removed. Every panel shares the step axis, every accuracy and loss panel its y."""
    ncols = min(n, MAX_COLUMNS)
    # Constrained layout spaces each gap as it needs: an accuracy panel sits close above its loss panel.
    fig, axs = grid(
        2 * math.ceil(n / ncols), ncols, PANEL_WIDTH, PANEL_HEIGHT, sharex=True, layout="constrained"
    )
    slots = [(axs[2 * (i // ncols), i % ncols], axs[2 * (i // ncols) + 1, i % ncols]) for i in range(n)]
    used = {id(ax) for pair in slots for ax in pair}
    for ax in axs.flat:
        if id(ax) not in used:
            fig.delaxes(ax)
    for acc, loss in slots[1:]:
        acc.sharey(slots[0][0])
        loss.sharey(slots[0][1])
    return fig, slots


def _label_panels(slots: list[tuple[plt.Axes, plt.Axes]], steps: pd.Series) -> None:
    """Steps under every loss panel (a wrapped row has its own), quantities on the left column only."""
    for acc, loss in slots:
        for ax in (acc, loss):
            log_steps(ax, steps)
        acc.set_xlabel("")
        acc.tick_params(labelbottom=False)
        loss.tick_params(labelbottom=True)
        acc.set_ylim(0, 1.02)
        if acc.get_subplotspec().is_first_col():
            acc.set_ylabel("held-out accuracy")
            loss.set_ylabel("held-out loss")
        else:
            acc.tick_params(labelleft=False)
            loss.tick_params(labelleft=False)


def _legend(
    fig: plt.Figure, slots: list[tuple[plt.Axes, plt.Axes]], order: list[str], title: str | None
) -> None:
    """The cells' colours below all panels (beside them they would widen an already wide figure), and
    what the line styles mean in the first panel's top left, which the low early accuracy leaves free."""
    labelled = {lab: h for acc, _ in slots for h, lab in zip(*acc.get_legend_handles_labels(), strict=True)}
    shown = [c for c in order if c in labelled]
    fig.legend(
        [labelled[c] for c in shown],
        shown,
        title=title,
        loc="outside lower center",
        ncol=min(len(shown), 2 * min(len(slots), MAX_COLUMNS)),
        frameon=False,
        fontsize=8,
        title_fontsize=8,
    )
    styles = [Line2D([], [], color="0.3", lw=0.6, alpha=0.6), Line2D([], [], color="0.3", lw=1.8),
              Line2D([], [], color="0.3", lw=1.2, ls=":")]  # fmt: skip
    notes = ["a seed", "seed mean", "mean where seeds\nlie > 1/10 panel apart"]
    slots[0][0].legend(styles, notes, loc="upper left", fontsize=7, frameon=False)


def _hue_label(row: pd.Series, hue_axes: Sequence[str]) -> str:
    if len(hue_axes) == 1:
        return value_label(row[hue_axes[0]])
    return ", ".join(f"{a}={value_label(row[a])}" for a in hue_axes)


def _palette(table: pd.DataFrame, hue_axes: Sequence[str], n: int) -> list:
    """Numeric values of one axis: lightness follows their order (it survives grey print), while the
    hue turns two and a half times through the range, so that neighbours differ in hue too; a plain
    sequential map (viridis) leaves six neighbouring values a shade of blue apart. Otherwise, and for
    two values, the colour-blind palette."""
    numeric = len(hue_axes) == 1 and pd.api.types.is_numeric_dtype(table[hue_axes[0]])
    if numeric and n > 2:
        return sns.cubehelix_palette(n, start=0.5, rot=2.5, hue=1.0, dark=0.3, light=0.75, reverse=True)
    return sns.color_palette(PALETTE, n)
