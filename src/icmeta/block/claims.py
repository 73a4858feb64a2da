"""The paper's headline claims, each measured on published run and phase tables with a rule that
says when it holds, so that the verdicts are as reproducible as the numbers behind them.

Phases are read by their accuracy, not by their circuit label: Tab. 1's labels miss circuits that
reach a phase's accuracy another way (docs/phases.md), while the claims are about the plateaus. At
every T, a plateau whose behaviour is the label prior (a context-free answer below 1/T, where the
tables carry behavioural labels) is the untrained network's first stage, not a phase. A run's
**Phase 1** is a plateau within the tolerance of its 1/T (`ncc_prediction`), the last one included
(a run still at 1/T when training ends has not skipped it); its **Phase 2** a plateau above 1/T by
more than the tolerance that the run went on from: not its last, unless its late accuracy lies above
that plateau by more than the tolerance (the step cap ended a climb before a final plateau formed).

Seeds are draws, so a claim's rule is read as a statement about a typical run, decided from k of n
runs with a 95 % Wilson interval for the share of runs that meet it (`Finding.verdict`): it holds
when the interval lies above one half, does not hold when it lies below, and is undecided when it
contains one half. A claim that something disappears is not decidable where its baseline (the
setting the paper compares with) shows that thing in none of its runs.

A run the step cap cut before it found its solution is censored: a longer run could still give it
a Phase 2, a higher final accuracy or another RLA. Where a claim's rule could still change for such
runs, the verdict is read twice, with those runs counted as failing and as meeting it; it stands
only if both readings agree, and is undecided otherwise, so that no verdict rests on where the cap
happened to cut.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from math import comb

import numpy as np
import pandas as pd

from icmeta.analysis.behaviour import LABEL_PRIOR, regime_key, regimes_in_order
from icmeta.block.run_rows import phases_in_order, rows_of

DEFAULT_T, DEFAULT_EPS = 3, 0.1  # the paper's default task


@dataclass(frozen=True)
class Runs:
    """One block's published tables: `runs` (one row per run) and `phases` (one row per phase)."""

    runs: pd.DataFrame
    phases: pd.DataFrame

    def where(self, **values: float) -> Runs:
        """The runs whose axis columns have `values` (an axis the block lacks selects nothing)."""
        keep = pd.Series(True, index=self.runs.index)
        for axis, value in values.items():
            if axis not in self.runs.columns:
                return Runs(self.runs.iloc[:0], self.phases.iloc[:0])
            keep &= np.isclose(self.runs[axis].astype(float), value)
        return Runs(self.runs[keep], self.phases)

    def phases_of(self, run: pd.Series) -> pd.DataFrame:
        """The run's phases in order, its label-prior stage left out (where labels are published)."""
        phases = phases_in_order(self.phases, run)
        if "circuit_behaviour" in phases.columns:
            phases = phases[phases["circuit_behaviour"] != LABEL_PRIOR]
        return phases


@dataclass(frozen=True)
class Baseline:
    """The runs a 'skips X' claim compares with, and how many of them show X at all."""

    name: str  # e.g. "K = 64"
    showing: int
    tested: int


Z95 = 1.959964  # the normal quantile of a two-sided 95 % interval


