"""A finished run's files, read only when complete.

A run's `metrics.csv` is written last, atomically, so a crash never leaves half of one; but a disk
that fills, a copy cut short or a hand edit can, and a cut history reads as a shorter run (its last
row as the final accuracy, a stop that never happened). So each file is checked where it is read:
every evaluation from step 0 at `eval_every`, up to the run's cap or to a stop its rule explains,
with the accuracy and loss of every row; its attention maps are one per evaluation; a summary is one
row with its measurements.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from icmeta.errors import DamagedRunFile
from icmeta.settings.config import RunConfig

ALWAYS_MEASURED = ("step", "acc", "loss")  # every evaluation has them (the others may be left out)
SUMMARY_MEASURED = ("end_step", "final_acc", "final_loss", "n_phases")


def read_metrics(path: str | Path, run: RunConfig) -> pd.DataFrame:
    """The run's evaluation history, or `DamagedRunFile` saying what is missing from it."""
    frame = _read(path)
    if not Path(path).read_bytes().endswith(b"\n"):
        raise _damaged(path, "its last line is cut short")
    missing = [c for c in ALWAYS_MEASURED if c not in frame.columns]
    if missing:
        raise _damaged(path, f"it has no column {', '.join(missing)}")
    holes = frame[list(ALWAYS_MEASURED)].isna().any(axis=1)
    if holes.any():
        raise _damaged(path, f"its row of step {_step(frame, holes)} is incomplete")
    steps = frame["step"].to_numpy()
    last = int(steps[-1])
    every = run.optim.eval_every
    expected = np.unique(np.append(np.arange(0, last + 1, every), last))
    if not np.array_equal(steps, expected):
        raise _damaged(path, f"its evaluations are not every {every} steps from 0 to {last}")
    # The first and the last evaluation of a run that reached its cap are full: the last measures
    # whatever the first did.
    measured_first = frame.columns[frame.iloc[0].notna()]
    if last == run.optim.steps and frame.iloc[-1][measured_first].isna().any():
        raise _damaged(path, f"its row of step {last} is incomplete")
    if last != run.optim.steps:
        stop = run.optim.stop
        history = list(zip(steps.tolist(), frame["acc"].tolist(), strict=True))
        if last > run.optim.steps or stop is None or not stop.reached(history):
            why = "no stop rule is set" if stop is None else f"its stop rule ({stop}) does not end it there"
            raise _damaged(path, f"it ends at step {last}, the run trains to {run.optim.steps} and {why}")
    return frame


def read_attention(path: str | Path, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A run's attention maps (steps, maps), one per evaluation in `steps` (its metrics'), or
    `DamagedRunFile`."""
    try:
        with np.load(path) as saved:
            found, maps = saved["steps"], saved["maps"]
    except FileNotFoundError:
        raise _damaged(path, "it does not exist") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise _damaged(path, f"it cannot be read as the run's maps ({type(err).__name__})") from None
    if maps.ndim != 5 or len(maps) != len(found):
        raise _damaged(path, f"it holds maps of shape {maps.shape} for {len(found)} steps")
    if not np.array_equal(found, steps):
        raise _damaged(path, f"its {len(found)} map steps are not the run's {len(steps)} evaluations")
    return found, maps


def read_summary(path: str | Path) -> pd.DataFrame:
    """A run's one-row summary, or `DamagedRunFile`."""
    frame = _read(path)
    if len(frame) != 1:
        raise _damaged(path, f"it has {len(frame)} rows, not one")
    missing = [c for c in SUMMARY_MEASURED if c not in frame.columns or frame[c].isna().any()]
    if missing:
        raise _damaged(path, f"it lacks {', '.join(missing)}")
    return frame


def _read(path: str | Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise _damaged(path, "it does not exist") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise _damaged(path, f"it cannot be read as a table ({type(err).__name__})") from None
    if frame.empty:
        raise _damaged(path, "it has no rows")
    return frame


def _step(frame: pd.DataFrame, rows: pd.Series) -> str:
    step = frame.loc[rows, "step"].iloc[0]
    return "?" if pd.isna(step) else str(int(step))


def _damaged(path: str | Path, what: str) -> DamagedRunFile:
    return DamagedRunFile(f"{path} is damaged: {what}")
