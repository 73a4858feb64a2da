"""Per-run analysis of a finished run: its phases and a one-row summary for experiment tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from icmeta.analysis import behaviour
from icmeta.analysis.behaviour import circuit_name
from icmeta.analysis.phases import (
    CIRCUITS,
    ONE_PAIR,
    AnalysisSettings,
    chance_level,
    detect_phases,
    pair_readings,
    paper_transitions,
)
from icmeta.network.circuits import MAP_METRICS, layer_means
from icmeta.settings.config import RunConfig
from icmeta.settings.interventions import switch_steps
from icmeta.task.theory import ncc_prediction, scc_bound, scc_bound_supported


def analyse_run(
    metrics: pd.DataFrame, run: Mapping[str, Any], analysis: Mapping[str, Any]
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The run's summary row and its phases, with the detector settings of config key `analysis`
    (omitted keys keep their defaults).
    `run` must name its seed: the label-multiset bound depends on the task maps the seed draws, and
    a missing seed would silently fall back to the default one."""
    if "seed" not in run:
        raise ValueError("analyse_run needs the run's seed in `run` (its task maps set the SCC's bound)")
    cfg = RunConfig.from_dict(run)
    settings = AnalysisSettings.from_dict(analysis)
    predictions = {"NCC": ncc_prediction(cfg), "SCC": scc_bound(cfg) if scc_bound_supported(cfg) else None}
    detector = settings.plateaus
    phases = detect_phases(
        metrics,
        N=cfg.task.N,
        L=cfg.task.L,
        detector=detector,
        min_score=settings.circuit_min_score,
        ceilings={k: v for k, v in predictions.items() if v is not None},
        tolerance=settings.circuit_acc_tolerance,
        pair_focus=settings.circuit_pair_focus,
    )
    read = BehaviourReader(
        cfg.task.N, cfg.optim.eval_size, predictions["NCC"], predictions["SCC"], settings.behaviour_z
    )
    phases = read.phases(metrics, phases)
    jumps = paper_transitions(metrics, settings.paper_rule.dt, settings.paper_rule.threshold)
    summary = run_summary(metrics, jumps)
    summary.update(read.summary(metrics))
    summary["paper_dt"] = settings.paper_rule.dt
    summary["paper_threshold"] = settings.paper_rule.threshold
    summary["n_phases"] = len(phases)
    # The detector's floor for this run, so that its phases can be re-detected from the block's
    # tables alone (`icmeta.block.detector_sweep`).
    summary["chance_acc"] = chance_level(float(metrics["acc"].iloc[0]), cfg.task.L, detector)
    for kind in ("attention", "behaviour"):
        summary[f"circuits_{kind}"] = ">".join(phases[f"circuit_{kind}"]) if len(phases) else ""
    summary["ncc_prediction"] = predictions["NCC"]
    summary["scc_prediction"] = predictions["SCC"]
    # A run the convergence stop ended: its last evaluation is its end, and `steps` says where.
    summary["stopped"] = summary["end_step"] < cfg.optim.steps
    summary["model_circuit"] = cfg.model.circuit
    summary["clamp_switches"] = ";".join(map(str, clamp_switches(cfg)))
    summary["circuit_prediction"] = restricted_prediction(cfg.model.circuit, predictions)
    summary["ncc_dwell"] = steps_near(metrics, predictions["NCC"], settings.circuit_acc_tolerance)
    for circuit in (*CIRCUITS.values(), ONE_PAIR):
        first = phases[phases["circuit_attention"] == circuit].head(1)
        summary.update(_phase_columns(circuit.lower(), first))
    for layer, reading in enumerate(pair_readings(metrics.tail(1), cfg.task.N), start=1):
        summary[f"final_top_pair_L{layer}"] = reading.top_pair
        summary[f"final_pair_focus_L{layer}"] = reading.focus
        summary[f"final_label_share_L{layer}"] = reading.label_share
    for n in range(1, ORDERED_PHASES + 1):
        summary.update(_phase_columns(f"phase{n}", phases[phases["phase"] == n]))
    return summary, phases


