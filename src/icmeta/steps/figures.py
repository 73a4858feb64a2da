"""Workflow steps that draw figures from the per-experiment tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from icmeta.plots import final_accuracy, learning_curves, save_figure, set_style


def plot_learning_curves(
    metrics_table: str | Path, axes: Sequence[str], title: str, png: str, pdf: str, csv: str
) -> None:
    set_style()
    fig, table = learning_curves(pd.read_csv(metrics_table), axes, title)
    save_figure(fig, table, png, pdf, csv)


def plot_final_accuracy(
    runs_table: str | Path, axes: Sequence[str], title: str, png: str, pdf: str, csv: str
) -> None:
    set_style()
    fig, table = final_accuracy(pd.read_csv(runs_table), axes, title)
    save_figure(fig, table, png, pdf, csv)