def wilson(met: int, tested: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a share of `met` in `tested`: unlike the normal approximation it
    stays inside [0, 1] and keeps its coverage at the few runs a block has."""
    if tested == 0:
        return 0.0, 1.0
    share = met / tested
    centre = share + z * z / (2 * tested)
    half = z * np.sqrt(share * (1 - share) / tested + z * z / (4 * tested * tested))
    scale = 1 + z * z / tested
    return max(0.0, (centre - half) / scale), min(1.0, (centre + half) / scale)


def decided(met: int, tested: int) -> str:
    """The verdict that `met` of `tested` runs give: where the share's interval lies against one half."""
    low, high = wilson(met, tested)
    if low > 0.5:
        return "holds"
    return "does not hold" if high < 0.5 else "undecided"


@dataclass(frozen=True)
class Finding:
    measured: str  # the value with its seed spread, in words a reader can check against the tables
    met: int  # runs that meet the claim's rule
    tested: int  # runs the claim is measured on
    baseline: Baseline | None = None  # for claims that something disappears
    open_met: int = 0  # runs that meet the rule now, but that a longer run could still turn
    open_unmet: int = 0  # runs that do not meet it now, but that a longer run could still turn

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.met, self.tested)

    @property
    def bounds(self) -> tuple[int, int]:
        """The fewest and the most runs that could meet the rule once the censored ones finish."""
        return self.met - self.open_met, self.met + self.open_unmet

    @property
    def verdict(self) -> str:
        if self.tested == 0:
            return "not tested"
        if self.baseline is not None and self.baseline.showing == 0:
            return "not decidable"
        fewest, most = (decided(k, self.tested) for k in self.bounds)
        return fewest if fewest == most else "undecided"

    @property
    def still_open(self) -> int:
        """The runs the step cap cut where a longer run could still turn this claim's count."""
        return self.open_met + self.open_unmet

    @property
    def counted(self) -> str:
        """'7 of 10 (0.40–0.89)', with the runs the cap left open and the baseline where there are
        any: '1 of 10 (0.02–0.40); 3 open at the cap: 1–4 of 10 (0.02–0.69)'."""
        if self.tested == 0:
            return "–"
        low, high = self.interval
        text = f"{self.met} of {self.tested} ({low:.2f}–{high:.2f})"
        if self.still_open:
            fewest, most = self.bounds
            low, high = wilson(fewest, self.tested)[0], wilson(most, self.tested)[1]
            text += (
                f"; {self.still_open} open at the cap: "
                f"{fewest}–{most} of {self.tested} ({low:.2f}–{high:.2f})"
            )
        if self.baseline is not None:
            b = self.baseline
            text += f"; baseline {b.name}: {b.showing} of {b.tested}"
        return text


def spread(values: pd.Series, digits: int = 2) -> str:
    """'0.50 ± 0.01' (sample standard deviation over the runs); one value alone without a spread."""
    values = values.dropna().astype(float)
    if values.empty:
        return "–"
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def phase_one(phases: pd.DataFrame, one_over_t: float, tolerance: float) -> pd.DataFrame:
    """The run's plateaus at its 1/T, the last one included: a run that never leaves 1/T (stuck at
    the no-context answer when training ends) has a Phase 1 and nothing after it. With one task the
    no-context answer is the solution itself, not a phase before it."""
    if one_over_t >= 1 - tolerance:
        return phases.iloc[:0]
    return phases[(phases["plateau_acc"] - one_over_t).abs() <= tolerance]


def phase_two(phases: pd.DataFrame, one_over_t: float, tolerance: float, late_acc: float) -> pd.DataFrame:
    """The run's plateaus above its 1/T (by more than the tolerance) that it went on from.

    The last plateau is where the run ended up, its solution, unless its late accuracy lies above it
    by more than the tolerance: then the step cap ended a climb before a final plateau formed, and
    the last plateau was a phase on the way."""
    above = phases[phases["plateau_acc"] > one_over_t + tolerance]
    if len(phases) and not late_acc > phases["plateau_acc"].iloc[-1] + tolerance:
        above = above[above.index != phases.index[-1]]
    return above


Rule = Callable[[pd.Series, pd.DataFrame], bool]  # (a run's summary row, its phases) -> met

FINISHED_ACC = 0.99  # the convergence stop's accuracy: a run that reached it has found its solution


def unfinished(run: pd.Series) -> bool:
    """Cut by the step cap before it found its solution, so that a longer run could still change
    what it shows: not ended by the convergence stop, and its late accuracy (else its final one)
    below FINISHED_ACC. A table without a `stopped` column (a hand-made one) counts every run as
    finished; an unreadable entry in it counts as not stopped."""
    if "stopped" not in run.index:
        return False
    stopped = str(run["stopped"]).strip().lower() in ("true", "1", "1.0")
    late = pd.to_numeric(run.get("late_acc", np.nan), errors="coerce")
    if pd.isna(late):
        late = pd.to_numeric(run.get("final_acc", np.nan), errors="coerce")
    return not stopped and not bool(late >= FINISHED_ACC)


def either_way(run: pd.Series, phases: pd.DataFrame) -> bool:
    """Open runs of a claim about where a run ends: every unfinished run."""
    return unfinished(run)


def before_one_over_t(tol: float) -> Rule:
    """Unfinished runs the cap cut before they passed 1/T: a Phase 1 may still come."""
    return lambda run, phases: unfinished(run) and float(run["late_acc"]) <= run["ncc_prediction"] + tol


def still_unmet(rule: Rule, may_change: Rule = either_way) -> Rule:
    """Open runs of a claim that something appears: runs that `may_change` and do not show it yet."""
    return lambda run, phases: may_change(run, phases) and not rule(run, phases)


