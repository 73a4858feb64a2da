"""The workflow step that analyses one finished run: what the summarise_run rule calls."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from icmeta.analysis.complete import read_attention, read_metrics
from icmeta.analysis.run import analyse_run, phase_maps
from icmeta.io import write_table
from icmeta.settings.config import RunConfig
from icmeta.steps import removing_damaged


def summarise_run(
    metrics_csv: str | Path,
    attention_npz: str | Path,
    run: Mapping[str, Any],
    seed: int,
    settings: Mapping[str, Any],
    out_summary: str | Path,
    out_phases: str | Path,
    out_maps: str | Path,
) -> None:
    """A run's summary row, its phases and its mean attention map in each phase. `run` is its cell's
    configuration, shared by the seeds; the seed draws the task maps the SCC's bound is computed on.
    A damaged metrics.csv or attention.npz is removed (`removing_damaged`), so that the next call
    makes it again: from the cell's kept training state where it has one, by training otherwise."""
    run = {**run, "seed": int(seed)}
    again = "writes the run's files again from its cell's training state (or retrains the cell)"
    with removing_damaged(metrics_csv, again):
        metrics = read_metrics(metrics_csv, RunConfig.from_dict(run))
    with removing_damaged(attention_npz, again):
        steps, attention = read_attention(attention_npz, metrics["step"].to_numpy())
    summary, phases = analyse_run(metrics, run, settings)
    maps = phase_maps(steps, attention, phases)
    write_table(maps, out_maps)
    write_table(phases, out_phases)
    write_table(pd.DataFrame([summary]), out_summary)
