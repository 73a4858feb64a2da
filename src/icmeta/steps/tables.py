"""Workflow steps that turn finished runs into tables: per-run summaries and per-experiment tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from icmeta.analysis import analyse_run
from icmeta.io import write_table


def summarise_run(
    metrics_csv: str | Path,
    run: Mapping[str, Any],
    settings: Mapping[str, Any],
    out_summary: str | Path,
    out_phases: str | Path,
) -> None:
    summary, phases = analyse_run(pd.read_csv(metrics_csv), run, settings)
    write_table(phases, out_phases)
    write_table(pd.DataFrame([summary]), out_summary)


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
    phases_csvs: Sequence[str | Path],
    out_metrics: str | Path,
    out_runs: str | Path,
    out_phases: str | Path,
) -> None:
    """Tidy tables of an experiment: every run x eval step, every run's summary, every run's phases."""
    for paths, out in ((phases_csvs, out_phases), (summary_csvs, out_runs), (metrics_csvs, out_metrics)):
        write_table(_with_run_columns([pd.read_csv(p) for p in paths], cells, seeds, experiment), out)
