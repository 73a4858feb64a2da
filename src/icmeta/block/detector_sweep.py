"""How much a block's phases depend on the plateau detector's settings.

Phases are plateaus found by a detector with three judgement calls: how flat is flat (`flat_slope`),
how long a plateau must last (`min_decades`) and how far apart two levels must be to be two phases
(`min_jump`). A verdict that changes when one of them is halved or doubled rests on the detector, not
on the curves; this module re-detects every run's phases under each such setting from the block's
evaluation history, so that the claims can be scored under all of them (`icmeta.block.claims`).
Each re-detected plateau carries its behavioural label, as the published phases do, so that the
claims leave out the label-prior stage under every setting as they do under the default one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import pandas as pd

from icmeta.analysis import behaviour
from icmeta.analysis.phases import PlateauDetector, plateaus
from icmeta.analysis.run import BehaviourReader
from icmeta.block.run_rows import rows_of

SWEPT = ("flat_slope", "min_decades", "min_jump")
FACTORS = (0.5, 2.0)
DEFAULT = "default"
COLUMNS = ["setting", "phase", "plateau_start", "plateau_end", "plateau_acc", "circuit_behaviour"]


def detector_settings(base: PlateauDetector) -> dict[str, PlateauDetector]:
    """The base detector and each swept parameter halved and doubled, one at a time."""
    out = {DEFAULT: base}
    for name in SWEPT:
        for factor in FACTORS:
            out[f"{name} ×{factor:g}"] = replace(base, **{name: getattr(base, name) * factor})
    return out


def sweep_phases(
    metrics: pd.DataFrame,
    runs: pd.DataFrame,
    keys: Sequence[str],
    base: PlateauDetector,
    reader_of: Callable[[pd.Series], BehaviourReader],
) -> pd.DataFrame:
    """Every run's phases (plateau levels, spans and behaviour) under each detector setting: one row
    per run, setting and phase, led by the run's identity `keys`. A run's floor is its summary's
    `chance_acc`, the one its published phases were found with, so the default setting gives its
    published phases. `reader_of` gives a run's behaviour reader from its summary row."""
    settings = detector_settings(base)
    rows = []
    for _, run in runs.iterrows():
        history = rows_of(metrics, run, keys).sort_values("step")
        steps, acc = history["step"].to_numpy(), history["acc"].to_numpy(dtype=float)
        identity = {key: run[key] for key in keys}
        reader = reader_of(run)
        for name, detector in settings.items():
            found = [p for p in plateaus(steps, acc, detector) if p.level >= run["chance_acc"]]
            for k, p in enumerate(found, start=1):
                span = {"plateau_start": p.start, "plateau_end": p.end, "plateau_acc": p.level}
                circuit = behaviour.label(reader.plateau(history, p.start, p.end))
                rows.append({**identity, "setting": name, "phase": k, **span, "circuit_behaviour": circuit})
    return pd.DataFrame(rows, columns=[*keys, *COLUMNS])
