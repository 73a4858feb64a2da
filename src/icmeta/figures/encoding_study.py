"""Each setting of a block at a glance: its accuracy curves, and per seed a timeline of its phases (the
plateaus as bars coloured by circuit, with their accuracy), the steps where accuracy first reaches
0.3, 0.6 and 0.95, and the final random-label accuracy (RLA)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from icmeta.block.run_rows import phases_in_order
from icmeta.figures.panels import cell_label, cells, log_steps, mean_with_seeds, positive_steps
from icmeta.figures.style import CIRCUIT_COLOURS, PALETTE, circuit_colour

LEVELS = {"0.3": "^", "0.6": "s", "0.95": "o"}  # accuracy level -> marker of its first crossing
MARKER_OFFSET = 0.38  # crossings sit this far above their run's row (in rows), clear of its bars


def _timeline(runs: pd.DataFrame, phases: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """One row per plateau, level crossing and final RLA of every run, in the order they are drawn."""
    rows = []
    for _, run in runs.iterrows():
        ident = {**{a: run[a] for a in axes}, "seed": run["seed"]}
        mine = phases_in_order(phases, run)
        for _, p in mine.iterrows():
            plateau = {"start": p["plateau_start"], "end": p["plateau_end"], "value": p["plateau_acc"]}
            rows.append({**ident, "kind": "plateau", "circuit": p["circuit_behaviour"], **plateau})
        for level in LEVELS:
            step = run[f"step_acc_{level}"]
            rows.append({**ident, "kind": f"reaches {level}", "start": step if step >= 0 else float("nan")})
        rows.append({**ident, "kind": "final RLA", "value": run["final_rla_acc"]})
    return pd.DataFrame(rows)


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Left: accuracy per setting (seeds thin, their mean thick). Right: a row per setting and seed;
    bars are the detected plateaus, coloured by circuit and labelled with their accuracy; markers
    the first steps at 0.3, 0.6 and 0.95; the final RLA at the right."""
    metrics = positive_steps(tables["metrics"])
    runs = tables["runs"]  # in the config's order of cells, seeds within a cell
    timeline = _timeline(runs, tables["phases"], axes)
    labels = [label for label, _ in cells(metrics, axes)]
    colours = dict(zip(labels, sns.color_palette(PALETTE, len(labels)), strict=True))
    n_rows = len(runs)
    # Curves above the timeline rather than beside it: side by side they made a figure 14 inches
    # wide, whose labels a page shrinks below what a reader can read.
    timeline_height = max(2.5, 0.3 * n_rows + 1.0)
    fig, (left, right) = plt.subplots(
        2, 1, figsize=(9, 3.0 + timeline_height), gridspec_kw={"height_ratios": [3.0, timeline_height]}
    )
    for label, part in cells(metrics, axes):
        mean_with_seeds(left, part, "acc", colours[label], label)
    log_steps(left)
    left.set_ylabel("held-out accuracy")
    left.set_ylim(0, 1.02)
    left.legend(fontsize=8, frameon=False, loc="upper left")

    names, name_colours, setting = [], [], ""
    for y, (_, run) in enumerate(runs.iterrows()):
        mine = timeline[(timeline["seed"] == run["seed"])]
        for a in axes:
            mine = mine[mine[a].astype(str) == str(run[a])]
        for _, bar in mine[mine["kind"] == "plateau"].iterrows():
            width = bar["end"] - bar["start"]
            right.barh(y, width, left=bar["start"], height=0.55, color=circuit_colour(bar["circuit"]))
            right.text((bar["start"] * bar["end"]) ** 0.5, y, f"{bar['value']:.2f}", ha="center", va="center",
                       fontsize=6)  # fmt: skip
        for level, marker in LEVELS.items():
            step = mine.loc[mine["kind"] == f"reaches {level}", "start"].iloc[0]
            if step == step:  # not NaN: the run reached it; drawn above its bar, not over a label
                right.plot([step], [y - MARKER_OFFSET], marker=marker, color="0.1", ms=3.5, ls="none")
        rla = mine.loc[mine["kind"] == "final RLA", "value"].iloc[0]
        right.text(1.01, y, f"RLA {rla:.2f}", transform=right.get_yaxis_transform(), va="center", fontsize=7)
        cell = cell_label(run, axes)
        if names and cell != setting:
            right.axhline(y - 0.5, color="0.6", lw=0.6)  # a rule between settings
        setting = cell
        names.append(f"{cell} · seed {run['seed']}")
        name_colours.append(colours.get(cell, "0.1"))
    right.set_yticks(range(n_rows), names, fontsize=7)
    for tick, colour in zip(right.get_yticklabels(), name_colours, strict=True):
        tick.set_color(colour)  # a row's setting in its curve's colour on the left
    right.set_ylim(n_rows - 0.5, -0.5)
    right.set_ylabel("run (setting · seed)")
    log_steps(right)
    # From just before the first plateau or crossing: before it every run sits at chance, as the left
    # panel shows, and the timeline would spend most of its width on nothing.
    events = timeline["start"].dropna()
    events = events[events > 0]
    if len(events):
        right.set_xlim(0.6 * events.min(), 1.15 * metrics["step"].max())
    handles = [Patch(color=c, label=name) for name, c in CIRCUIT_COLOURS.items()]
    handles += [
        Line2D([], [], marker=m, color="0.1", ls="none", label=f"acc ≥ {lvl}") for lvl, m in LEVELS.items()
    ]
    right.legend(
        handles=handles, fontsize=7, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=8
    )
    fig.suptitle(title)
    fig.tight_layout()
    return fig, timeline
