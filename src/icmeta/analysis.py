"""Per-run summaries from a run's metrics table: final accuracies and the paper's ΔAcc transitions."""

from __future__ import annotations

import pandas as pd

from icmeta.phases import paper_transitions


def run_summary(metrics: pd.DataFrame) -> dict[str, float | int | str]:
    """One row describing a finished run, for tables over a whole experiment."""
    last = metrics.iloc[-1]
    jumps = paper_transitions(metrics)
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
