"""The workflow step that stacks an experiment's runs into its tidy tables: what aggregate calls.

It only stacks what the runs' own steps wrote, after checking each summary is whole; a run's
metrics were checked when it was summarised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from icmeta.analysis.complete import read_summary
from icmeta.io import write_table
from icmeta.steps import removing_damaged

IDENTITY = ("experiment", "cell", "seed")  # with the block's axes, the columns that name a run


def with_run_columns(
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
        frames = []
        for path in paths:
            if paths is summary_csvs:
                with removing_damaged(path, "summarises the run again"):
                    frames.append(read_summary(path))
            else:
                frames.append(pd.read_csv(path))
        write_table(with_run_columns(frames, cells, seeds, experiment), out)
