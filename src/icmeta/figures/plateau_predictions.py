"""Accuracy of circuit-restricted networks against the plateau their circuit predicts (paper Fig. 5
and 13): 1/T for the NCC, the label-multiset bound for the SCC (App. D's formula when K = L, T = 2),
1 for the FCC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from icmeta.figures.panels import cells, log_steps, mean_with_seeds, positive_steps
from icmeta.figures.style import PALETTE


def plateau_table(runs: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """Per cell: the predicted plateau and the measured one (accuracy over the last tenth of training,
    seed mean and spread)."""
    prediction = runs["circuit_prediction"].fillna(runs["scc_prediction"])
    table = runs.assign(prediction=prediction).groupby(list(axes), sort=False)
    out = table.agg(
        prediction=("prediction", "mean"),
        measured=("late_acc", "mean"),
        measured_sd=("late_acc", "std"),
        seeds=("seed", "count"),
    ).reset_index()
    out["gap"] = out["measured"] - out["prediction"]
    return out


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """One colour per cell: seeds thin, mean thick, the prediction dashed in the same colour; the
    legend gives each cell's late accuracy beside its prediction (the gaps are in the table written
    beside the figure)."""
    summary = plateau_table(tables["runs"], axes)
    metrics = positive_steps(tables["metrics"])
    found = list(cells(metrics, axes))
    colours = sns.color_palette(PALETTE, len(found))
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for (label, part), colour, row in zip(found, colours, summary.itertuples(), strict=True):
        measured = f"{row.measured:.3f}" + ("" if np.isnan(row.measured_sd) else f" ± {row.measured_sd:.3f}")
        predicted = "" if np.isnan(row.prediction) else f", predicted {row.prediction:.3f}"
        mean_with_seeds(ax, part, "acc", colour, f"{label}: {measured}{predicted}")
        if not np.isnan(row.prediction):
            ax.axhline(row.prediction, color=colour, ls="--", lw=1.0)
    log_steps(ax)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("held-out accuracy")
    ax.legend(loc="upper left", fontsize=8, frameon=False, title="late accuracy (dashed: predicted)",
              title_fontsize=8)  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout()
    return fig, summary
