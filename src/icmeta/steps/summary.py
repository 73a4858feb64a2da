"""The workflow step that analyses one finished run: what the summarise_run rule calls."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from icmeta.analysis.run import analyse_run, phase_maps
from icmeta.io import write_table


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
    configuration, shared by the seeds; the seed draws the task maps the SCC's bound is computed on."""
    summary, phases = analyse_run(pd.read_csv(metrics_csv), {**run, "seed": int(seed)}, settings)
    with np.load(attention_npz) as saved:
        maps = phase_maps(saved["steps"], saved["maps"], phases)
    write_table(maps, out_maps)
    write_table(phases, out_phases)
    write_table(pd.DataFrame([summary]), out_summary)