class BehaviourReader:
    """The behavioural circuit labels of one run (`icmeta.analysis.behaviour`), with its evaluation-set size
    and its circuits' ceilings: 1/T and the label-multiset bound (None where undefined)."""

    def __init__(self, N: int, n: int, ncc: float, scc: float | None, z: float) -> None:
        self.args = (N, n, ncc, scc, z)

    @classmethod
    def of_summary(cls, run: Mapping[str, Any], summary: Mapping[str, Any], z: float) -> BehaviourReader:
        """The reader of a run given its configuration and its summary row, whose ceilings it reads
        (`ncc_prediction`, `scc_prediction`; a missing bound is undefined), as published tables hold them."""
        cfg = RunConfig.from_dict(run)
        scc = pd.to_numeric(summary.get("scc_prediction"), errors="coerce")
        ncc = float(summary["ncc_prediction"])
        return cls(cfg.task.N, cfg.optim.eval_size, ncc, None if pd.isna(scc) else float(scc), z)

    def plateau(self, metrics: pd.DataFrame, start: float, end: float) -> behaviour.Reading:
        """The behaviour on the evaluations from `start` to `end`, read from their mean contrasts."""
        on = metrics[(metrics["step"] >= start) & (metrics["step"] <= end)]
        return behaviour.read_mean(on, *self.args)

    def phases(self, metrics: pd.DataFrame, phases: pd.DataFrame) -> pd.DataFrame:
        """`phases` with each plateau's behavioural label, read from its mean contrasts, and the
        pairs an FCC reads; Tab. 1's label keeps its own column beside it."""
        labels, pairs = [], []
        for p in phases.itertuples():
            reading = self.plateau(metrics, p.plateau_start, p.plateau_end)
            labels.append(behaviour.label(reading))
            pairs.append(";".join(map(str, reading.pairs)))
        out = phases.rename(columns={"circuit": "circuit_attention"})
        at = out.columns.get_loc("circuit_attention")
        out.insert(at, "circuit_behaviour", labels)
        out.insert(at + 1, "pairs_read", pairs)
        return out

    def summary(self, metrics: pd.DataFrame) -> dict[str, Any]:
        """The final circuit by behaviour (mean contrasts over the last tenth of training, as
        `late_acc`), and the steps spent in each behavioural regime with the first step of each, read
        at every full evaluation: no plateau detector involved."""
        last = int(metrics["step"].iloc[-1])
        late = metrics[metrics["step"] >= (1 - LATE_FRACTION) * last]
        final = behaviour.read_mean(late, *self.args)
        readings = behaviour.read_rows(metrics, *self.args)
        return {
            "final_circuit_behaviour": behaviour.label(final),
            "final_pairs_read": ";".join(map(str, final.pairs)),
            **behaviour.time_in_regimes(readings, last),
        }


# Phases are also summarised by their order, because a run whose phase no Tab.-1 circuit explains
# (the default run's last phase, or a clamped run's) still has an onset worth comparing.
ORDERED_PHASES = 3


def _phase_columns(key: str, phase: pd.DataFrame) -> dict[str, Any]:
    """Onset, plateau start and plateau accuracy of one phase (a one-row table, or empty: None)."""
    found = len(phase) > 0
    return {
        f"{key}_onset": int(phase["start_step"].iloc[0]) if found else None,
        f"{key}_plateau_start": int(phase["plateau_start"].iloc[0]) if found else None,
        f"{key}_acc": float(phase["plateau_acc"].iloc[0]) if found else None,
    }


def clamp_switches(cfg: RunConfig) -> list[int]:
    """Steps inside the run where an intervention switches on or off, for figures to mark."""
    return [b for b in switch_steps(cfg.interventions) if 0 < b < cfg.optim.steps]


def restricted_prediction(circuit: str, predictions: Mapping[str, float | None]) -> float | None:
    """The accuracy a network restricted to `circuit` (config `model.circuit`) should plateau at:
    1/T for the NCC, the label-multiset bound for the SCC, 1 for the FCC; None when unrestricted."""
    if circuit == "none":
        return None
    return 1.0 if circuit == "fcc" else predictions[circuit.upper()]


