"""A grid block's runs pooled per cell of its axes, for the phase diagram and the block's page.

Seeds of one cell can take different routes (one stays on the 1/T plateau while another climbs), so a
cell is described by its most common phase sequence, how many seeds share it and what the others did,
rather than by averages that no seed follows. The figure and the Markdown page read the same table, so
the numbers a reader sees in the two cannot differ.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import pandas as pd

from icmeta.analysis.behaviour import base_sequence

CIRCUITS = ("ncc", "scc", "fcc")
PHASE_ONSET = re.compile(r"phase(\d+)_onset")
NO_PHASE = "none"  # a run without any above-chance plateau
SOLVED_AT = 0.95  # the accuracy at which a run counts as having solved the task (a `step_acc_` column)


def modal(sequences: pd.Series) -> tuple[str, int]:
    """The most common phase sequence of a cell's seeds (ties: the one the lowest seed has) and its count."""
    counts = Counter(sequences)
    best = max(counts.values())
    return next(s for s in sequences if counts[s] == best), best


def others(sequences: pd.Series) -> str:
    """'NCC>FCC (1); NCC (1)': the sequences of the seeds that do not share the modal one, with their
    counts ('' if none), most common first."""
    first = modal(sequences)[0]
    counts = Counter(s for s in sequences if s != first)
    return "; ".join(f"{seq} ({n})" for seq, n in counts.most_common())


def arrows(sequence: str) -> str:
    """A sequence as a reader writes it: 'NCC → FCC'."""
    return sequence.replace(">", " → ")


def cell_stats(runs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """One row per cell (a value of each of `keys`; other axes and the seeds are pooled): the modal
    sequence and its plateau levels (median over the seeds that share it), the seeds' final accuracy
    range, when they solved the task, and each circuit's plateau against its prediction, with the seed
    spread."""
    runs = runs.copy()
    runs["ncc_gap"] = runs["ncc_acc"] - runs["ncc_prediction"]
    runs["scc_gap"] = runs["scc_acc"] - runs["scc_prediction"]
    # Seeds share a sequence when their phases use the same circuits, whichever pairs an FCC reads.
    runs["sequence"] = (
        runs["circuits_behaviour"].astype(object).fillna("").map(base_sequence).replace("", NO_PHASE)
    )
    # step_acc_<level> is -1 for a run that never reached the level
    solved = runs[f"step_acc_{SOLVED_AT}"]
    runs["solved_step"] = solved.where(solved >= 0)
    # summary.csv has phase<n>_onset and phase<n>_acc for the first few phases of a run, in order
    ordered = sorted(int(m[1]) for c in runs.columns if (m := PHASE_ONSET.fullmatch(c)))
    agg: dict[str, tuple[str, object]] = {
        "seeds": ("seed", "count"),
        "sequence": ("sequence", lambda s: modal(s)[0]),
        "agree": ("sequence", lambda s: modal(s)[1]),
        "others": ("sequence", others),
        "final_min": ("final_acc", "min"),
        "final_max": ("final_acc", "max"),
        "final_median": ("final_acc", "median"),
        # runs the convergence stop did not end: at the cap, still moving or never converged
        "at_cap": ("stopped", lambda s: int((~s.astype(bool)).sum())),
        "solved": ("solved_step", "count"),
        "solved_median": ("solved_step", "median"),
        "n_phases_mean": ("n_phases", "mean"),
        "n_phases_sd": ("n_phases", "std"),
        "ncc_gap_mean": ("ncc_gap", "mean"),
        "ncc_gap_sd": ("ncc_gap", "std"),
        "scc_gap_mean": ("scc_gap", "mean"),
        "scc_gap_sd": ("scc_gap", "std"),
        "ncc_gap_runs": ("ncc_gap", "count"),
        "scc_gap_runs": ("scc_gap", "count"),
        "transitions_mean": ("n_transitions", "mean"),
    }
    for c in CIRCUITS:
        agg[f"{c}_present"] = (f"{c}_onset", lambda s: float(s.notna().mean()))
        agg[f"{c}_onset_median"] = (f"{c}_onset", "median")
        agg[f"{c}_onset_iqr"] = (f"{c}_onset", lambda s: float(s.quantile(0.75) - s.quantile(0.25)))
    keys = list(keys)
    table = runs.groupby(keys).agg(**agg).reset_index()
    sharing = runs.merge(table[[*keys, "sequence"]], on=[*keys, "sequence"])
    levels = sharing.groupby(keys)[[f"phase{n}_acc" for n in ordered]].median()
    levels.columns = [f"level{n}" for n in ordered]
    return table.merge(levels, left_on=keys, right_index=True, how="left")