def still_met(rule: Rule, may_change: Rule = either_way) -> Rule:
    """Open runs of a claim that something is absent: runs that `may_change` and have not shown it."""
    return lambda run, phases: may_change(run, phases) and rule(run, phases)


def has_phase_one(tol: float) -> Rule:
    return lambda run, phases: len(phase_one(phases, run["ncc_prediction"], tol)) > 0


def no_phase_one(tol: float) -> Rule:
    return lambda run, phases: not has_phase_one(tol)(run, phases)


def has_phase_two(tol: float) -> Rule:
    return lambda run, phases: len(_phase_two_of(run, phases, tol)) > 0


def no_phase_two(tol: float) -> Rule:
    return lambda run, phases: not has_phase_two(tol)(run, phases)


def _phase_two_of(run: pd.Series, phases: pd.DataFrame, tol: float) -> pd.DataFrame:
    return phase_two(phases, run["ncc_prediction"], tol, run.get("late_acc", np.nan))


def count(block: Runs, rule: Rule) -> int:
    """How many of the block's runs meet `rule`."""
    return tally(block, rule)[0]


def tally(block: Runs, rule: Rule, could_change: Rule | None = None) -> tuple[int, int, int]:
    """(runs meeting `rule`, those of them `could_change`, those not meeting it that could)."""
    met = open_met = open_unmet = 0
    for _, run in block.runs.iterrows():
        phases = block.phases_of(run)
        meets = bool(rule(run, phases))
        moves = could_change is not None and bool(could_change(run, phases))
        met += meets
        open_met += meets and moves
        open_unmet += moves and not meets
    return met, open_met, open_unmet


def finding(
    measured: str, block: Runs, rule: Rule, could_change: Rule | None, baseline: Baseline | None = None
) -> Finding:
    """The claim's finding on one set of runs, with the runs the step cap left open."""
    met, open_met, open_unmet = tally(block, rule, could_change)
    return Finding(measured, met, len(block.runs), baseline, open_met, open_unmet)


def first_levels(block: Runs, pick: Callable[[pd.Series, pd.DataFrame], pd.DataFrame]) -> pd.Series:
    """The plateau level of the first phase `pick` finds in each run (NaN where it finds none)."""
    out = []
    for _, run in block.runs.iterrows():
        found = pick(run, block.phases_of(run))
        out.append(found["plateau_acc"].iloc[0] if len(found) else np.nan)
    return pd.Series(out, dtype=float)


def _below_one_over_t(run: pd.Series, phases: pd.DataFrame, tol: float) -> pd.Series:
    """Which of the run's plateaus lie below its 1/T by more than the tolerance."""
    return phases["plateau_acc"] < run["ncc_prediction"] - tol


def _phase_one_at_one_over_t(blocks: Mapping[str, Runs], tol: float) -> Finding:
    grid = blocks["phase_diagram"].where(eps=DEFAULT_EPS)
    parts = []
    for t in sorted(v for v in grid.runs["T"].unique() if v >= 2):
        # A plateau below 1/T lies at the label prior's level: where tables carry no behaviour labels
        # to leave that stage out, it is counted apart, not averaged into the level the claim is about.
        cell = grid.where(T=t)
        below = first_levels(cell, lambda run, p: p[_below_one_over_t(run, p, tol)].iloc[:1]).dropna()
        first = first_levels(cell, lambda run, p: p[~_below_one_over_t(run, p, tol)].iloc[:1])
        part = f"T = {int(t)}: {spread(first)} (1/T = {1 / t:.2f}"
        if len(below):
            part += f"; first below 1/T in {len(below)} of {len(cell.runs)} runs: {spread(below)}"
        parts.append(part + ")")
    at_two_or_more = Runs(grid.runs[grid.runs["T"].astype(float) >= 2], grid.phases)
    one = has_phase_one(tol)
    found = finding("", at_two_or_more, one, still_unmet(one, before_one_over_t(tol)))
    counted = f"; a Phase 1 at 1/T in {found.met} of {found.tested} runs"
    return replace(found, measured="first plateau not below 1/T at " + "; ".join(parts) + counted)


