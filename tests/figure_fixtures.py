"""Experiment tables with known values, for the figure tests.

Every run of a fixture grid follows closed-form rules (the functions below), so a test can state what
a figure must plot. The values are chosen so that a figure reading the wrong column, seed, cell,
layer, head or aggregation plots something else:

- seeds differ by SEED_OFFSET, whose mean (0), median (-0.01) and first seed (+0.03) all differ;
- accuracy, loss, random-label accuracy, per-task accuracies and each circuit metric column differ;
- each cell has its own plateaus (1/T + 0.01 c, 0.6 + 0.05 c, 0.8 + 0.02 c for the cell's index c).

The tables have the columns of `icmeta.steps.tables` (experiment, cell, the axes, seed, then a run's
own columns as `icmeta.training.evaluation` and `icmeta.analysis.run` write them).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

STEPS = np.arange(0, 3001, 100)
SEEDS = (0, 1, 2)
SEED_OFFSET = {0: 0.03, 1: -0.01, 2: -0.02}  # mean 0, median -0.01, first seed +0.03
SWITCHES = (1000, 2000)  # each curve steps from one plateau to the next here
LAST_BUMP = 0.04  # the last evaluation lies this far above the third plateau: final_acc != late_acc
AXIS_VALUES = {"T": (2, 4), "eps": (0.0, 0.5), "clamp": ("block", "none")}  # 'none' second on purpose
LAYERS = (1, 2)
METRIC_BASE = {"bigram": 0.1, "label_attn": 0.4, "chunk": 0.7}  # the paper's three
MAP_METRIC_BASE = {**METRIC_BASE, "label_focus": 0.5}  # every per-head metric of metrics.csv
PAIR_BASE = {"q_label": 0.05, "q_item": 0.02, "label_item": 0.3}  # per-pair metrics
N_PAIRS = 2
PAPER_DT = 200  # twice the evaluation interval, so ΔAcc must subsample the curve
MAP_SIZE = 5  # x1 l1 x2 l2 q: few tick labels, quick to draw
# Detected phases: (circuit, start step of seed 0); seeds start later by PHASE_DELAY, cells by 10 c.
PHASE_STARTS = {"NCC": 100, "SCC": 1000, "FCC": 2000}
PHASE_DELAY = {0: 0, 1: 100, 2: 400}
PLATEAU_START, PLATEAU_END = 300, 800  # after the phase's start


@dataclass(frozen=True)
class Cell:
    index: int  # in table order
    values: dict  # axis -> value

    @property
    def T(self) -> int:
        return self.values.get("T", 2)

    def label(self, axes: Sequence[str]) -> str:
        return ", ".join(f"{a}={self.values[a]}" for a in axes)


def grid(axes: Sequence[str]) -> list[Cell]:
    """The cells of a grid over `axes` (values from AXIS_VALUES), first axis slowest."""
    combos = itertools.product(*(AXIS_VALUES[a] for a in axes))
    return [Cell(i, dict(zip(axes, combo, strict=True))) for i, combo in enumerate(combos)]


def cell_of(row, axes: Sequence[str]) -> Cell:
    """The fixture cell of a plotted row (its values may come back from a CSV as floats or text)."""
    (cell,) = [
        c for c in grid(axes) if all(c.values[a] == row[a] or str(c.values[a]) == str(row[a]) for a in axes)
    ]
    return cell


# --- curves (metrics.csv) ------------------------------------------------------------------------


def phase_of(step: int) -> int:
    """0, 1, 2: which plateau of the curves a step lies on."""
    return int(np.searchsorted(SWITCHES, step, side="right"))


def plateaus(cell: Cell) -> tuple[float, float, float]:
    """The seed-mean accuracy of the cell's three plateaus."""
    c = cell.index
    return 1 / cell.T + 0.01 * c, 0.6 + 0.05 * c, 0.8 + 0.02 * c


def acc_level(cell: Cell, step: int) -> float:
    """Seed-mean held-out accuracy at a step."""
    return plateaus(cell)[phase_of(step)] + (LAST_BUMP if step == STEPS[-1] else 0.0)


def acc(cell: Cell, seed: int, step: int) -> float:
    return acc_level(cell, step) + SEED_OFFSET[seed]


def loss(cell: Cell, seed: int, step: int) -> float:
    return 3.0 - 2.0 * acc(cell, seed, step)


def rla_level(cell: Cell, step: int) -> float:
    """Seed-mean random-label accuracy: as accuracy on the first plateau, 0.1 below it on the second
    (a semi-context circuit), near chance on the third (a full-context one)."""
    p1, p2, _ = plateaus(cell)
    return (p1, p2 - 0.1, 0.2 + 0.01 * cell.index)[phase_of(step)]


def rla_acc(cell: Cell, seed: int, step: int) -> float:
    return rla_level(cell, step) + SEED_OFFSET[seed]


