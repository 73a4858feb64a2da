"""Figures from tidy tables, one module per figure so that editing one re-runs only that figure.

Each module has `draw(tables, axes, title)`, which returns the figure and the table it plotted. The
tables are those of `icmeta.steps.tables`: metrics (run x eval step), runs (one summary row per run),
phases (detected phases per run) and phase_maps (mean attention map per run, phase, layer, head).
This module stays free of plotting imports, so the workflow can read the registry when it parses.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Figure:
    tables: tuple[str, ...]  # the experiment tables it is drawn from
    reproduces: str  # the paper's figures it stands for
    # Which blocks draw it unasked: every block, a grid (2 or more axes), or only those listing it.
    drawn_for: str = "listed"


NAMES: dict[str, Figure] = {
    "learning_curves": Figure(("metrics",), "Fig. 7, 15, 16, 18, 19a, 22", "every"),
    "final_accuracy": Figure(("runs",), "a summary over the grid", "every"),
    "phase_diagram": Figure(("runs",), "no figure of the paper (beyond it)", "grid"),
    "phase_sequences": Figure(
        ("runs", "phases", "metrics"), "no figure of the paper (every run's path)", "grid"
    ),
    "overview": Figure(("metrics", "phases", "phase_maps", "runs"), "Fig. 2 and 4 in one"),
    "accuracy_loss": Figure(("metrics", "phases"), "Fig. 2 left, 18"),
    "attention_maps": Figure(("phase_maps",), "Fig. 2 right, 8, 12, 19b, 23"),
    "delta_acc": Figure(("metrics", "runs", "phases"), "Fig. 3"),
    "circuit_metrics": Figure(("metrics", "phases"), "Fig. 4, 9, 17"),
    "encoding_study": Figure(("metrics", "runs", "phases"), "no figure of the paper (settings compared)"),
    "pair_attention": Figure(("metrics", "phases"), "no figure of the paper (Tab. 2's metrics per pair)"),
    "random_label": Figure(("metrics", "phases"), "Fig. 6"),
    "per_task": Figure(("metrics",), "Fig. 7e"),
    "plateau_predictions": Figure(("metrics", "runs"), "Fig. 5, 13"),
    "onset_shifts": Figure(("runs",), "no figure of the paper (train-time clamps after Singh et al. 2024)"),
    "clamp_curves": Figure(
        ("metrics", "phases", "runs"), "no figure of the paper (train-time clamps after Singh et al. 2024)"
    ),
}


def of_block(n_axes: int, listed: Sequence[str]) -> list[str]:
    """The figures a block draws: those every block gets (a grid of 2+ axes also its phase diagram
    and, readable at page width, its main panel), then those it lists under `figures`."""
    unasked = [
        n for n, f in NAMES.items() if f.drawn_for == "every" or (f.drawn_for == "grid" and n_axes >= 2)
    ]
    return list(dict.fromkeys([*unasked, *listed]))


def tables_of(figure: str) -> tuple[str, ...]:
    _check(figure)
    return NAMES[figure].tables


def describe(figure: str) -> str:
    """What the figure shows (its module's and its draw function's docstrings), for report captions."""
    _check(figure)
    tree = ast.parse((Path(__file__).parent / f"{figure}.py").read_text())
    draw_fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "draw")
    parts = [ast.get_docstring(tree), ast.get_docstring(draw_fn), f"Reproduces: {NAMES[figure].reproduces}."]
    return "\n\n".join(p for p in parts if p)


def draw(
    figure: str,
    tables: Mapping[str, str | Path],
    axes: Sequence[str],
    title: str,
    png: str | Path,
    pdf: str | Path,
    csv: str | Path,
) -> None:
    """Draw one named figure from its source tables; writes PNG, PDF and the table it plotted."""
    missing = set(tables_of(figure)) - set(tables)
    if missing:
        raise ValueError(f"figure '{figure}' needs the tables {sorted(missing)}")
    from icmeta.figures.style import save_figure, set_style

    set_style()
    module = importlib.import_module(f"icmeta.figures.{figure}")  # provenance: each figure rule names it
    read = {name: pd.read_csv(tables[name]) for name in tables_of(figure)}
    # seaborn jitters strip plots from numpy's global generator: without a fixed draw, a figure's
    # pixels would depend on what the process drew before it, and a redrawn block would differ.
    outside = np.random.get_state()
    np.random.seed(0)
    try:
        fig, plotted = module.draw(read, axes, title)
    finally:
        np.random.set_state(outside)
    save_figure(fig, plotted, png, pdf, csv)


def _check(figure: str) -> None:
    if figure not in NAMES:
        raise ValueError(f"unknown figure '{figure}'; known: {', '.join(NAMES)}")
