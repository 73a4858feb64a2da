"""When each phase begins under each setting of the first axis, against the reference setting (its
first value: the unclamped run of the `clamps` block), with the seed spread (issue 6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from icmeta.figures.style import PALETTE

ONSETS = {
    "ncc_onset": "NCC phase begins",
    "scc_onset": "SCC phase begins",
    "fcc_onset": "FCC phase begins",
    "step_acc_0.9": "accuracy first ≥ 0.9",
}


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """One panel per onset: every seed as a dot, the seed median as a bar, the reference's median
    dashed. A setting whose runs never reach a phase shows no dot there (and the table says how many
    seeds did)."""
    runs = tables["runs"].copy()
    axis = axes[0]
    runs[axis] = runs[axis].astype(str)
    order = list(dict.fromkeys(runs[axis]))
    runs["step_acc_0.9"] = runs["step_acc_0.9"].where(runs["step_acc_0.9"] >= 0)
    long = runs.melt(id_vars=[axis, "seed"], value_vars=list(ONSETS), var_name="onset", value_name="step")
    summary = (
        long.groupby([axis, "onset"], sort=False)["step"]
        .agg(median="median", q25=lambda s: s.quantile(0.25), q75=lambda s: s.quantile(0.75), seeds="count")
        .reset_index()
    )
    reference = summary[summary[axis] == order[0]].set_index("onset")["median"]
    summary["shift_vs_reference"] = summary["median"] - summary["onset"].map(reference)
    fig, panels = plt.subplots(
        1, len(ONSETS), figsize=(3.4 * len(ONSETS), 0.45 * len(order) + 1.8), sharey=True
    )
    colour = sns.color_palette(PALETTE)[0]
    for ax, (onset, label) in zip(panels, ONSETS.items(), strict=True):
        part = long[long["onset"] == onset].dropna(subset=["step"])
        sns.stripplot(part, x="step", y=axis, order=order, ax=ax, color=colour, size=4, jitter=0.15)
        med = summary[summary["onset"] == onset].set_index(axis)["median"].reindex(order)
        ax.scatter(med.to_numpy(), np.arange(len(order)), marker="|", s=300, color="0.2", zorder=3)
        if not np.isnan(reference.get(onset, np.nan)):
            ax.axvline(reference[onset], color="0.4", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("training step")
        ax.set_title(label, fontsize=9)
    panels[0].set_ylabel(axis)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, summary
