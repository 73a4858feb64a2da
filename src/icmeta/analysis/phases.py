"""Phases of a training run: the paper's ΔAcc rule, a plateau detector for noisy or slow curves, and
circuit labels from the Table-1 attention patterns.

The paper marks a transition wherever held-out accuracy rises by more than 0.025 over 100 steps. On a
finite evaluation set the accuracy's own noise crosses that threshold, and a transition spread over
thousands of steps never does; so phases are also found as *plateaus*: stretches of log-step on which
the accuracy, averaged in log-spaced bins, stays flat. A phase is an above-chance plateau; its circuit
is read from the attention metrics on that plateau.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from icmeta.analysis.behaviour import DEFAULT_Z
from icmeta.network.circuits import METRICS, layer_means
from icmeta.settings.spec import Settings, setting

# Paper Tab. 1: the dominant pattern of (layer 1, layer 2) in each phase's circuit.
CIRCUITS = {("bigram", "bigram"): "NCC", ("label_attn", "bigram"): "SCC", ("chunk", "label_attn"): "FCC"}
# Not in Tab. 1: a circuit that beats every context-free ceiling while its layer-2 query reads one
# (item, label) pair. One pair of the context identifies the task, so it is a full-context circuit that
# uses a single pair where the paper's FCC spreads Label Attention over all of them.
ONE_PAIR = "FCC1"


@dataclass(frozen=True)
class PaperRule(Settings):
    """The paper's ΔAcc rule (config key `analysis.paper_rule`)."""

    section = "analysis.paper_rule"
    dt: int = setting(100, "Δt of the paper's ΔAcc, in steps", lo=1)
    threshold: float = setting(0.025, "ΔAcc above which the paper calls a phase transition", above=0.0)


@dataclass(frozen=True)
class PlateauDetector(Settings):
    """Parameters of the plateau detector (config key `analysis.plateaus`).

    bins_per_decade: log-step resolution; each bin averages the evaluations inside it, which tames
        evaluation noise more at later steps, where there are more evaluations per bin.
    flat_slope: largest change of binned accuracy per bin that still counts as flat.
    min_decades: shortest plateau, in decades of log-step (0.12 ≈ a factor 1.3 in steps).
    min_jump: plateaus whose levels differ by less are one phase.
    chance_margin: a plateau within this of chance is the untrained start, not a phase; chance is the
        larger of 1/L and the untrained network's accuracy (its label prior need not be uniform).
    """

    section = "analysis.plateaus"
    bins_per_decade: int = setting(20, "log-step bins per decade", lo=1)
    flat_slope: float = setting(0.02, "largest change per bin that is still flat", above=0.0)
    min_decades: float = setting(0.12, "shortest plateau, in decades of log-step", above=0.0)
    min_jump: float = setting(0.05, "plateaus closer in level than this are one phase", above=0.0)
    chance_margin: float = setting(0.05, "a plateau within this of chance is the untrained start", lo=0.0)


@dataclass(frozen=True)
class AnalysisSettings(Settings):
    """How runs are analysed (config key `analysis`); changing it re-runs analysis and figures only."""

    section = "analysis"
    paper_rule: PaperRule = setting(PaperRule, "the paper's ΔAcc rule: a rise > threshold over dt steps")
    plateaus: PlateauDetector = setting(PlateauDetector, "the plateau detector for noisy and slow curves")
    circuit_min_score: float = setting(
        0.25, "how far from uniform attention to 1 a Tab. 1 pattern must be", lo=0.0, hi=1.0
    )
    circuit_acc_tolerance: float = setting(
        0.05,
        "a phase more accurate than its pattern's circuit allows (1/T, SCC bound) by more than this is "
        "unlabelled",
        lo=0.0,
    )
    circuit_pair_focus: float = setting(
        0.5,
        "share of the layer-2 query's context attention on one pair that makes an unlabelled phase above "
        "every ceiling FCC1",
        above=0.0,
        hi=1.0,
    )
    behaviour_z: float = setting(
        DEFAULT_Z,
        "standard errors of the evaluation set's binomial noise a difference between two accuracies must "
        "exceed to count, for the behavioural circuit labels",
        above=0.0,
    )


DEFAULTS = AnalysisSettings()