# Accuracy levels whose first crossing the summary records, onsets that need no plateau detection (a
# short or fast run may pass a phase too quickly for a plateau): on the default task 0.3 is just below
# the NCC's 1/T, 0.5 and 0.6 lie between 1/T and the SCC's bound (≈0.82), and 0.9 and 0.95 above that
# bound, so only a full-context circuit reaches them.
REACHED = (0.3, 0.5, 0.6, 0.9, 0.95)
LATE_FRACTION = 0.1  # the last tenth of training: a plateau estimate steadier than one evaluation


def run_summary(metrics: pd.DataFrame, jumps: list[int]) -> dict[str, Any]:
    """One row describing a finished run, given its paper-rule transition steps."""
    last = metrics.iloc[-1]
    late = metrics[metrics["step"] >= (1 - LATE_FRACTION) * last["step"]]
    return {
        "end_step": int(last["step"]),
        "final_acc": float(last["acc"]),
        "late_acc": float(late["acc"].mean()),
        "late_acc_sd": float(late["acc"].std(ddof=0)),
        "max_acc": float(metrics["acc"].max()),
        "final_loss": float(last["loss"]),
        "final_rla_acc": float(last["rla_acc"]),
        "n_transitions": len(jumps),
        "transition_steps": ";".join(map(str, jumps)),
        **{f"step_acc_{level}": first_step_at(metrics, level) for level in REACHED},
        **final_circuit_metrics(metrics),
    }


def first_step_at(metrics: pd.DataFrame, level: float) -> int:
    """The first evaluation step with accuracy ≥ level; -1 if the run never gets there."""
    reached = metrics.loc[metrics["acc"] >= level, "step"]
    return int(reached.iloc[0]) if len(reached) else -1


def steps_near(metrics: pd.DataFrame, level: float, tolerance: float) -> int:
    """Training steps spent with accuracy within `tolerance` of `level` (each evaluation counts until
    the next): how long a run sits at a circuit's accuracy, whether or not a plateau is detected."""
    steps = metrics["step"].to_numpy()
    near = (metrics["acc"] - level).abs().to_numpy() <= tolerance
    return int(np.diff(steps)[near[:-1]].sum())


def final_circuit_metrics(metrics: pd.DataFrame) -> dict[str, float]:
    """Every map metric per layer at the last evaluation, averaged over heads."""
    out: dict[str, float] = {}
    for name in MAP_METRICS:
        for layer, value in layer_means(metrics.tail(1), name).iloc[0].items():
            out[f"final_{name}_L{layer}"] = float(value)
    return out


def phase_maps(steps: np.ndarray, maps: np.ndarray, phases: pd.DataFrame) -> pd.DataFrame:
    """Mean attention map of each layer and head over each phase's plateau, and at the last evaluation.

    maps: (n_eval, layers, heads, S, S) as in a run's attention.npz. One row per map entry, so the
    paper's Fig. 2 maps can be drawn (and re-drawn) from a table.
    """
    windows = [
        (
            f"phase {int(r.phase)} ({circuit_name(r.circuit_behaviour, r.circuit_attention)})",
            (steps >= r.plateau_start) & (steps <= r.plateau_end),
        )
        for r in phases.itertuples()
    ]
    windows.append(("final step", steps == steps[-1]))
    _, layers, heads, S, _ = maps.shape
    layer, head, row, col = np.meshgrid(
        np.arange(1, layers + 1), np.arange(1, heads + 1), np.arange(S), np.arange(S), indexing="ij"
    )
    parts = [
        pd.DataFrame(
            {
                "when": when,
                "layer": layer.ravel(),
                "head": head.ravel(),
                "row": row.ravel(),
                "col": col.ravel(),
                "weight": maps[sel].mean(0).ravel(),
            }
        )
        for when, sel in windows
    ]
    return pd.concat(parts, ignore_index=True)
