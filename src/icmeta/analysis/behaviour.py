"""Which circuit a network uses, named by what its answers depend on (docs/phases.md, "Behavioural
circuit labels").

Attention maps say where a network looks, not what its answer needs. The evaluation sets hold the
contrasts that separate the paper's circuits by their definitions:

- NCC: the answer depends on the query item only, so it survives random context labels;
- SCC: on the query item and the multiset of context labels, so it survives labels permuted among the
  pairs and items moved to other classes, but not random labels;
- FCC: on which label goes with which item, so permuting the labels hurts it. Which pairs it reads
  comes from breaking one pair (the answer needs it) and breaking all but one (it alone suffices).

A difference counts only if the evaluation set's binomial noise could not produce it
(`noise_tolerance`). Every evaluation of a run uses the same fixed set, so averaging evaluations over
a plateau does not shrink that noise: the tolerance is taken at the set's size, not the number of
evaluations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

LABEL_PRIOR = "label prior"  # context-free and below 1/T: label frequencies, not a circuit
MIXED = "mixed"  # contrasts no single circuit gives
BEHAVIOURS = (LABEL_PRIOR, "NCC", "SCC", "FCC", MIXED)
# Columns of metrics.csv the label reads; the per-pair ones are `<kind><k>_acc` for k = 1..N.
CONTRAST_COLUMNS = ("acc", "rla_acc", "rand_label_acc", "all_pairs_broken_acc")
PAIR_KINDS = ("broken_pair", "only_pair")
# How many standard errors of the difference of two accuracies make it a difference: 3 keeps the
# chance of a false one under 0.3 % per contrast (two-sided), with 2N + 3 contrasts per reading.
DEFAULT_Z = 3.0
# The label-multiset bound is a Monte-Carlo estimate over 10,000 sequences (`theory.scc_bound`).
SCC_BOUND_SD = 0.003


def noise_tolerance(p: float, q: float, n: int, z: float = DEFAULT_Z) -> float:
    """The largest difference between accuracies p and q, each measured on n sequences, that the
    sets' binomial noise alone produces at z standard errors. The two sets share their sequences, so
    the true error of the difference is smaller; this bound errs toward "no difference"."""
    return z * math.sqrt((p * (1 - p) + q * (1 - q)) / n)


def level_tolerance(p: float, n: int, z: float = DEFAULT_Z, floor_sd: float = 0.0) -> float:
    """The largest distance between an accuracy p measured on n sequences and a fixed level that
    noise alone produces; `floor_sd` adds the level's own standard error (a Monte-Carlo bound's)."""
    return z * math.sqrt(p * (1 - p) / n + floor_sd**2)


@dataclass(frozen=True)
class Contrasts:
    """One network's accuracies on the id set and its interventions (NaN where not measured)."""

    acc: float
    rla_acc: float  # labels permuted among the pairs: multiset kept, pairing broken
    rand_label_acc: float  # every context label drawn at random
    all_pairs_broken_acc: float = math.nan  # every pair's item moved off its label, labels kept
    broken: tuple[float, ...] = ()  # per pair k: pair k's pairing broken
    only: tuple[float, ...] = ()  # per pair k: every pairing but k's broken

    @classmethod
    def from_row(cls, row: pd.Series, N: int) -> Contrasts:
        def get(name: str) -> float:
            return float(row[name]) if name in row.index else math.nan

        per_pair = {kind: tuple(get(f"{kind}{k}_acc") for k in range(1, N + 1)) for kind in PAIR_KINDS}
        return cls(*(get(c) for c in CONTRAST_COLUMNS), per_pair["broken_pair"], per_pair["only_pair"])


@dataclass(frozen=True)
class Reading:
    circuit: str  # one of BEHAVIOURS, or "" when the contrasts that decide it were not measured
    pairs: tuple[int, ...] = ()  # an FCC's pairs (1-based): needed (breaking it hurts) or sufficient


def read_circuit(c: Contrasts, n: int, ncc_ceiling: float, scc_ceiling: float | None, z: float) -> Reading:
    """The circuit whose signature the contrasts show; `n` is the evaluation set's size.

    ncc_ceiling is 1/T: a context-free network below it lives on label frequencies (LABEL_PRIOR).
    scc_ceiling is the label-multiset bound (None where undefined): a network that does not use the
    pairing but beats it reads more than the label multiset (which classes the context holds), so it
    is MIXED, as is one whose answer random labels improve.
    """

    def drop(other: float) -> float:  # how far `other` is below acc, beyond noise (<= 0: no drop)
        return c.acc - other - noise_tolerance(c.acc, other, n, z)

    def unchanged(other: float) -> bool:
        return abs(c.acc - other) <= noise_tolerance(c.acc, other, n, z)

    if math.isnan(c.acc) or math.isnan(c.rla_acc):
        return Reading("")
    if drop(c.rla_acc) > 0:
        needed = {k for k, a in enumerate(c.broken, 1) if drop(a) > 0}
        none = c.all_pairs_broken_acc
        sufficient = {
            k
            for k, a in enumerate(c.only, 1)
            if not math.isnan(none) and a - none > noise_tolerance(a, none, n, z)
        }
        return Reading("FCC", tuple(sorted(needed | sufficient)))
    if math.isnan(c.rand_label_acc):
        return Reading("")
    items_kept = math.isnan(c.all_pairs_broken_acc) or unchanged(c.all_pairs_broken_acc)
    if unchanged(c.rand_label_acc) and items_kept:
        below = c.acc < ncc_ceiling - level_tolerance(c.acc, n, z)
        return Reading(LABEL_PRIOR if below else "NCC")
    beats_bound = scc_ceiling is not None and c.acc > scc_ceiling + level_tolerance(c.acc, n, z, SCC_BOUND_SD)
    if drop(c.rand_label_acc) > 0 and items_kept and not beats_bound:
        return Reading("SCC")
    return Reading(MIXED)


