"""Workflow steps that turn finished runs into tables: per-run summaries and per-experiment tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from icmeta.analysis import analyse_run, phase_maps
from icmeta.io import write_table


def summarise_run(
    metrics_csv: str | Path,
    attention_npz: str | Path,
    run: Mapping[str, Any],
    settings: Mapping[str, Any],
    out_summary: str | Path,
    out_phases: str | Path,
    out_maps: str | Path,
) -> None:
    """A run's summary row, its phases and its mean attention map in each phase."""
    summary, phases = analyse_run(pd.read_csv(metrics_csv), run, settings)
    with np.load(attention_npz) as saved:
        maps = phase_maps(saved["steps"], saved["maps"], phases)
    write_table(maps, out_maps)
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
        # A run's own column named like an identity column (the phases' `circuit` label in a block
        # with a `circuit` axis) keeps its values as `run_<name>`; the identity column wins the name.
        frame = frame.rename(columns={c: f"run_{c}" for c in frame.columns if c in ident})
        parts.append(frame.assign(**ident)[[*ident, *frame.columns]])
    return pd.concat(parts, ignore_index=True)


def aggregate(
    experiment: str,
    cells: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    metrics_csvs: Sequence[str | Path],
    summary_csvs: Sequence[str | Path],
    phases_csvs: Sequence[str | Path],
    maps_csvs: Sequence[str | Path],
    out_metrics: str | Path,
    out_runs: str | Path,
    out_phases: str | Path,
    out_maps: str | Path,
) -> None:
    """Tidy tables of an experiment: every run x eval step, every run's summary, every run's phases,
    every run's mean attention maps per phase."""
    sources = (
        (phases_csvs, out_phases),
        (summary_csvs, out_runs),
        (maps_csvs, out_maps),
        (metrics_csvs, out_metrics),
    )
    for paths, out in sources:
        write_table(_with_run_columns([pd.read_csv(p) for p in paths], cells, seeds, experiment), out)