def task_split(T: int) -> list[float]:
    """Each task's accuracy minus the average: task 1 (the most frequent) highest, summing to 0."""
    return [0.02 * ((T + 1) / 2 - t) for t in range(1, T + 1)]


def task_acc(cell: Cell, seed: int, step: int, task: int) -> float:
    """Accuracy on task `task` (1-based); NaN beyond the cell's T, as in a table with mixed T."""
    return acc(cell, seed, step) + task_split(cell.T)[task - 1] if task <= cell.T else np.nan


def metric(name: str, layer: int, head: int, cell: Cell, seed: int, step: int) -> float:
    """Circuit metric `name` of a layer and head: every column of a row has its own value."""
    return (
        MAP_METRIC_BASE[name]
        + 0.1 * (layer - 1)
        + 0.03 * (head - 1)
        + 0.01 * cell.index
        + 0.02 * phase_of(step)
        + SEED_OFFSET[seed]
    )


def pair_metric(name: str, k: int, layer: int, head: int, cell: Cell, seed: int, step: int) -> float:
    """Per-pair metric `name` of pair k: every column has its own value, pair 2 above pair 1."""
    return PAIR_BASE[name] + 0.1 * (k - 1) + metric("bigram", layer, head, cell, seed, step) - 0.1


def metric_layer_mean(name: str, layer: int, heads: int, cell: Cell, step: int) -> float:
    """The seed mean of the head mean of a metric (what clamp curves plot)."""
    return float(np.mean([metric(name, layer, h, cell, s, step) for h in range(1, heads + 1) for s in SEEDS]))


# --- detected phases and the run summary -----------------------------------------------------------


def circuits(cell: Cell, seed: int) -> list[str]:
    """The run's detected phases: always the NCC; the SCC in the seeds below the cell's index (none in
    cell 0, every seed from cell 3 on); the FCC in seeds 0 and 1."""
    return ["NCC", *(["SCC"] if seed < cell.index else []), *(["FCC"] if seed != 2 else [])]


def phase_start(cell: Cell, seed: int, circuit: str) -> int:
    return PHASE_STARTS[circuit] + PHASE_DELAY[seed] + 10 * cell.index


def phase_rows(cell: Cell, seed: int) -> list[dict]:
    """The run's rows of the phases table."""
    levels = dict(zip(("NCC", "SCC", "FCC"), plateaus(cell), strict=True))
    rows = []
    for n, circuit in enumerate(circuits(cell, seed), start=1):
        start = phase_start(cell, seed, circuit)
        rows.append({"phase": n, "start_step": start, "plateau_start": start + PLATEAU_START,
                     "plateau_end": start + PLATEAU_END, "plateau_acc": levels[circuit] + SEED_OFFSET[seed],
                     "circuit_behaviour": circuit, "circuit_attention": circuit})  # fmt: skip
    return rows


def transition_steps(cell: Cell, seed: int) -> list[int]:
    """Steps where the paper's ΔAcc rule fires: 1 + seed + c of them, every 200 steps from 800."""
    return [800 + 200 * k for k in range(1 + seed + cell.index)]


def scc_prediction(cell: Cell) -> float:
    return 0.6 + 0.03 * cell.index


def circuit_prediction(cell: Cell) -> float:
    """A restricted network's prediction: 1/T, or none (NaN) in the cells with eps = 0.5."""
    return 1 / cell.T if cell.values.get("eps", 0.0) == 0.0 else np.nan


def ncc_dwell(cell: Cell, seed: int) -> int:
    return (900, 600, 0)[seed] + 100 * cell.index


def clamp_switches(cell: Cell) -> str | float:
    """A clamp switches at 500 and 1500 in every cell with a clamp other than 'none'."""
    return "500;1500" if cell.values.get("clamp", "none") != "none" else np.nan


def first_step_at(cell: Cell, seed: int, level: float) -> int:
    reached = [s for s in STEPS if acc(cell, seed, s) >= level]
    return int(reached[0]) if reached else -1


