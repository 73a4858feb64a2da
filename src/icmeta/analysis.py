"""Per-run analysis of a finished run: its phases and a one-row summary for experiment tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from icmeta.config import RunConfig
from icmeta.phases import CIRCUITS, PlateauDetector, detect_phases, paper_transitions
from icmeta.theory import ncc_prediction, scc_bound, scc_bound_supported


def analyse_run(
    metrics: pd.DataFrame, run: Mapping[str, Any], settings: Mapping[str, Any]
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The run's summary row and its phases, with the detector settings of config key `analysis`."""
    phases = detect_phases(
        metrics,
        N=run["task"]["N"],
        L=run["task"]["L"],
        detector=PlateauDetector(**settings["plateaus"]),
        min_score=settings["circuit_min_score"],
    )
    jumps = paper_transitions(metrics, **settings["paper_rule"])
    summary = run_summary(metrics, jumps)
    summary["n_phases"] = len(phases)
    summary["circuits"] = ">".join(phases["circuit"]) if len(phases) else ""
    cfg = RunConfig.from_dict(run)
    summary["ncc_prediction"] = ncc_prediction(cfg)
    summary["scc_prediction"] = scc_bound(cfg) if scc_bound_supported(cfg) else None
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
    last = metrics.iloc[-1]
    out: dict[str, float] = {}
    for name in ("bigram", "label_attn", "chunk"):
        cols = [c for c in metrics.columns if c.startswith(f"{name}_L")]
        layers = sorted({c[len(name) + 2 :].split("H")[0] for c in cols}, key=int)
        for layer in layers:
            heads = [c for c in cols if c.startswith(f"{name}_L{layer}H")]
            out[f"final_{name}_L{layer}"] = float(last[heads].mean())
    return out