def _single_jump_at_t1(blocks: Mapping[str, Runs], tol: float) -> Finding:
    cell = blocks["single_task"].where(T=1)
    # the levels, not only their count: an early plateau far below the solution reads differently
    # from a solution that the detector split in two
    levels = "; ".join(
        " → ".join(f"{a:.2f}" for a in cell.phases_of(run)["plateau_acc"]) or "none"
        for _, run in cell.runs.iterrows()
    )
    measured = f"plateaus per run: {levels or '–'}"
    return finding(measured, cell, lambda r, p: len(p) == 1, either_way)


def _phase_two_near_75(block: str) -> Callable[[Mapping[str, Runs], float], Finding]:
    def measure(blocks: Mapping[str, Runs], tol: float) -> Finding:
        runs = blocks[block]
        levels = first_levels(runs, lambda run, phases: _phase_two_of(run, phases, tol))
        found = f"{int(levels.notna().sum())} of {len(levels)} runs"
        bound = spread(runs.runs["scc_prediction"])
        measured = f"Phase 2 at {spread(levels)} in {found} (label-multiset bound {bound})"
        return finding(measured, runs, near_75(tol), could_reach_75(tol))

    return measure


def near_75(tol: float) -> Rule:
    return lambda run, phases: bool(
        (_phase_two_of(run, phases, tol)["plateau_acc"] - 0.75).abs().le(tol).any()
    )


def could_reach_75(tol: float) -> Rule:
    """Unfinished runs without a Phase 2 near 0.75 that have not passed it yet: at or below it when
    the cap came, or resting on a plateau near it that a longer run may go on from."""

    def could(run: pd.Series, phases: pd.DataFrame) -> bool:
        if not still_unmet(near_75(tol))(run, phases):
            return False
        resting = len(phases) > 0 and abs(phases["plateau_acc"].iloc[-1] - 0.75) <= tol
        return resting or float(run["late_acc"]) <= 0.75 + tol

    return could


def _perfect_at_the_end(block: str) -> Callable[[Mapping[str, Runs], float], Finding]:
    def measure(blocks: Mapping[str, Runs], tol: float) -> Finding:
        final = blocks[block].runs["final_acc"]
        measured = f"final accuracy {spread(final, 3)} (lowest {final.min():.3f})"
        return finding(measured, blocks[block], perfect, still_unmet(perfect))

    return measure


def _final_rla(block: str) -> Callable[[Mapping[str, Runs], float], Finding]:
    def measure(blocks: Mapping[str, Runs], tol: float) -> Finding:
        rla = blocks[block].runs["final_rla_acc"]
        return finding(f"final RLA {spread(rla)}", blocks[block], rla_near_paper(tol), either_way)

    return measure


def perfect(run: pd.Series, phases: pd.DataFrame) -> bool:
    return run["final_acc"] >= FINISHED_ACC


def rla_near_paper(tol: float) -> Rule:
    return lambda run, phases: 0.6 - tol <= run["final_rla_acc"] <= 0.7 + tol


def _k32_skips_phase_one(blocks: Mapping[str, Runs], tol: float) -> Finding:
    cell = blocks["classes_K"].where(K=32)
    with_one = count(cell, has_phase_one(tol))
    dwell = spread(cell.runs["ncc_dwell"] / 1000, 1)
    measured = (
        f"a Phase 1 in {with_one} of {len(cell.runs)} runs; steps within the tolerance of 1/T: {dwell}k"
    )
    skips = no_phase_one(tol)
    baseline = _baseline(blocks["classes_K"].where(K=64), "K = 64", has_phase_one(tol))
    return finding(measured, cell, skips, still_met(skips, before_one_over_t(tol)), baseline)


def _large_k_skips_phase_two(blocks: Mapping[str, Runs], tol: float) -> Finding:
    cells = [blocks["classes_K"].where(K=k) for k in (128, 256)]
    parts = [
        f"K = {k}: a Phase 2 in {count(cell, has_phase_two(tol))} of {len(cell.runs)} runs"
        for k, cell in zip((128, 256), cells, strict=True)
    ]
    skips = no_phase_two(tol)
    baseline = _baseline(blocks["classes_K"].where(K=64), "K = 64", has_phase_two(tol))
    return finding("; ".join(parts), pooled(cells), skips, still_met(skips), baseline)


def pooled(cells: list[Runs]) -> Runs:
    """The runs of several cells of one block as one set (their phase table is the block's)."""
    return Runs(pd.concat([cell.runs for cell in cells]), cells[0].phases)


def _baseline(runs: Runs, name: str, rule: Rule) -> Baseline:
    return Baseline(name, count(runs, rule), len(runs.runs))


