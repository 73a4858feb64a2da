"""When each phase begins, and how long a run sits at the NCC's accuracy, under each setting of the
first axis against the reference setting (on the clamp axis the unclamped run, otherwise the axis's
first value), with the seed spread (docs/clamps.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from icmeta.analysis.run import REACHED
from icmeta.figures.panels import finish, grid, reference_setting
from icmeta.figures.style import PALETTE, axis_label

ONSETS = {
    "phase1_onset": "first phase begins",
    "phase2_onset": "second phase begins",
    "phase3_onset": "third phase begins",
    "ncc_onset": "NCC phase begins",
    "scc_onset": "SCC phase begins",
    "fcc_onset": "FCC phase begins",
    "step_acc_0.5": "accuracy first ≥ 0.5",
    "step_acc_0.9": "accuracy first ≥ 0.9",
    "ncc_dwell": "steps at the NCC's accuracy (1/T)",
}
DURATIONS = {"ncc_dwell"}  # drawn on a linear axis: a duration may be 0
COLUMNS = 3  # panels wrap at three across: a page-wide row of nine shrank its text to 3 px


def onsets_long(runs: pd.DataFrame, axis: str, others: Sequence[str] = ()) -> pd.DataFrame:
    """axis, the other axes, seed, onset, step rows for every onset column that any run reaches (NaN:
    not reached)."""
    runs = runs.assign(**{axis: runs[axis].astype(str)})
    for column in (f"step_acc_{level}" for level in REACHED if f"step_acc_{level}" in runs):
        runs[column] = runs[column].where(runs[column] >= 0)  # -1: never reached
    present = [c for c in ONSETS if c in runs and runs[c].notna().any()]
    ident = [axis, *others, "seed"]
    return runs.melt(id_vars=ident, value_vars=present, var_name="onset", value_name="step")


def _censored_quantile(steps: pd.Series, q: float) -> float:
    """A quantile over every run, counting a run that never reached the onset as later than all that
    did (NaN when the quantile falls on such a run): medians over the reached runs alone would make an
    onset that most seeds miss look early."""
    ordered = np.sort(steps.fillna(np.inf).to_numpy())
    at = q * (len(ordered) - 1)
    low, high = ordered[int(np.floor(at))], ordered[int(np.ceil(at))]
    value = low if low == high else low + (at - np.floor(at)) * (high - low)  # linear, as np.quantile
    return float(value) if np.isfinite(value) else np.nan


def onset_table(long: pd.DataFrame, axis: str) -> pd.DataFrame:
    """Per setting of `axis` and onset: the median and quartiles over seeds (censoring-aware), how
    many seeds reached it, the median's shift against the reference setting, and the median of the
    per-seed shifts (same seed: same initial weights and data, so the pairing removes most of the
    seed-to-seed spread) over the runs where both reached it, each paired with the reference run of
    its own seed and setting of the other axes (any columns of `long` besides axis, onset and step)."""
    summary = (
        long.groupby([axis, "onset"], sort=False)["step"]
        .agg(median=lambda s: _censored_quantile(s, 0.5), q25=lambda s: _censored_quantile(s, 0.25),
             q75=lambda s: _censored_quantile(s, 0.75), seeds="count", runs="size")
        .reset_index()
    )  # fmt: skip
    ref = reference_setting(long[axis], axis)
    reference = summary[summary[axis] == ref].set_index("onset")["median"]
    summary["shift_vs_reference"] = summary["median"] - summary["onset"].map(reference)
    pairing = ["onset", *(c for c in long.columns if c not in (axis, "onset", "step"))]
    per_seed = long.pivot_table(index=pairing, columns=axis, values="step", dropna=False)
    paired = per_seed.sub(per_seed[ref], axis=0).stack().rename("shift").reset_index()
    paired = paired.groupby([axis, "onset"])["shift"].agg(paired_shift="median", pairs="count")
    return summary.join(paired, on=[axis, "onset"])


def _step_label(step: float, _pos: int | None = None) -> str:
    return f"{step / 1000:g}k" if step >= 1000 else f"{step:g}"


def _step_axis(ax: plt.Axes, log: bool) -> None:
    """Steps as 500, 2k, 10k at 1, 2 and 5 per decade, or at three round steps where the panel spans
    less than a factor of 5 (there 1, 2, 5 might leave one tick): a panel a third of the page wide
    cannot hold matplotlib's own labels (2.02 × 10³, 2.04 × 10³, ...), which ran into each other."""
    ax.set_xscale("log" if log else "linear")
    if log:
        low, high = ax.get_xlim()
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)) if high > 5 * low else MaxNLocator(3))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(_step_label))


def draw(
    tables: Mapping[str, pd.DataFrame], axes: Sequence[str], title: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """One panel per onset that any run reaches (phases by order and by circuit label, accuracy 0.5
    and 0.9) and for the steps spent at 1/T: every seed as a dot, the median as a bar (none where most
    seeds never reach the onset), the reference's median dashed. The table adds quartiles, how many
    seeds reached each onset, and the shift against the reference, of medians and paired by seed (within
    the same setting of the other axes)."""
    axis = axes[0]
    long = onsets_long(tables["runs"], axis, axes[1:])
    summary = onset_table(long, axis)
    order = list(dict.fromkeys(long[axis]))
    onsets = list(dict.fromkeys(long["onset"]))
    reference = summary[summary[axis] == reference_setting(order, axis)].set_index("onset")["median"]
    ncols = -(-len(onsets) // -(-len(onsets) // COLUMNS))  # rows filled evenly: 4 as 2 x 2
    fig, panels = grid(-(-len(onsets) // ncols), ncols, 3.0, 0.4 * len(order) + 1.6, sharey=True)
    colour = sns.color_palette(PALETTE)[0]
    for ax, onset in zip(panels.flat, onsets, strict=False):
        part = long[long["onset"] == onset].dropna(subset=["step"])
        sns.stripplot(part, x="step", y=axis, order=order, ax=ax, color=colour, size=4, jitter=0.15)
        med = summary[summary["onset"] == onset].set_index(axis)["median"].reindex(order).to_numpy()
        shown = np.isfinite(med)
        ax.scatter(med[shown], np.arange(len(order))[shown], marker="|", s=300, color="0.2", zorder=3)
        if not np.isnan(reference.get(onset, np.nan)):
            ax.axvline(reference[onset], color="0.4", ls="--", lw=0.8)
        _step_axis(ax, log=onset not in DURATIONS)
        ax.set_xlabel("steps" if onset in DURATIONS else "training step")
        ax.set_ylabel(axis_label(axis))
        ax.set_title(ONSETS[onset], fontsize=9)
    for ax in panels.flat[len(onsets) :]:
        fig.delaxes(ax)  # a last row with fewer onsets than columns
    finish(fig, title)
    return fig, summary
