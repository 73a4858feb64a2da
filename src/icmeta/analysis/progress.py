"""What runs in training have reached, read from their saved training states (and, marked finished,
what finished runs ended at: their states stay for a longer step cap to continue from).

A run writes nothing to its directory before it ends, and a long grid runs for hours; the resumable
state beside each cell (`.train_state-<hash>.pt`) already holds every evaluation so far. This reads
it without touching the run: the step, and per member its latest accuracy, random-label accuracy,
each layer's dominant Tab. 1 pattern and, once stopped, its stop step. A member is named by its run
directory, found by the configuration hash its evaluation sets carry: a job training several cells
keeps one state, under its first cell, for runs spread over the grid.
"""

from __future__ import annotations

import math
import os
import pickle
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from icmeta.analysis.phases import DEFAULTS, dominant_patterns, pair_count
from icmeta.errors import DamagedRunFile

STATE_GLOB = "*train_state*.pt"  # the workflow's .train_state-<hash>.pt, `icmeta train`'s train_state.pt


@dataclass(frozen=True)
class MemberProgress:
    acc: float
    rla_acc: float
    patterns: list[str]  # per layer: bigram, label_attn, chunk or none
    stopped_at: int | None
    run: Path | None  # its run directory, where its evaluation sets were found


@dataclass(frozen=True)
class RunProgress:
    cell: Path  # the directory the state sits in (a grid cell: its seeds are the members)
    step: int
    members: list[MemberProgress]
    finished: bool  # a finished run keeps its state, which a longer step cap continues from


def states(paths: list[Path]) -> Iterator[Path]:
    """Every saved training state under `paths` (files or directories), in path order."""
    for path in paths:
        yield from [path] if path.is_file() else sorted(p for p in path.rglob(STATE_GLOB) if p.is_file())


def run_dirs(paths: list[Path]) -> dict[str, list[Path]]:
    """Configuration hash -> the run directories under `paths` whose evaluation sets carry it. Memory-
    mapped, so that only the hash is read from each (the sets are ~16 MB a run at the paper's size)."""
    found = defaultdict(list)
    for path in paths:
        for sets in sorted(path.rglob("eval_sets.pt")) if path.is_dir() else []:
            saved = torch.load(sets, map_location="cpu", weights_only=True, mmap=True)
            found[saved["config_hash"]].append(sets.parent)
    return dict(found)


def _closest(candidates: list[Path], state_path: Path) -> Path | None:
    """Of runs with one configuration (two blocks may share one), the one nearest the state."""
    if not candidates:
        return None
    here = os.path.abspath(state_path.parent)
    return max(candidates, key=lambda run: len(os.path.commonpath([here, os.path.abspath(run)])))


def read_progress(
    state_path: Path,
    runs: Mapping[str, list[Path]] | None = None,
    window: int = 5,
    min_score: float = DEFAULTS.circuit_min_score,
) -> RunProgress:
    """The state's step and each member's latest numbers; patterns over its last `window` evaluations;
    each member's run directory looked up by its configuration hash in `runs` (from `run_dirs`)."""
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
        raise DamagedRunFile(
            f"{state_path} cannot be read ({type(err).__name__}): a running job rewrites it at its next "
            f"save; a stopped one cannot resume from it, so remove it to retrain that job from step 0"
        ) from None
    members = []
    stopped = state.get("stopped_at", [None] * len(state["rows"]))
    for rows, stop, config_hash in zip(state["rows"], stopped, state["hashes"], strict=True):
        recent = pd.DataFrame(rows[-window:])
        n_pairs = pair_count(recent.columns) or 4
        last = recent.iloc[-1]
        patterns = dominant_patterns(recent, n_pairs, min_score)
        # The latest full evaluation's RLA: id-only evaluations leave it empty (optim.full_eval_every).
        rla = next((r["rla_acc"] for r in reversed(rows) if not math.isnan(r["rla_acc"])), math.nan)
        run = _closest((runs or {}).get(config_hash, []), state_path)
        members.append(MemberProgress(float(last["acc"]), float(rla), patterns, stop, run))
    return RunProgress(state_path.parent, int(state["step"]), members, bool(state.get("finished")))


def member_names(members: list[MemberProgress]) -> list[str]:
    """Each member's run directory below the members' common cell directory (seed~0 for a cell's
    own job, T~2/eps~0.5/seed~1 in a group), or "member k" where its run was not found."""
    found = [m.run for m in members if m.run is not None]
    base = os.path.commonpath([os.path.abspath(r.parent) for r in found]) if found else ""
    return [
        os.path.relpath(os.path.abspath(m.run), base) if m.run is not None else f"member {e}"
        for e, m in enumerate(members)
    ]


def format_progress(run: RunProgress) -> str:
    lines = [f"{run.cell}  step {run.step}{'  finished' if run.finished else ''}"]
    for name, m in zip(member_names(run.members), run.members, strict=True):
        stop = f"  stopped at {m.stopped_at}" if m.stopped_at is not None else ""
        layers = " / ".join(m.patterns)
        lines.append(f"  {name}: acc {m.acc:.3f}  RLA {m.rla_acc:.3f}  patterns {layers}{stop}")
    return "\n".join(lines)