@dataclass(frozen=True)
class NoiseSweep:
    """Where a noise claim reads its runs: `block` sweeps ε at T = 3; its baseline, the paper's
    default noise ε = 0.1, is the runs of `baseline` that `baseline_where` selects (the same block for
    the phase diagram, the ten-seed block of the same encoding for a sweep without ε = 0.1)."""

    block: str
    baseline: str
    baseline_where: tuple[tuple[str, float], ...]

    def cell(self, blocks: Mapping[str, Runs], eps: float) -> Runs:
        return blocks[self.block].where(T=DEFAULT_T, eps=eps)

    def default(self, blocks: Mapping[str, Runs]) -> Runs:
        if self.baseline not in blocks:
            return Runs(pd.DataFrame(), pd.DataFrame())
        return blocks[self.baseline].where(**dict(self.baseline_where))


PHASE_DIAGRAM_NOISE = NoiseSweep("phase_diagram", "phase_diagram", (("T", DEFAULT_T), ("eps", DEFAULT_EPS)))
PAPER_TEXT_NOISE = NoiseSweep("noise_paper_text", "main_paper_text", (("T", DEFAULT_T),))


def _noise_skips(
    sweep: NoiseSweep, eps_values: tuple[float, ...], skip_one: bool
) -> Callable[[Mapping[str, Runs], float], Finding]:
    """At T = 3 and each ε: no Phase 2 (and, with `skip_one`, no Phase 1) in any run, against the
    sweep's baseline at ε = 0.1, the paper's default noise."""

    def measure(blocks: Mapping[str, Runs], tol: float) -> Finding:
        one, two = has_phase_one(tol), has_phase_two(tol)

        def skips(run: pd.Series, phases: pd.DataFrame) -> bool:
            return not two(run, phases) and not (skip_one and one(run, phases))

        cells = [sweep.cell(blocks, eps) for eps in eps_values]
        parts = [
            f"ε = {e:g}: Phase 1 in {count(c, one)}, Phase 2 in {count(c, two)} of {len(c.runs)} runs"
            for e, c in zip(eps_values, cells, strict=True)
        ]
        shows = (lambda run, phases: one(run, phases) or two(run, phases)) if skip_one else two
        name = f"ε = {DEFAULT_EPS:g}" + ("" if sweep.baseline == sweep.block else f" ({sweep.baseline})")
        baseline = _baseline(sweep.default(blocks), name, shows)
        return finding("; ".join(parts), pooled(cells), skips, still_met(skips), baseline)

    return measure


def _two_heads_smooth(blocks: Mapping[str, Runs], tol: float) -> Finding:
    heads = blocks["heads"]
    counts = {h: ", ".join(str(int(n)) for n in heads.where(heads=h).runs["n_phases"]) or "–" for h in (1, 2)}
    two = heads.where(heads=2)
    measured = f"phases per run: 1 head {counts[1]}; 2 heads {counts[2]}"
    baseline = _baseline(heads.where(heads=1), "1 head", lambda r, p: len(p) >= 2)
    return finding(measured, two, smooth, still_met(smooth), baseline)


def smooth(run: pd.Series, phases: pd.DataFrame) -> bool:
    return len(phases) <= 1


NO_DETECTOR = "no detector involved"
UNMEASURED = "not measured (published without the random-label set)"


def regime_time(cell: Runs, regime: str) -> str:
    """How many runs spent time in `regime` by behaviour (`icmeta.analysis.behaviour`, read at every full
    evaluation, no plateau detector), how long, and from which step."""
    key = regime_key(regime)
    if f"steps_{key}" not in cell.runs:
        return f"{regime}: {UNMEASURED}"
    steps, first = cell.runs[f"steps_{key}"].astype(float), cell.runs[f"first_{key}"].astype(float)
    spent = steps > 0
    if not spent.any():
        return f"{regime} in 0 of {len(steps)} runs"
    spans = ", ".join(
        f"{s / 1000:g}k from {f / 1000:g}k" for s, f in zip(steps[spent], first[spent], strict=True)
    )
    return f"{regime} in {int(spent.sum())} of {len(steps)} runs (steps: {spans})"


def _near_one_over_t(cell: Runs) -> str:
    if "ncc_dwell" not in cell.runs:
        return "steps at 1/T: not measured"
    dwell = cell.runs["ncc_dwell"].astype(float)
    return f"within the tolerance of 1/T for > 0 steps in {int((dwell > 0).sum())} of {len(dwell)} runs"