def summary_row(cell: Cell, seed: int) -> dict:
    """The run's row of the runs table (the columns of `icmeta.analysis.run.analyse_run` figures read)."""
    curve = np.array([acc(cell, seed, s) for s in STEPS])
    jumps = transition_steps(cell, seed)
    row = {
        "end_step": int(STEPS[-1]),
        "stopped": seed == 0,  # seed 0's convergence stop ended it at the last evaluation
        "final_acc": curve[-1],
        "late_acc": curve[0.9 * STEPS[-1] <= STEPS].mean(),
        "n_phases": len(circuits(cell, seed)),
        "circuits_behaviour": ">".join(circuits(cell, seed)),
        "circuits_attention": ">".join(circuits(cell, seed)),
        "n_transitions": len(jumps),
        "transition_steps": ";".join(map(str, jumps)),
        "paper_dt": PAPER_DT,
        "paper_threshold": 0.025,
        **{f"step_acc_{level}": first_step_at(cell, seed, level) for level in (0.3, 0.5, 0.6, 0.9, 0.95)},
        "final_rla_acc": rla_acc(cell, seed, STEPS[-1]),
        "ncc_prediction": 1 / cell.T,
        "scc_prediction": scc_prediction(cell),
        "circuit_prediction": circuit_prediction(cell),
        "ncc_dwell": ncc_dwell(cell, seed),
        "clamp_switches": clamp_switches(cell),
    }
    phases = phase_rows(cell, seed)
    by_key = {p["circuit_attention"].lower(): p for p in phases} | {f"phase{p['phase']}": p for p in phases}
    for key in ("ncc", "scc", "fcc", "phase1", "phase2", "phase3"):
        p = by_key.get(key)
        row[f"{key}_onset"] = p["start_step"] if p else np.nan
        row[f"{key}_plateau_start"] = p["plateau_start"] if p else np.nan
        row[f"{key}_acc"] = p["plateau_acc"] if p else np.nan
    return row


# --- attention maps --------------------------------------------------------------------------------


def whens(cell: Cell, seed: int) -> list[str]:
    """The maps of a run: the first detected phase's plateau, then the last evaluation (the analysis
    maps every phase; two keep the figure, a panel per cell, map and head, quick to draw)."""
    first = phase_rows(cell, seed)[0]
    return [f"phase 1 ({first['circuit_behaviour']})", "final step"]


def map_weight(cell: Cell, seed: int, when: int, layer: int, head: int, row: int, col: int) -> float:
    """Causal: zero above the diagonal; otherwise distinct per map (when, layer, head, cell, seed) and
    per position."""
    if col > row:
        return 0.0
    return (
        0.1 * layer + 0.03 * head + 0.2 * when + 0.005 * cell.index + 0.001 * seed + 2e-4 * row + 1e-4 * col
    )


def attention_map(cell: Cell, seed: int, when: int, layer: int, head: int) -> np.ndarray:
    return np.array(
        [[map_weight(cell, seed, when, layer, head, r, c) for c in range(MAP_SIZE)] for r in range(MAP_SIZE)]
    )


# --- the tables ------------------------------------------------------------------------------------


def experiment_tables(axes: Sequence[str], heads: int = 1) -> dict[str, pd.DataFrame]:
    """metrics, runs, phases and phase_maps of a grid over `axes` with SEEDS, `heads` heads per layer."""
    parts: dict[str, list[pd.DataFrame]] = {"metrics": [], "runs": [], "phases": [], "phase_maps": []}
    for cell in grid(axes):
        for seed in SEEDS:
            ident = {"experiment": "fixture", "cell": f"cell{cell.index}", **cell.values, "seed": seed}
            metrics = {"step": STEPS}
            for column, fn in (("acc", acc), ("loss", loss), ("rla_acc", rla_acc)):
                metrics[column] = [fn(cell, seed, s) for s in STEPS]
            for t in range(1, cell.T + 1):
                metrics[f"acc_task{t}"] = [task_acc(cell, seed, s, t) for s in STEPS]
            for name in MAP_METRIC_BASE:
                for layer in LAYERS:
                    for head in range(1, heads + 1):
                        values = [metric(name, layer, head, cell, seed, s) for s in STEPS]
                        metrics[f"{name}_L{layer}H{head}"] = values
            for name in PAIR_BASE:
                for layer, head, k in itertools.product(LAYERS, range(1, heads + 1), range(1, N_PAIRS + 1)):
                    values = [pair_metric(name, k, layer, head, cell, seed, s) for s in STEPS]
                    metrics[f"{name}{k}_L{layer}H{head}"] = values
            parts["metrics"].append(pd.DataFrame({**ident, **metrics}))
            parts["runs"].append(pd.DataFrame([{**ident, **summary_row(cell, seed)}]))
            parts["phases"].append(pd.DataFrame([{**ident, **p} for p in phase_rows(cell, seed)]))
            maps = [
                {**ident, "when": when, "layer": layer, "head": head, "row": r, "col": c,
                 "weight": map_weight(cell, seed, w, layer, head, r, c)}
                for w, when in enumerate(whens(cell, seed))
                for layer in LAYERS
                for head in range(1, heads + 1)
                for r in range(MAP_SIZE)
                for c in range(MAP_SIZE)
            ]  # fmt: skip
            parts["phase_maps"].append(pd.DataFrame(maps))
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}


def write_tables(path: Path, axes: Sequence[str], heads: int = 1) -> dict[str, Path]:
    """The fixture tables as CSV files under `path`, as figures read them."""
    out = {}
    for name, table in experiment_tables(axes, heads).items():
        out[name] = path / f"{name}.csv"
        table.to_csv(out[name], index=False)
    return out