def label(reading: Reading) -> str:
    """How tables print a reading: the circuit, with an FCC's pairs ("FCC[1]", "FCC[1,2,3,4]")."""
    if reading.circuit == "FCC" and reading.pairs:
        return f"FCC[{','.join(map(str, reading.pairs))}]"
    return reading.circuit


# Tab. 1's attention labels, as the behavioural circuit each claims: FCC1 is a full-context circuit
# that reads one pair; "unlabelled" claims none.
ATTENTION_CLAIMS = {"NCC": "NCC", "SCC": "SCC", "FCC": "FCC", "FCC1": "FCC"}


def base_circuit(label_text: str) -> str:
    """The circuit of a printed behavioural label, without an FCC's pairs: 'FCC[1,2]' -> 'FCC'."""
    return label_text.split("[")[0]


UNREAD = "?"  # a phase whose contrasts were not measured, as sequences print it


def base_sequence(sequence: str) -> str:
    """A run's phase sequence ('NCC>FCC[1]') without the pairs, an unread phase as '?': 'NCC>FCC'."""
    return ">".join(base_circuit(c) or UNREAD for c in sequence.split(">")) if sequence else ""


def same_circuit(behaviour: str, attention: str) -> bool:
    """Whether Tab. 1's attention label names the circuit the behaviour shows."""
    return ATTENTION_CLAIMS.get(attention) == base_circuit(behaviour)


def circuit_name(behaviour: str, attention: str) -> str:
    """A phase's circuit as tables print it: the behavioural label, with Tab. 1's attention label
    beside it where the two name different circuits ('NCC (Tab. 1: unlabelled)')."""
    if same_circuit(behaviour, attention):
        return behaviour or "–"
    return f"{behaviour or '–'} (Tab. 1: {attention})"


def full_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The evaluations that measured the secondary sets (the others leave them empty)."""
    if "rla_acc" not in metrics:
        return metrics.iloc[:0]
    return metrics[metrics["rla_acc"].notna()]


def read_rows(
    metrics: pd.DataFrame, N: int, n: int, ncc_ceiling: float, scc_ceiling: float | None, z: float
) -> pd.DataFrame:
    """The behavioural reading at every full evaluation: step, circuit, pairs (";"-joined)."""
    rows = []
    for _, row in full_rows(metrics).iterrows():
        r = read_circuit(Contrasts.from_row(row, N), n, ncc_ceiling, scc_ceiling, z)
        rows.append({"step": int(row["step"]), "circuit": r.circuit, "pairs": ";".join(map(str, r.pairs))})
    return pd.DataFrame(rows, columns=["step", "circuit", "pairs"])


def read_mean(
    metrics: pd.DataFrame, N: int, n: int, ncc_ceiling: float, scc_ceiling: float | None, z: float
) -> Reading:
    """The reading of the mean contrasts over the full evaluations of `metrics` (a plateau, or the
    last evaluations): steadier than one evaluation against training's own fluctuation."""
    full = full_rows(metrics)
    if full.empty:
        return Reading("")
    return read_circuit(Contrasts.from_row(full.mean(numeric_only=True), N), n, ncc_ceiling, scc_ceiling, z)


def regime_key(regime: str) -> str:
    """The suffix of a regime's summary columns: `steps_label_prior` for 'label prior'."""
    return regime.replace(" ", "_")


def regimes_in_order(run: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(regime, steps spent in it) for each regime a run's summary row says it entered, in the order
    it first did; empty for a summary without the regime columns."""
    seen = [
        (run[f"first_{regime_key(name)}"], name, run[f"steps_{regime_key(name)}"])
        for name in BEHAVIOURS
        if run.get(f"first_{regime_key(name)}", -1) >= 0
    ]
    return [(name, steps) for _, name, steps in sorted(seen)]


def time_in_regimes(readings: pd.DataFrame, last_step: int) -> dict[str, int]:
    """Per behaviour: training steps spent in it (each full evaluation counts until the next, the
    last until `last_step`) and its first step; no plateau detector involved. Keys
    `steps_<regime>` and `first_<regime>` with regime in BEHAVIOURS (spaces as underscores); a
    regime never seen has 0 steps and first step -1."""
    steps = readings["step"].to_numpy()
    spans = np.diff(np.append(steps, max(last_step, steps[-1] if len(steps) else 0)))
    out: dict[str, int] = {}
    for regime in BEHAVIOURS:
        key = regime_key(regime)
        here = (readings["circuit"] == regime).to_numpy()
        out[f"steps_{key}"] = int(spans[here].sum()) if len(steps) else 0
        out[f"first_{key}"] = int(steps[here][0]) if here.any() else -1
    return out


def confusion(attention: Sequence[str], behaviour: Sequence[str]) -> pd.DataFrame:
    """Counts of (attention label, behavioural label) pairs: rows Tab. 1's labels, columns behaviour."""
    table = pd.crosstab(
        pd.Series(list(attention), name="Tab. 1"), pd.Series(list(behaviour), name="behaviour")
    )
    return table
