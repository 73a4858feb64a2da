"""Per-run analysis of a finished run: its phases and a one-row summary for experiment tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from icmeta.circuits import METRICS, layer_means
from icmeta.config import RunConfig
from icmeta.phases import CIRCUITS, PlateauDetector, detect_phases, paper_transitions
from icmeta.theory import ncc_prediction, scc_bound, scc_bound_supported


def analyse_run(
    metrics: pd.DataFrame, run: Mapping[str, Any], settings: Mapping[str, Any]
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The run's summary row and its phases, with the detector settings of config key `analysis`."""
    cfg = RunConfig.from_dict(run)
    predictions = {"NCC": ncc_prediction(cfg), "SCC": scc_bound(cfg) if scc_bound_supported(cfg) else None}
    phases = detect_phases(
        metrics,
        N=cfg.task.N,
        L=cfg.task.L,
        detector=PlateauDetector(**settings["plateaus"]),
        min_score=settings["circuit_min_score"],
        ceilings={k: v for k, v in predictions.items() if v is not None},
        tolerance=settings["circuit_acc_tolerance"],
    )
    jumps = paper_transitions(metrics, **settings["paper_rule"])
    summary = run_summary(metrics, jumps)
    summary["n_phases"] = len(phases)
    summary["circuits"] = ">".join(phases["circuit"]) if len(phases) else ""
    summary["ncc_prediction"] = predictions["NCC"]
    summary["scc_prediction"] = predictions["SCC"]
    for circuit in CIRCUITS.values():
        first = phases[phases["circuit"] == circuit].head(1)
        key = circuit.lower()
        summary[f"{key}_onset"] = int(first["start_step"].iloc[0]) if len(first) else None
        summary[f"{key}_plateau_start"] = int(first["plateau_start"].iloc[0]) if len(first) else None
        summary[f"{key}_acc"] = float(first["plateau_acc"].iloc[0]) if len(first) else None
    return summary, phases


def run_summary(metrics: pd.DataFrame, jumps: list[int]) -> dict[str, Any]:
    """One row describing a finished run, given its paper-rule transition steps."""
    last = metrics.iloc[-1]
    reached = metrics.loc[metrics["acc"] >= 0.9, "step"]
    return {
        "steps": int(last["step"]),
        "final_acc": float(last["acc"]),
        "max_acc": float(metrics["acc"].max()),
        "final_loss": float(last["loss"]),
        "final_rla_acc": float(last["rla_acc"]),
        "n_transitions": len(jumps),
        "transition_steps": ";".join(map(str, jumps)),
        "step_acc_0.9": int(reached.iloc[0]) if len(reached) else -1,
        **final_circuit_metrics(metrics),
    }


def final_circuit_metrics(metrics: pd.DataFrame) -> dict[str, float]:
    """Bigram / Label Attention / Chunk Example per layer at the last evaluation, averaged over heads."""
    out: dict[str, float] = {}
    for name in METRICS:
        for layer, value in layer_means(metrics.tail(1), name).iloc[0].items():
            out[f"final_{name}_L{layer}"] = float(value)
    return out
