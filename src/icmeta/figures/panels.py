"""Pieces shared by the figures: cells of a grid, phase shading and the log-step axis."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from icmeta.analysis.behaviour import LABEL_PRIOR
from icmeta.block import run_rows
from icmeta.settings.interventions import CLAMP_AXIS, NO_CLAMP

# Light yellow, orange, red, as in the paper's Fig. 2, then darker for any later phase; shading at low
# alpha stays distinguishable without relying on hue alone (phases are also numbered on the plot).
PHASE_COLOURS = sns.color_palette("YlOrRd", 6)[:5]
# The untrained network's label-prior stage is no circuit: grey, and named rather than numbered.
PRIOR_COLOUR, PRIOR_TEXT = "0.6", "prior"


def cell_label(row: pd.Series | dict, axes: Sequence[str]) -> str:
    return ", ".join(f"{a}={row[a]}" for a in axes)


def cells(table: pd.DataFrame, axes: Sequence[str]) -> Iterator[tuple[str, pd.DataFrame]]:
    """(label, rows) of each grid cell, in the order the cells first appear (the config's order)."""
    for key, rows in table.groupby(list(axes), sort=False):
        values = key if isinstance(key, tuple) else (key,)
        yield cell_label(dict(zip(axes, values, strict=True)), axes), rows


def step_list(column: pd.Series) -> list[int]:
    """The steps of a ';'-joined step column (`transition_steps`, `clamp_switches`) over its rows, in
    order. A lone step comes back from a CSV as a float ('200.0'), an empty cell as NaN."""
    cells = column.dropna().astype(str)
    return sorted({int(float(v)) for cell in cells for v in cell.split(";") if v})


def first_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """The cell's first seed: per-run views (maps, ΔAcc, metric switches) are not averaged, because
    seeds switch circuits at different steps and an average would smear every switch."""
    return rows[rows["seed"] == rows["seed"].min()]


def shaded_seed(phases: pd.DataFrame) -> int | None:
    """The one seed whose phases are shaded where the seeds have different numbers of phases, else
    None (seed medians)."""
    if "seed" in phases.columns and phases.groupby("seed")["phase"].nunique().nunique() > 1:
        return int(phases["seed"].min())
    return None


def _shaded_rows(phases: pd.DataFrame) -> pd.DataFrame:
    """The phases the shading reads: every seed's, or only `shaded_seed`'s where it names one."""
    seed = shaded_seed(phases)
    return phases if seed is None else phases[phases["seed"] == seed]


def phase_spans(phases: pd.DataFrame) -> list[tuple[int, float, float]]:
    """(phase number, start, end): the seed-median start of the rise and end of the plateau where
    every seed has as many phases, else the lowest seed's own spans.

    Where seeds pass through different numbers of plateaus, phase n is a different plateau in each,
    and medians per number draw spans that no run had, out of order and overlapping."""
    if phases.empty:
        return []
    phases = _shaded_rows(phases)
    spans = phases.groupby("phase").agg(start=("start_step", "median"), end=("plateau_end", "median"))
    return [(int(n), float(r.start), float(r.end)) for n, r in spans.iterrows()]


def prior_phases(phases: pd.DataFrame) -> set[int]:
    """The phase numbers that `phase_spans` shades as the label-prior stage: those whose behaviour is
    the label prior in every seed it shades (tables without behavioural labels have none)."""
    if "circuit_behaviour" not in phases.columns or phases.empty:
        return set()
    phases = _shaded_rows(phases)
    prior = phases["circuit_behaviour"].eq(LABEL_PRIOR).groupby(phases["phase"]).all()
    return {int(n) for n, is_prior in prior.items() if is_prior}


def shade_phases(ax: plt.Axes, phases: pd.DataFrame, first_step: float = 1) -> None:
    """Shade and number each detected phase from the start of its rise to the end of its plateau; the
    label-prior stage in grey, named "prior" (`prior_phases`) and left out of the numbering.

    A phase that starts before `first_step` (the first phase starts at step 0) is shaded from there:
    a log axis cannot show step 0, and a span reaching further left than the curves would widen it."""
    prior = prior_phases(phases)
    for n, start, end in phase_spans(phases):
        # numbered (and coloured) among the phases proper, as the claims count them: "prior, 1"
        number = n - sum(m < n for m in prior)
        colour = PRIOR_COLOUR if n in prior else PHASE_COLOURS[min(number, len(PHASE_COLOURS)) - 1]
        ax.axvspan(max(start, first_step), end, color=colour, alpha=0.25, lw=0)
        name = PRIOR_TEXT if n in prior else str(number)
        # on a white patch above the curves: runs that end near 1 otherwise draw over the number
        ax.text((max(start, first_step) * end) ** 0.5, 0.98, name, transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=7, zorder=5,
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85})  # fmt: skip
    seed = shaded_seed(phases)
    if seed is not None:  # say so, or a reader takes one seed's phases for every seed's
        ax.text(0.99, 0.02, f"shaded: seed {seed}'s phases", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7, color="0.3", zorder=5,
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85})  # fmt: skip


def log_steps(ax: plt.Axes, steps: Iterable[float] | None = None) -> None:
    """A log-step x axis; given the plotted `steps`, it spans exactly the first to the last of them,
    so that neither shading nor the default margin stretches it beyond the evaluations."""
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    if steps is not None:
        shown = [s for s in steps if s > 0]
        ax.set_xlim(min(shown), max(shown))


