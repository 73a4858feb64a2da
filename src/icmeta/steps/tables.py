"""The workflow step that stacks an experiment's runs into its tidy tables: what aggregate calls.

It only stacks what the runs' own steps wrote, so it imports no analysis and is not re-run when the
analysis changes (its inputs are, and they re-run it through Snakemake's input trigger).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from icmeta.io import write_table


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
        # Axes are run-config fields, and no step writes a measured column named like one, so a
        # collision is a bug in the step that wrote the table, never a config to work around.
        shared = sorted(set(ident) & set(frame.columns))
        if shared:
            raise ValueError(
                f"a run's table has columns named like the run's identity ({', '.join(shared)}); "
                f"the step that writes it must name measurements apart from config fields"
            )
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