def _at_one_over_t(cell: Runs) -> str:
    return f"{_near_one_over_t(cell)}; {regime_time(cell, 'NCC')}"


def _free_phase_one(blocks: Mapping[str, Runs]) -> str:
    grid = blocks["phase_diagram"].where(eps=DEFAULT_EPS)
    return _at_one_over_t(Runs(grid.runs[grid.runs["T"].astype(float) >= 2], grid.phases))


def _free_k32(blocks: Mapping[str, Runs]) -> str:
    return _at_one_over_t(blocks["classes_K"].where(K=32))


def _free_regime(block: str, regime: str, **where: float) -> Callable[[Mapping[str, Runs]], str]:
    return lambda blocks: regime_time(blocks[block].where(**where), regime)


def regime_sequence(cell: Runs) -> str:
    """Each run's behavioural regimes in the order it first entered them, with the steps spent in
    each: the detector-free counterpart of its phase sequence."""
    if "steps_NCC" not in cell.runs:
        return UNMEASURED
    sequences = [
        " → ".join(f"{name} {steps / 1000:g}k" for name, steps in regimes_in_order(run))
        for _, run in cell.runs.iterrows()
    ]
    return "; ".join(sequences) or "–"


def _free_sequence(block: str, **where: float) -> Callable[[Mapping[str, Runs]], str]:
    return lambda blocks: regime_sequence(blocks[block].where(**where))


def _free_large_k(blocks: Mapping[str, Runs]) -> str:
    return "; ".join(f"K = {k}: {regime_time(blocks['classes_K'].where(K=k), 'SCC')}" for k in (128, 256))


def _free_noise(
    sweep: NoiseSweep, eps_values: tuple[float, ...], regime: str
) -> Callable[[Mapping[str, Runs]], str]:
    def read(blocks: Mapping[str, Runs]) -> str:
        return "; ".join(f"ε = {e:g}: {regime_time(sweep.cell(blocks, e), regime)}" for e in eps_values)

    return read


@dataclass(frozen=True)
class Claim:
    paper: str  # what the paper reports, in the project's words
    block: str  # the published block it is measured on
    figure: str  # the block's figure that shows it
    rule: str  # when it holds, in words
    measure: Callable[[Mapping[str, Runs], float], Finding]
    # The same question read without the plateau detector: behavioural regimes at every evaluation.
    free: Callable[[Mapping[str, Runs]], str]
    also_reads: tuple[str, ...] = ()  # other blocks it reads, e.g. the one holding its baseline


PAPER_TEXT = " (token positions, fixed label vectors)"


def _default_setting(block: str, encoding: str) -> tuple[Claim, ...]:
    """The claims about the default setting, measured on a block that trains it under one encoding."""
    return (
        Claim(
            paper=f"At the default setting a second plateau lies near 75 %{encoding}",
            block=block,
            figure="accuracy_loss",
            rule="each run has a Phase 2 within the tolerance of 0.75",
            measure=_phase_two_near_75(block),
            free=_free_regime(block, "SCC"),
        ),
        Claim(
            paper=f"Training ends at 100 % accuracy{encoding}",
            block=block,
            figure="accuracy_loss",
            rule="final accuracy ≥ 0.99",
            measure=_perfect_at_the_end(block),
            free=lambda blocks: NO_DETECTOR,
        ),
        Claim(
            paper=f"Final random-label accuracy (RLA) is about 0.6–0.7{encoding}",
            block=block,
            figure="random_label",
            rule="final RLA within the tolerance of [0.6, 0.7]",
            measure=_final_rla(block),
            free=lambda blocks: NO_DETECTOR,
        ),
    )


def _noise(sweep: NoiseSweep, encoding: str) -> tuple[Claim, ...]:
    """The claims about larger item noise, measured on a block that sweeps ε under one encoding."""
    return (
        Claim(
            paper=f"Larger noise skips Phase 2{encoding}",
            block=sweep.block,
            figure="phase_diagram",
            rule="no Phase 2 in any run at T = 3, ε = 0.5 or 0.75",
            measure=_noise_skips(sweep, (0.5, 0.75), skip_one=False),
            free=_free_noise(sweep, (0.5, 0.75), "SCC"),
            also_reads=(sweep.baseline,),
        ),
        Claim(
            paper=f"ε = 1 skips Phases 1 and 2{encoding}",
            block=sweep.block,
            figure="phase_diagram",
            rule="neither Phase 1 nor Phase 2 in any run at T = 3, ε = 1",
            measure=_noise_skips(sweep, (1.0,), skip_one=True),
            free=_free_noise(sweep, (1.0,), "NCC"),
            also_reads=(sweep.baseline,),
        ),
    )


