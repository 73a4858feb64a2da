"""A block's runs and phases as Markdown, so that the published numbers can be read on the page and
quoted in the docs without copying them from a CSV by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from icmeta.analysis.behaviour import UNREAD, base_circuit, circuit_name, confusion, regimes_in_order
from icmeta.block.cells import NO_PHASE, SOLVED_AT, arrows, cell_stats
from icmeta.block.run_rows import phases_in_order

LEVELS = (0.3, 0.6, 0.95)  # accuracy levels whose first crossing the runs table shows


def _steps(value: float) -> str:
    """A step count the way the docs write it: 12.3k; '–' for a level never reached (-1) or missing."""
    if pd.isna(value) or value < 0:
        return "–"
    return f"{value / 1000:.1f}k" if value >= 1000 else str(int(value))


def _number(value: float, digits: int = 3) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def phase_sequence(phases: pd.DataFrame) -> str:
    """'NCC 0.33 → FCC[1] 0.99' for one run's phases, in order; '–' for a run without a phase."""
    return (
        " → ".join(
            f"{circuit_name(p['circuit_behaviour'], p['circuit_attention'])} {p['plateau_acc']:.2f}"
            for _, p in phases.iterrows()
        )
        or "–"
    )


def regime_times(run: pd.Series) -> str:
    """'NCC 31.4k, FCC 84.0k': the steps a run spent in each behavioural regime, in the order it first
    entered them (no plateau detector involved); '–' without full evaluations."""
    return ", ".join(f"{name} {_steps(steps)}" for name, steps in regimes_in_order(run)) or "–"


def _range(low: float, high: float) -> str:
    low_text, high_text = _number(low), _number(high)
    return low_text if low_text == high_text else f"{low_text}–{high_text}"


def cells_table(runs: pd.DataFrame, axes: Sequence[str]) -> str:
    """One row per cell of the block, its seeds pooled (`icmeta.block.cells`): what most seeds went through
    and how far the others differ."""
    rows = []
    for _, cell in cell_stats(runs, axes).iterrows():
        phases = cell["sequence"].split(">") if cell["sequence"] != NO_PHASE else []
        sequence = " → ".join(f"{c} {_number(cell[f'level{n}'], 2)}" for n, c in enumerate(phases, 1))
        solved = "never" if cell["solved"] == 0 else _steps(cell["solved_median"])
        if 0 < cell["solved"] < cell["seeds"]:
            solved += f" ({cell['solved']}/{cell['seeds']})"
        rows.append(
            [
                *(str(cell[a]) for a in axes),
                sequence or "no phase",
                f"{cell['agree']}/{cell['seeds']}",
                arrows(cell["others"]) or "–",
                _range(cell["final_min"], cell["final_max"]),
                solved,
            ]
        )
    header = [*axes, "phases of most seeds", "seeds", "the other seeds", "final acc", f"acc ≥ {SOLVED_AT} at"]
    return _table(header, rows)