def paper_transitions(
    metrics: pd.DataFrame, dt: int = DEFAULTS.paper_rule.dt, threshold: float = DEFAULTS.paper_rule.threshold
) -> list[int]:
    """Steps where held-out accuracy rises by more than `threshold` over `dt` steps (paper §3).

    Consecutive evaluations above threshold belong to one jump; a jump is reported at its first step.
    Accuracy is read at multiples of `dt` only, so a finer eval cadence does not change the rule.
    """
    acc = metrics.set_index("step")["acc"]
    grid = acc[acc.index % dt == 0]
    if len(grid) < 2:
        return []
    steps = grid.index.to_numpy()
    gaps_ok = np.diff(steps) == dt
    rising = (np.diff(grid.to_numpy()) > threshold) & gaps_ok
    starts = rising & ~np.concatenate([[False], rising[:-1]])
    return [int(s) for s in steps[1:][starts]]


@dataclass(frozen=True)
class Plateau:
    start: int  # first step of the flat stretch
    end: int  # last step of the flat stretch
    level: float  # mean accuracy over it


def _binned(steps: np.ndarray, acc: np.ndarray, per_decade: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean accuracy in log-spaced step bins: (first step, last step, mean) of each non-empty bin."""
    keep = steps > 0
    steps, acc = steps[keep], acc[keep]
    idx = np.floor(np.log10(steps) * per_decade + 1e-9).astype(int)
    firsts, lasts, means = [], [], []
    for b in np.unique(idx):
        sel = idx == b
        firsts.append(steps[sel][0])
        lasts.append(steps[sel][-1])
        means.append(acc[sel].mean())
    return np.array(firsts), np.array(lasts), np.array(means)


def plateaus(steps: np.ndarray, acc: np.ndarray, p: PlateauDetector = DEFAULTS.plateaus) -> list[Plateau]:
    """Flat stretches of accuracy on log-step, merged when their levels are within `min_jump`."""
    first, last, mean = _binned(np.asarray(steps), np.asarray(acc, dtype=float), p.bins_per_decade)
    if len(mean) < 2:
        return []
    # Bins i..j are flat when every step between neighbours inside them is small. The bins at a
    # plateau's ends belong to it: demanding a small step on both sides of every bin would cut a bin
    # off each end, and miss a short plateau such as the 1/T passage of a run at the paper's lr.
    small = np.abs(np.diff(mean)) <= p.flat_slope
    runs = []
    for i, j in ((a, b + 1) for a, b in _true_runs(small)):
        # A long gentle drift is flat bin by bin; split a run wherever it has drifted by min_jump.
        a = i
        for k in range(i, j + 1):
            if np.ptp(mean[a : k + 1]) > p.min_jump:
                runs.append((a, k - 1))
                a = k
        runs.append((a, j))
    runs = [
        (int(first[a]), int(last[b]))
        for a, b in runs
        if math.log10(last[b]) - math.log10(first[a]) >= p.min_decades
    ]

    steps, acc = np.asarray(steps), np.asarray(acc, dtype=float)

    def level(a: int, b: int) -> float:
        return float(acc[(steps >= a) & (steps <= b)].mean())

    merged: list[Plateau] = []
    for a, b in runs:
        if merged and abs(level(a, b) - merged[-1].level) < p.min_jump:
            a = merged.pop().start
        merged.append(Plateau(a, b, level(a, b)))
    return [_refine(q, steps, acc, p.min_jump / 2, merged) for q in merged]


def _true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of every maximal run of True."""
    edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


MAX_OUTLIERS = 2  # evaluation noise may put this many points in a row off a plateau's level


def _refine(q: Plateau, steps: np.ndarray, acc: np.ndarray, tol: float, all_: list[Plateau]) -> Plateau:
    """Move a plateau's ends from bin resolution to evaluation resolution: extend them over the
    evaluations within `tol` of its level (tolerating a few noisy ones), short of its neighbours."""
    k = all_.index(q)
    lo = all_[k - 1].end if k > 0 else -1
    hi = all_[k + 1].start if k + 1 < len(all_) else math.inf

    def walk(i: int, direction: int, inside: Callable[[int], bool]) -> int:
        best, misses = i, 0
        while 0 <= i + direction < len(steps) and inside(int(steps[i + direction])):
            i += direction
            if abs(acc[i] - q.level) <= tol:
                best, misses = i, 0
            else:
                misses += 1
                if misses > MAX_OUTLIERS:
                    break
        return best

    start = walk(int(np.searchsorted(steps, q.start)), -1, lambda s: s > max(lo, 0))
    end = walk(int(np.searchsorted(steps, q.end, side="right")) - 1, 1, lambda s: s < hi)
    return Plateau(int(steps[start]), int(steps[end]), q.level)


def uniform_baselines(N: int) -> dict[str, float]:
    """Each metric's value under uniform causal attention (docs/method.md), the zero of its score."""
    return {
        "bigram": 1 / (2 * N + 1),
        "label_attn": N / (2 * N + 1),
        "chunk": float(np.mean([1 / (2 * k) for k in range(1, N + 1)])),
    }


def metric_means(metrics: pd.DataFrame) -> dict[str, pd.Series]:
    """Each Tab. 2 metric per layer (head mean), averaged over the rows of `metrics`."""
    return {name: layer_means(metrics, name).mean() for name in METRICS}


def dominant_patterns(metrics: pd.DataFrame, N: int, min_score: float) -> list[str]:
    """Per layer, the metric furthest above its uniform baseline (head mean), or 'none' if none is
    at least `min_score` of the way from uniform to 1."""
    return patterns_of(metric_means(metrics), N, min_score)


def patterns_of(means: Mapping[str, pd.Series], N: int, min_score: float) -> list[str]:
    """`dominant_patterns` from the layer means of `metric_means`."""
    base = uniform_baselines(N)
    out = []
    for layer in means["bigram"].index:
        scores = {name: (means[name][layer] - base[name]) / (1 - base[name]) for name in METRICS}
        best = max(scores, key=scores.__getitem__)
        out.append(best if scores[best] >= min_score else "none")
    return out


def circuit_label(
    patterns: list[str],
    acc: float,
    ceilings: Mapping[str, float] | None = None,
    tolerance: float = DEFAULTS.circuit_acc_tolerance,
) -> str:
    """Tab. 1's name for the first two layers' patterns, or 'unlabelled' when none fits.

    A circuit also has to be able to give the plateau's accuracy: an NCC cannot beat 1/T and an SCC
    cannot beat the label-multiset bound (`ceilings`, circuit -> accuracy), so a pattern whose phase
    is more accurate than its circuit allows (by more than `tolerance`) is not that circuit. Without
    this check a model that keeps its layer-2 bigram head while solving the task through weaker,
    content-dependent label attention would be called an NCC at 100 % accuracy.
    """
    circuit = CIRCUITS.get(tuple(patterns[:2]), "unlabelled")
    ceiling = (ceilings or {}).get(circuit)
    if ceiling is not None and acc > ceiling + tolerance:
        return "unlabelled"
    return circuit


@dataclass(frozen=True)
class PairReading:
    """How one layer's query spreads its context attention over the pairs (head mean)."""

    top_pair: int  # 1-based k of the pair (x_k, l_k) the query attends most
    focus: float  # that pair's share of the query's attention on all context pairs: 1/N spread, 1 one pair
    top_attention: float  # the query's attention on that pair, p[q, x_k] + p[q, l_k]
    # Share of the query's context attention that lands on labels rather than items (1/2 uniform).
    # Label Attention counts the query's self-attention against it: a query that keeps most of its
    # attention on itself but gives the rest to labels scores below uniform, yet reads the labels.
    label_share: float


def pair_readings(metrics: pd.DataFrame, N: int) -> list[PairReading]:
    """Per layer, the query's reading of the context pairs, from the per-pair columns averaged over
    `metrics` rows; empty when the table has no per-pair columns."""
    labels, items = [], []
    for k in range(1, N + 1):
        label, item = layer_means(metrics, f"q_label{k}"), layer_means(metrics, f"q_item{k}")
        if label.empty or item.empty:
            return []
        labels.append(label.mean())  # layer -> attention on l_k
        items.append(item.mean())
    to_labels = pd.concat(labels, axis=1).to_numpy(dtype=float)  # layers x pairs
    pairs = to_labels + pd.concat(items, axis=1).to_numpy(dtype=float)
    out = []
    for on_labels, values in zip(to_labels, pairs, strict=True):
        top = int(np.argmax(values))
        total = values.sum()
        if total > 0:
            share, labels = float(values[top] / total), float(on_labels.sum() / total)
        else:  # a query that cannot see the pairs (a circuit-restricted layer): no shares to take
            share, labels = math.nan, math.nan
        out.append(PairReading(top + 1, share, float(values[top]), labels))
    return out


def pair_count(columns: Iterable[str]) -> int:
    """The N of a metrics table, from its per-pair columns (`q_label1_L1H1`, …); 0 without them."""
    names = set(columns)
    k = 0
    while f"q_label{k + 1}_L1H1" in names:
        k += 1
    return k


def reads_one_pair(reading: PairReading, N: int, min_focus: float) -> bool:
    """At least `min_focus` of the query's context attention on one pair, and on that pair at least
    what uniform attention would give it (2 of 2N+1 tokens): a focus on near-zero attention is noise."""
    return reading.focus >= min_focus and reading.top_attention >= 2 / (2 * N + 1)


def chance_level(untrained_acc: float, L: int, detector: PlateauDetector) -> float:
    """The accuracy a plateau must reach to be a phase rather than the untrained start: the larger
    of 1/L and the untrained network's accuracy (its label prior need not be uniform), plus the
    detector's chance margin."""
    return max(1 / L, untrained_acc) + detector.chance_margin


def detect_phases(
    metrics: pd.DataFrame,
    N: int,
    L: int,
    detector: PlateauDetector = DEFAULTS.plateaus,
    min_score: float = DEFAULTS.circuit_min_score,
    ceilings: Mapping[str, float] | None = None,
    tolerance: float = DEFAULTS.circuit_acc_tolerance,
    pair_focus: float = DEFAULTS.circuit_pair_focus,
) -> pd.DataFrame:
    """One row per phase (above-chance plateau): where its rise began, its plateau, accuracy, circuit.

    `ceilings` and `tolerance` are passed to `circuit_label`. A phase Tab. 1 leaves unlabelled is
    `ONE_PAIR` when it beats every ceiling by more than `tolerance` and its layer-2 query reads one
    pair (`reads_one_pair` with `pair_focus`)."""
    steps, acc = metrics["step"].to_numpy(), metrics["acc"].to_numpy()
    found = plateaus(steps, acc, detector)
    chance = chance_level(float(acc[0]), L, detector)
    rows, previous_end = [], int(steps[0])
    for p in found:
        if p.level < chance:
            previous_end = p.end
            continue
        on = metrics[(metrics["step"] >= p.start) & (metrics["step"] <= p.end)]
        means = metric_means(on)
        patterns = patterns_of(means, N, min_score)
        readings = pair_readings(on, N)
        circuit = circuit_label(patterns, p.level, ceilings, tolerance)
        beats_ceilings = p.level > max((ceilings or {}).values(), default=0.0) + tolerance
        if circuit == "unlabelled" and beats_ceilings and len(readings) > 1:
            circuit = ONE_PAIR if reads_one_pair(readings[1], N, pair_focus) else circuit
        rows.append(
            {
                "phase": len(rows) + 1,
                "start_step": previous_end,
                "plateau_start": p.start,
                "plateau_end": p.end,
                "plateau_acc": p.level,
                "circuit": circuit,
                **{f"L{i + 1}_pattern": pat for i, pat in enumerate(patterns)},
                **{f"L{layer}_{name}": float(v) for name in METRICS for layer, v in means[name].items()},
                **{f"L{i + 1}_top_pair": r.top_pair for i, r in enumerate(readings)},
                **{f"L{i + 1}_pair_focus": r.focus for i, r in enumerate(readings)},
                **{f"L{i + 1}_label_share": r.label_share for i, r in enumerate(readings)},
            }
        )
        previous_end = p.end
    return pd.DataFrame(rows, columns=_columns(rows))


def _columns(rows: list[dict]) -> list[str]:
    base = ["phase", "start_step", "plateau_start", "plateau_end", "plateau_acc", "circuit"]
    extra = sorted({k for r in rows for k in r if k not in base})
    return base + extra
