"""One run's rows in any aggregated table of a block.

Every aggregated table (runs, phases, metrics, maps) leads with the run's identity: the block, its
cell path, its axis values and its seed (`icmeta.steps.tables`); no measured column shares a name
with them. Within a block a run is its cell and seed (`RUN_KEY`): a run's rows in another table are
the rows that agree with it there, and report, claims and figures all select them this way.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

RUN_KEY = ("cell", "seed")  # a run of a block, in every aggregated table


def rows_of(
    table: pd.DataFrame, runs: pd.DataFrame | pd.Series, keys: Sequence[str] = RUN_KEY
) -> pd.DataFrame:
    """The rows of `table` that agree with some row of `runs` (or the one run) on every column in
    `keys`. Numbers compare as numbers, so a seed typed 1 in one table matches 1.0 in a row that
    pandas upcast (`iterrows` over numeric columns) and "1" in a column read as text."""
    if table.empty:
        return table
    runs = runs.to_frame().T if isinstance(runs, pd.Series) else runs
    keys = list(keys)
    wanted = pd.MultiIndex.from_frame(_comparable(runs[keys]))
    return table[pd.MultiIndex.from_frame(_comparable(table[keys])).isin(wanted)]


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Each column as floats where every value is a number, else as text."""
    out = {}
    for name, column in frame.items():
        numbers = pd.to_numeric(column, errors="coerce")
        out[name] = numbers.astype(float) if numbers.notna().all() else column.astype(str)
    return pd.DataFrame(out, index=frame.index)


def phases_in_order(phases: pd.DataFrame, run: pd.Series) -> pd.DataFrame:
    """One run's phases, in the order the run went through them."""
    return rows_of(phases, run).sort_values("phase")