def runs_markdown(runs: pd.DataFrame, phases: pd.DataFrame, axes: Sequence[str], title: str) -> str:
    """Two tables: one row per run (where it ended, its accuracy, RLA, level crossings and phases), and
    one row per phase (its plateau and what each layer's query attends on it)."""
    # An unread phase or run has an empty label, which a CSV gives back as NaN.
    runs = runs.fillna({"final_circuit_behaviour": ""})
    phases = phases.fillna({"circuit_behaviour": ""})
    layers = sorted(int(c[1:].split("_")[0]) for c in phases.columns if c.endswith("_pattern"))
    run_rows, phase_rows = [], []
    for _, run in runs.iterrows():
        ident = [*(str(run[a]) for a in axes), str(run["seed"])]
        mine = phases_in_order(phases, run)
        end = _steps(run["end_step"]) + (" (stopped)" if run.get("stopped", False) else "")
        run_rows.append(
            [
                *ident,
                end,
                _number(run["final_acc"]),
                _number(run["final_rla_acc"]),
                _number(run["scc_prediction"]),
                *(_steps(run[f"step_acc_{level}"]) for level in LEVELS),
                phase_sequence(mine),
                run["final_circuit_behaviour"] or "–",
                regime_times(run),
            ]
        )
        for p in mine.itertuples():
            row = p._asdict()
            per_layer = [
                f"{row[f'L{layer}_pattern']}: B {_number(row[f'L{layer}_bigram'], 2)},"
                f" LA {_number(row[f'L{layer}_label_attn'], 2)}, CE {_number(row[f'L{layer}_chunk'], 2)};"
                f" labels {_number(row.get(f'L{layer}_label_share'), 2)},"
                f" pair {row.get(f'L{layer}_top_pair', '–')} ({_number(row.get(f'L{layer}_pair_focus'), 2)})"
                for layer in layers
            ]
            plateau = f"{_steps(p.plateau_start)}–{_steps(p.plateau_end)}"
            circuit = row["circuit_behaviour"] or "–"
            phase_rows.append(
                [
                    *ident,
                    str(p.phase),
                    plateau,
                    _number(p.plateau_acc),
                    circuit,
                    p.circuit_attention,
                    *per_layer,
                ]
            )
    return (
        "\n\n".join(
            [
                f"# {title}",
                "One row per cell, its seeds pooled: the phase sequence most seeds went through, each"
                " plateau's accuracy the median over the seeds that share it; how many share it, and the"
                " sequences of the others; the range of the seeds' final accuracy; and the median step at"
                f" which they first reached {SOLVED_AT} accuracy (of those that did).",
                cells_table(runs, axes),
                "One row per run. Steps at which held-out accuracy first reaches each level; phases are the"
                " detected plateaus with their circuit and accuracy; the SCC bound is the run's"
                " label-multiset bound, the most a semi-context circuit can reach on its own tasks."
                " Circuits are named by what the answers depend on (FCC[k]: a full-context circuit"
                " reading pairs k), with Tab. 1's attention label beside where it names another; the"
                " final circuit is read over the last tenth of training, and the steps spent in each"
                " regime at every full evaluation, without"
                " the plateau detector (docs/phases.md).",
                _table(
                    [
                        *axes,
                        "seed",
                        "end",
                        "final acc",
                        "final RLA",
                        "SCC bound",
                        *(f"acc ≥ {v}" for v in LEVELS),
                        "phases",
                        "final circuit",
                        "steps per circuit",
                    ],
                    run_rows,
                ),
                "One row per phase. Per layer, on the plateau: the dominant Tab. 1 pattern; Bigram (B), Label"
                " Attention (LA) and Chunk Example (CE); the share of the query's context attention on labels"
                " rather than items (½ uniform); and the pair the query reads most, with its share of the"
                " query's attention on all pairs (1/N uniform).",
                _table(
                    [
                        *axes,
                        "seed",
                        "phase",
                        "plateau",
                        "acc",
                        "circuit",
                        "Tab. 1",
                        *(f"layer {layer}" for layer in layers),
                    ],
                    phase_rows,
                ),
            ]
        )
        + "\n"
    )


def confusion_markdown(phases: pd.DataFrame) -> str:
    """Tab. 1's attention labels against the behavioural labels (an FCC's pairs aside, an unread
    phase as '?') over the phases given: one row per attention label, one column per behaviour."""
    behaviour = phases["circuit_behaviour"].fillna("").map(lambda c: base_circuit(c) or UNREAD)
    table = confusion(phases["circuit_attention"], behaviour)
    rows = [[str(label), *(str(n) for n in counts)] for label, counts in table.iterrows()]
    return _table(["Tab. 1 \\ behaviour", *map(str, table.columns)], rows)


def provenance_markdown(stamps: Mapping[str, Mapping[str, Any]]) -> str:
    """Per published block (its PROVENANCE.yaml by block name): the commit whose code drew its
    figures, whether its archive lets `snakemake redraw` draw them again, and the figures kept from
    an earlier publish. Blocks without an archive keep their figures until their runs are trained
    again, so a reader needs to know which figures an edit to the figure code has not reached."""
    rows = []
    for block, stamp in sorted(stamps.items()):
        commit, plus, dirty = stamp["code_commit"].partition("+")
        archived = "yes" if "archive.yaml" in stamp.get("files", {}) else "no"
        kept = ", ".join(
            name.removeprefix("figures/").removesuffix(".png") for name in stamp.get("kept_figures", [])
        )
        rows.append(
            [
                f"`{block}`",
                str(stamp["runs"]),
                f"`{commit[:7]}{plus}{dirty}`",
                archived,
                kept or "–",
            ]
        )
    return _table(
        ["block", "runs", "figures drawn by", "archived", "figures kept from an earlier publish"], rows
    )
