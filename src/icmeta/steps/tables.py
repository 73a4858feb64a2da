"""Workflow steps that turn finished runs into tables: per-run summaries and per-experiment tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from icmeta.analysis import run_summary
from icmeta.io import write_table


def summarise_run(metrics_csv: str | Path, out_csv: str | Path) -> None:
    write_table(pd.DataFrame([run_summary(pd.read_csv(metrics_csv))]), out_csv)


def _with_run_columns(
    frames: Sequence[pd.DataFrame], cells: Sequence[Mapping[str, Any]], seeds: Sequence[int], experiment: str
) -> pd.DataFrame:
    """Stack per-run tables (ordered cell-major, then seed) with the run's identity as leading columns."""
    runs = [(c, s) for c in cells for s in seeds]
    if len(runs) != len(frames):
        raise ValueError(
            f"{len(frames)} tables for {len(runs)} runs ({len(cells)} cells x {len(seeds)} seeds)"
        )
    parts = []
    for (cell, seed), frame in zip(runs, frames, strict=True):
        ident = {"experiment": experiment, "cell": cell["path"], **cell["axes"], "seed": int(seed)}
        parts.append(frame.assign(**ident)[[*ident, *frame.columns]])
    return pd.concat(parts, ignore_index=True)


def aggregate(
    experiment: str,
    cells: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    metrics_csvs: Sequence[str | Path],
    summary_csvs: Sequence[str | Path],
    out_metrics: str | Path,
    out_runs: str | Path,
) -> None:
    """One tidy table per experiment of every run x eval step, and one of every run's summary."""
    metrics = _with_run_columns([pd.read_csv(p) for p in metrics_csvs], cells, seeds, experiment)
    runs = _with_run_columns([pd.read_csv(p) for p in summary_csvs], cells, seeds, experiment)
    write_table(runs, out_runs)
    write_table(metrics, out_metrics)