CLAIMS = (
    Claim(
        paper="Phase 1 plateaus at 1/T, the share of the most frequent task, for every T ≥ 2",
        block="phase_diagram",
        figure="phase_diagram",
        rule="each run at ε = 0.1 has a plateau within the tolerance of 1/T",
        measure=_phase_one_at_one_over_t,
        free=_free_phase_one,
    ),
    Claim(
        paper="With one task (T = 1) accuracy rises in a single jump",
        block="single_task",
        figure="accuracy_loss",
        rule="each run at T = 1 has exactly one phase",
        measure=_single_jump_at_t1,
        free=_free_sequence("single_task", T=1),
    ),
    *_default_setting("main", ""),
    *_default_setting("main_paper_text", PAPER_TEXT),
    Claim(
        paper="K = 32 classes skip Phase 1",
        block="classes_K",
        figure="learning_curves",
        rule="no Phase 1 in any run at K = 32",
        measure=_k32_skips_phase_one,
        free=_free_k32,
    ),
    Claim(
        paper="K ≥ 128 classes skip Phase 2",
        block="classes_K",
        figure="learning_curves",
        rule="no Phase 2 in any run at K = 128 or 256",
        measure=_large_k_skips_phase_two,
        free=_free_large_k,
    ),
    *_noise(PHASE_DIAGRAM_NOISE, ""),
    Claim(
        paper="Two heads per layer give a smooth curve without plateaus",
        block="heads",
        figure="learning_curves",
        rule="at most one phase in every two-head run",
        measure=_two_heads_smooth,
        free=_free_sequence("heads", heads=2),
    ),
    *_noise(PAPER_TEXT_NOISE, PAPER_TEXT),
)


def claims_markdown(blocks: Mapping[str, Runs], tolerance: float) -> str:
    """The claim table: the paper's claim, the measured value with its spread, the rule, the runs
    that meet it with their interval (and baseline), the verdict, the same question read without the
    plateau detector, and the figure that shows it (linked relative to docs/results/)."""
    lines = [
        "| claim (paper) | measured | holds when | runs meeting it (95 % interval) | verdict "
        "| without the detector | figure |",
        "|---|---|---|---|---|---|---|",
    ]
    for claim in CLAIMS:
        if claim.block in blocks:
            found, free = claim.measure(blocks, tolerance), claim.free(blocks)
            link = f"[{claim.block}/{claim.figure}]({claim.block}/figures/{claim.figure}.png)"
        else:  # no figure to link to yet
            found, free = Finding(f"block `{claim.block}` not published", 0, 0), "–"
            link = "–"
        lines.append(
            f"| {claim.paper} | {found.measured} | {claim.rule} | {found.counted} | **{found.verdict}** "
            f"| {free} | {link} |"
        )
    return "\n".join(lines) + "\n"


def with_phases(block: Runs, phases: pd.DataFrame) -> Runs:
    """The block's runs with other phases (say, one detector setting's), their phase counts to match."""
    runs = block.runs.copy()
    runs["n_phases"] = [len(rows_of(phases, run)) for _, run in runs.iterrows()]
    return Runs(runs, phases)


def verdicts_across(verdicts: list[str]) -> str:
    """'holds under every setting', or how many settings give each verdict: 'holds under 5,
    undecided under 2'."""
    counts = Counter(verdicts)
    if len(counts) == 1:
        return f"{verdicts[0]} under every setting"
    return ", ".join(f"{verdict} under {n}" for verdict, n in counts.items())


