"""A published block's archive, and its tables computed again from it without training.

`snakemake publish` keeps, beside a block's tables, what its analysis reads: every run's evaluation
history (`history.csv.gz`: every metrics.csv column at every evaluation, floats written so that they
read back exactly) and each cell's run configuration with the block's seeds and analysis settings
(`archive.yaml`). From these alone, a reader without `results/` gets the block's summaries and
phases back, here or under other analysis settings. The attention maps are not archived (a few MB
per run at the paper's length): the per-phase attention maps are the one table that needs the runs.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from icmeta.analysis.run import analyse_run
from icmeta.errors import DamagedRunFile
from icmeta.io import atomic_path, write_yaml
from icmeta.steps.tables import IDENTITY, with_run_columns

HISTORY = "history.csv.gz"
ARCHIVE = "archive.yaml"


def write_archive(
    out_dir: Path,
    metrics: pd.DataFrame,
    cells: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    analysis: Mapping[str, Any],
) -> list[Path]:
    """The block's archive in `out_dir`; the same bytes for the same runs (the gzip header holds no
    date and no file name)."""
    with (
        atomic_path(out_dir / HISTORY) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as packed,
    ):
        packed.write(metrics.to_csv(index=False).encode())
    # Plain data: the workflow hands over its config as ordered mappings, which YAML cannot write.
    archive = json.loads(json.dumps({"seeds": list(seeds), "analysis": analysis, "cells": list(cells)}))
    write_yaml(archive, out_dir / ARCHIVE)
    return [out_dir / HISTORY, out_dir / ARCHIVE]


def reanalyse(
    block_dir: str | Path, analysis: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The block's run and phase tables computed from its archive, with its own analysis settings
    or `analysis`, as `aggregate` stacks them."""
    block_dir = Path(block_dir)
    try:
        archive = yaml.safe_load((block_dir / ARCHIVE).read_text())
        history = pd.read_csv(block_dir / HISTORY)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise DamagedRunFile(
            f"{block_dir} has no readable archive ({type(err).__name__}: {err}); blocks published "
            f"before archives existed need their runs to be published again"
        ) from None
    settings = archive["analysis"] if analysis is None else analysis
    experiment = str(history["experiment"].iloc[0])
    summaries, phases = [], []
    for cell in archive["cells"]:
        for seed in archive["seeds"]:
            rows = history[(history["cell"] == cell["path"]) & (history["seed"] == seed)]
            if rows.empty:
                raise DamagedRunFile(
                    f"{block_dir / HISTORY} has no evaluations of {cell['path']} seed {seed}"
                )
            metrics = rows.drop(columns=[c for c in IDENTITY if c in rows] + list(cell["axes"])).reset_index(
                drop=True
            )
            metrics = metrics.dropna(axis=1, how="all")  # columns of other cells (per-task accuracies)
            summary, found = analyse_run(metrics, {**cell["run"], "seed": int(seed)}, settings)
            summaries.append(pd.DataFrame([summary]))
            phases.append(found)
    cells = [{"path": c["path"], "axes": c["axes"]} for c in archive["cells"]]
    return (
        with_run_columns(summaries, cells, archive["seeds"], experiment),
        with_run_columns(phases, cells, archive["seeds"], experiment),
    )


def differences(block_dir: str | Path) -> list[str]:
    """Where the block's published runs.csv and phases.csv differ from its archive's re-analysis by
    the current code ([] when they agree), read back as the published files are."""
    block_dir = Path(block_dir)
    out = []
    for name, table in zip(("runs.csv", "phases.csv"), reanalyse(block_dir), strict=True):
        again = pd.read_csv(io.StringIO(table.to_csv(index=False)))
        published = pd.read_csv(block_dir / name)
        if list(again.columns) != list(published.columns) or len(again) != len(published):
            out.append(f"{name}: columns or rows differ ({len(again)} rows vs {len(published)} published)")
            continue
        for column in published.columns:
            a, b = again[column], published[column]
            same = a.equals(b) or (a.isna() & b.isna() | (a == b)).all()
            if not same:
                out.append(f"{name}: column {column} differs")
    return out
