"""The workflow step that stacks every probed model's tables: what the probe_tables rule calls."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from icmeta.io import write_table


def aggregate_probe(
    runs: Sequence[str],
    metrics_csvs: Sequence[str | Path],
    summary_csvs: Sequence[str | Path],
    out_metrics: str | Path,
    out_summaries: str | Path,
) -> None:
    """Stack every probed model's metrics and summary, each row naming its run."""
    for paths, out in ((metrics_csvs, out_metrics), (summary_csvs, out_summaries)):
        frames = [pd.read_csv(p).assign(run=run) for run, p in zip(runs, paths, strict=True)]
        table = pd.concat(frames, ignore_index=True)
        write_table(table[["run", *[c for c in table.columns if c != "run"]]], out)
