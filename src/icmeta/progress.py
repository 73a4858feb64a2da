"""What runs still training have reached, read from their saved training states.

A run writes nothing to its directory before it ends, and a long grid runs for hours; the resumable
state beside each cell (`.train_state-<hash>.pt`) already holds every evaluation so far. This reads
it without touching the run: the step, and per member its latest accuracy, random-label accuracy,
each layer's dominant Tab. 1 pattern and, once stopped, its stop step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from icmeta.phases import dominant_patterns, pair_count

STATE_GLOB = "*train_state*.pt"  # the workflow's .train_state-<hash>.pt, `icmeta train`'s train_state.pt


@dataclass(frozen=True)
class MemberProgress:
    acc: float
    rla_acc: float
    patterns: list[str]  # per layer: bigram, label_attn, chunk or none
    stopped_at: int | None


@dataclass(frozen=True)
class RunProgress:
    cell: Path  # the directory the state sits in (a grid cell: its seeds are the members)
    step: int
    members: list[MemberProgress]


def states(paths: list[Path]) -> Iterator[Path]:
    """Every saved training state under `paths` (files or directories), in path order."""
    for path in paths:
        yield from [path] if path.is_file() else sorted(p for p in path.rglob(STATE_GLOB) if p.is_file())


def read_progress(state_path: Path, window: int = 5, min_score: float = 0.25) -> RunProgress:
    """The state's step and each member's latest numbers; patterns over its last `window` evaluations."""
    state = torch.load(state_path, map_location="cpu", weights_only=False)
    members = []
    stopped = state.get("stopped_at", [None] * len(state["rows"]))
    for rows, stop in zip(state["rows"], stopped, strict=True):
        recent = pd.DataFrame(rows[-window:])
        n_pairs = pair_count(recent.columns) or 4
        last = recent.iloc[-1]
        patterns = dominant_patterns(recent, n_pairs, min_score)
        # The latest full evaluation's RLA: id-only evaluations leave it empty (optim.full_eval_every).
        rla = next((r["rla_acc"] for r in reversed(rows) if not math.isnan(r["rla_acc"])), math.nan)
        members.append(MemberProgress(float(last["acc"]), float(rla), patterns, stop))
    return RunProgress(state_path.parent, int(state["step"]), members)


def format_progress(run: RunProgress) -> str:
    lines = [f"{run.cell}  step {run.step}"]
    for e, m in enumerate(run.members):
        stop = f"  stopped at {m.stopped_at}" if m.stopped_at is not None else ""
        layers = " / ".join(m.patterns)
        lines.append(f"  member {e}: acc {m.acc:.3f}  RLA {m.rla_acc:.3f}  patterns {layers}{stop}")
    return "\n".join(lines)
