"""When each phase begins, and how long a run sits at the NCC's accuracy, under each setting of the
first axis against the reference setting (its first value: the unclamped run of the `clamps` block),
with the seed spread (issue 6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from icmeta.analysis import REACHED
from icmeta.figures.style import PALETTE

ONSETS = {
    "phase1_onset": "first phase begins",
    "phase2_onset": "second phase begins",
    "phase3_onset": "third phase begins",
    "ncc_onset": "NCC phase begins",
    "scc_onset": "SCC phase begins",
    "fcc_onset": "FCC phase begins",
    "step_acc_0.5": "accuracy first ≥ 0.5",
    "step_acc_0.9": "accuracy first ≥ 0.9",
    "ncc_dwell": "steps at the NCC's accuracy (1/T)",
}
DURATIONS = {"ncc_dwell"}  # drawn on a linear axis: a duration may be 0


def onsets_long(runs: pd.DataFrame, axis: str) -> pd.DataFrame:
    """axis, seed, onset, step rows for every onset column that any run reaches (NaN: not reached)."""
    runs = runs.assign(**{axis: runs[axis].astype(str)})
    for column in (f"step_acc_{level}" for level in REACHED if f"step_acc_{level}" in runs):
        runs[column] = runs[column].where(runs[column] >= 0)  # -1: never reached
    present = [c for c in ONSETS if c in runs and runs[c].notna().any()]
    return runs.melt(id_vars=[axis, "seed"], value_vars=present, var_name="onset", value_name="step")


def onset_table(long: pd.DataFrame, axis: str) -> pd.DataFrame:
    """Median and quartiles of each onset per setting of `axis`, how many seeds reached it, and the
    median's shift against the reference setting (the axis's first value)."""
    summary = (
        long.groupby([axis, "onset"], sort=False)["step"]
        .agg(median="median", q25=lambda s: s.quantile(0.25), q75=lambda s: s.quantile(0.75),
             seeds="count", runs="size")
        .reset_index()
    )  # fmt: skip
    reference = summary[summary[axis] == long[axis].iloc[0]].set_index("onset")["median"]
    summary["shift_vs_reference"] = summary["median"] - summary["onset"].map(reference)
    return summary


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """One panel per onset that any run reaches (phases by order and by circuit label, accuracy 0.9):
    every seed as a dot, the seed median as a bar, the reference's median dashed. A setting whose
    runs never reach an onset shows no dot there; the table says how many seeds did."""
    axis = axes[0]
    long = onsets_long(tables["runs"], axis)
    summary = onset_table(long, axis)
    order = list(dict.fromkeys(long[axis]))
    onsets = list(dict.fromkeys(long["onset"]))
    reference = summary[summary[axis] == order[0]].set_index("onset")["median"]
    fig, panels = plt.subplots(
        1, len(onsets), figsize=(3.4 * len(onsets), 0.45 * len(order) + 1.8), sharey=True, squeeze=False
    )
    colour = sns.color_palette(PALETTE)[0]
    for ax, onset in zip(panels[0], onsets, strict=True):
        part = long[long["onset"] == onset].dropna(subset=["step"])
        sns.stripplot(part, x="step", y=axis, order=order, ax=ax, color=colour, size=4, jitter=0.15)
        med = summary[summary["onset"] == onset].set_index(axis)["median"].reindex(order)
        ax.scatter(med.to_numpy(), np.arange(len(order)), marker="|", s=300, color="0.2", zorder=3)
        if not np.isnan(reference.get(onset, np.nan)):
            ax.axvline(reference[onset], color="0.4", ls="--", lw=0.8)
        ax.set_xscale("linear" if onset in DURATIONS else "log")
        ax.set_xlabel("training step")
        ax.set_title(ONSETS[onset], fontsize=9)
    panels[0, 0].set_ylabel(axis)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, summary