def positive_steps(table: pd.DataFrame) -> pd.DataFrame:
    """Drop step 0, which a log-step axis cannot show."""
    return table[table["step"] > 0]


def rows_of(table: pd.DataFrame, rows: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """Any experiment table (phases, runs) restricted to the runs of `rows`. A figure's rows name their
    cell by its axis values, as its plotted table does; within a block those and the seed are a run."""
    return run_rows.rows_of(table, rows, [*axes, "seed"])


def finish(fig: plt.Figure, title: str) -> None:
    """Title the figure and drop the axis labels a shared axis repeats inside a grid (the bottom row
    names a shared x axis, the left column a shared y axis), then lay it out."""
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        if spec is None:
            continue
        if len(ax.get_shared_x_axes().get_siblings(ax)) > 1 and not spec.is_last_row():
            ax.set_xlabel("")
        if len(ax.get_shared_y_axes().get_siblings(ax)) > 1 and not spec.is_first_col():
            ax.set_ylabel("")
    fig.suptitle(title)
    fig.tight_layout()


def key_below(fig: plt.Figure, *sources: plt.Axes, ncol: int = 4) -> None:
    """One legend for the whole figure, centred below its panels, from the entries of `sources`.

    Inside the first panel a legend covers the phase numbers along the panel's top edge and the
    early curves. Call it after the layout: the saved image's tight box takes the legend in."""
    named: dict[str, object] = {}
    for ax in sources:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            named.setdefault(label, handle)
    if not named:
        return
    fig.legend(list(named.values()), list(named), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(ncol, len(named)), fontsize=8, frameon=False)  # fmt: skip


def grid(nrows: int, ncols: int, width: float = 4.0, height: float = 3.0, **kw) -> tuple[plt.Figure, object]:
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)


# The thick seed mean is a running median over this many evaluations: at lr 0.01 single runs drop
# for one or two evaluations (an SGD spike), and with two or three seeds every such drop would show
# in the mean. A running median removes excursions shorter than half its window and leaves every
# monotone stretch (plateaus, rises) exactly as it is; the thin per-seed lines stay raw.
SMOOTH_EVALUATIONS = 5


def running_median(values: pd.Series, window: int = SMOOTH_EVALUATIONS) -> pd.Series:
    """Centred running median; near the ends the window shrinks symmetrically (the first and last
    values are kept), so that it stays odd and a monotone stretch stays exact there too."""
    data = values.to_numpy(dtype=float)
    n, half = len(data), window // 2
    out = [np.median(data[i - h : i + h + 1]) for i in range(n) for h in [min(half, i, n - 1 - i)]]
    return pd.Series(out, index=values.index, dtype=float)


SPLIT_SHARE = 0.1  # seeds further apart than this share of a panel's height count as split


def mean_with_seeds(
    ax: plt.Axes, rows: pd.DataFrame, column: str, colour, label: str | None, split_at: float = SPLIT_SHARE
) -> None:
    """Every seed as a thin line and their mean (its `running_median`) as a thick one, dotted where
    the seeds lie more than `split_at` apart (a tenth of an accuracy panel's height by default).

    Where seeds split, one staying on a plateau and another moving on, their mean is a level no run
    sits on (two seeds at 0.5 and 1.0 draw a false plateau at 0.75), so it is shown as a guide only.
    The mean ends where the first seed ends: runs the convergence stop ended early have no values
    after their stop, and a mean over the seeds still running would jump there. Empty values (a
    secondary metric between full evaluations, `optim.full_eval_every`) are left out, not drawn as gaps.
    """
    rows = rows.dropna(subset=[column])
    for _, run in rows.groupby("seed"):
        ax.plot(run["step"], run[column], color=colour, lw=0.6, alpha=0.35)
    by_step = rows.groupby("step")[column]
    complete = by_step.count() == rows["seed"].nunique()
    mean = running_median(by_step.mean()[complete])
    split = (running_median((by_step.max() - by_step.min())[complete]) > split_at).to_numpy()
    ax.plot(mean.index, np.where(split, np.nan, mean), color=colour, lw=1.8, label=label)
    if split.any():  # widened by one evaluation so that the dotted stretch meets the solid one
        near = split.copy()
        near[1:] |= split[:-1]
        near[:-1] |= split[1:]
        ax.plot(mean.index, np.where(near, mean, np.nan), color=colour, lw=1.2, ls=":")


def loss_limits(ax: plt.Axes, rows: pd.DataFrame, keys: Sequence[str]) -> float:
    """A loss axis from 0 to just above the largest seed mean: a single seed's SGD spike (several
    times the starting loss at lr 0.01) may leave the panel instead of squashing every curve.
    Returns the axis' top."""
    top = 1.05 * rows.groupby([*keys, "step"])["loss"].mean().max()
    ax.set_ylim(0, top)
    return top


def reference_setting(values: Iterable, axis: str) -> str:
    """The setting others are compared with (as a string): no clamp on the clamp axis, otherwise the
    first value in table order."""
    settings = list(dict.fromkeys(map(str, values)))
    return NO_CLAMP if axis == CLAMP_AXIS and NO_CLAMP in settings else settings[0]