def sensitivity_markdown(
    blocks: Mapping[str, Runs], sweeps: Mapping[str, pd.DataFrame], tolerance: float
) -> str:
    """Each claim's runs that meet its rule (of those tested, with the runs the step cap left open)
    under every detector setting of the block's sweep (`icmeta.block.detector_sweep`), and the
    verdicts they give: a verdict that moves between columns rests on the detector. Claims on blocks
    without a sweep are listed as such."""
    settings = list(dict.fromkeys(s for sweep in sweeps.values() for s in sweep["setting"]))
    if not settings:
        return "No published block carries a detector sweep yet.\n"
    lines = [
        "| claim (paper) | " + " | ".join(settings) + " | verdict |",
        "|---|" + "---|" * (len(settings) + 1),
    ]
    unswept, unpublished = [], []
    for claim in CLAIMS:
        if claim.block not in blocks:
            unpublished.append(claim.paper)
            continue
        if claim.block not in sweeps:
            unswept.append(claim.paper)
            continue
        sweep = sweeps[claim.block]
        cells, verdicts = [], []
        for setting in settings:
            swept = {
                **blocks,
                claim.block: with_phases(blocks[claim.block], sweep[sweep["setting"] == setting]),
            }
            found = claim.measure(swept, tolerance)
            cells.append(
                f"{found.met} of {found.tested}" + (f" ({found.still_open} open)" if found.still_open else "")
            )
            verdicts.append(found.verdict)
        lines.append(f"| {claim.paper} | " + " | ".join(cells) + f" | {verdicts_across(verdicts)} |")
    if unswept:
        lines += [
            "",
            "Not swept (block published without its evaluation history): " + "; ".join(unswept) + ".",
        ]
    if unpublished:
        lines += ["", "Not swept (block not published): " + "; ".join(unpublished) + "."]
    return "\n".join(lines) + "\n"


def fisher_exact(a: int, n_a: int, b: int, n_b: int) -> float:
    """Two-sided p of Fisher's exact test that two blocks share one rate (a of n_a against b of n_b):
    the probability, with the margins fixed, of a split at most as likely as the one seen. Exact at
    the ten-odd runs a block has, where a normal approximation is not."""
    total, hits = n_a + n_b, a + b

    def chance(k: int) -> float:
        return comb(n_a, k) * comb(n_b, hits - k) / comb(total, hits)

    seen = chance(a)
    ks = range(max(0, hits - n_b), min(n_a, hits) + 1)
    return min(1.0, sum(p for p in map(chance, ks) if p <= seen * (1 + 1e-9)))


def in_scc(run: pd.Series, phases: pd.DataFrame) -> bool:
    return run["steps_SCC"] > 0


def least_different(a: Finding, b: Finding) -> float:
    """Fisher's p with each block's open runs resolved to bring the two shares closest: the largest p
    any outcome of the censored runs could give."""
    return max(
        fisher_exact(k_a, a.tested, k_b, b.tested)
        for k_a in range(a.bounds[0], a.bounds[1] + 1)
        for k_b in range(b.bounds[0], b.bounds[1] + 1)
    )


COMPARED = (  # (question, the runs-table column it needs, rule and open runs given the tolerance)
    ("a Phase 2 at any level", "late_acc", has_phase_two, lambda tol: still_unmet(has_phase_two(tol))),
    ("a Phase 2 within the tolerance of 0.75", "late_acc", near_75, could_reach_75),
    ("time in the semi-context regime (without the detector)", "steps_SCC",
     lambda tol: in_scc, lambda tol: still_unmet(in_scc)),
    ("final accuracy ≥ 0.99", "final_acc", lambda tol: perfect, lambda tol: still_unmet(perfect)),
)  # fmt: skip


def comparison_markdown(blocks: Mapping[str, Runs], first: str, second: str, tolerance: float) -> str:
    """The same questions asked of two blocks (say, one setting under two encodings): k of n with the
    95 % interval in each (and the runs the cap left open), and Fisher's exact p for a difference
    between them as seen; where runs are open, a second p with them counted against the difference."""
    if first not in blocks or second not in blocks:
        return f"Not compared: `{first}` and `{second}` are not both published.\n"
    lines = [f"| question | `{first}` | `{second}` | Fisher's exact p |", "|---|---|---|---|"]
    for question, column, rule, could_change in COMPARED:
        if any(column not in blocks[b].runs for b in (first, second)):
            lines.append(f"| {question} | {UNMEASURED} | | |")
            continue
        a, b = (finding("", blocks[n], rule(tolerance), could_change(tolerance)) for n in (first, second))
        p = f"{fisher_exact(a.met, a.tested, b.met, b.tested):.2g}"
        if a.bounds != (a.met, a.met) or b.bounds != (b.met, b.met):
            p += f"; {least_different(a, b):.2g} with the open runs resolved against the difference"
        lines.append(f"| {question} | {a.counted} | {b.counted} | {p} |")
    return "\n".join(lines) + "\n"


BLOCKS = tuple(dict.fromkeys(b for claim in CLAIMS for b in (claim.block, *claim.also_reads)))
