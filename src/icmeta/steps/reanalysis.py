"""A published block's archive, and its tables computed again from it without training.

`snakemake publish` keeps, beside a block's tables, what its analysis reads: every run's evaluation
history (`history.csv.gz`: every metrics.csv column at every evaluation, floats written so that they
read back exactly) and each cell's run configuration with the block's seeds and analysis settings
(`archive.yaml`). From these alone, a reader without `results/` gets the block's summaries and
phases back, here or under other analysis settings. The attention maps themselves are not archived
(a few MB per run at the paper's length); their means over each published phase are
(`phase_maps.csv.gz`, a few KB per run), which is all the figures read of them. Those means belong to
the published phases: analysis settings that move the phases need the runs.
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
from icmeta.settings.config import RunConfig
from icmeta.steps.tables import IDENTITY, with_run_columns
from icmeta.training.evaluation import metric_columns

HISTORY = "history.csv.gz"
ARCHIVE = "archive.yaml"
MAPS = "phase_maps.csv.gz"


def write_archive(
    out_dir: Path,
    metrics: pd.DataFrame,
    cells: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    analysis: Mapping[str, Any],
    maps: pd.DataFrame | None = None,
) -> list[Path]:
    """The block's archive in `out_dir`, with its per-phase attention maps when given; the same bytes
    for the same runs."""
    _write_packed(metrics, out_dir / HISTORY)
    # Plain data: the workflow hands over its config as ordered mappings, which YAML cannot write.
    archive = json.loads(json.dumps({"seeds": list(seeds), "analysis": analysis, "cells": list(cells)}))
    write_yaml(archive, out_dir / ARCHIVE)
    if maps is None:
        return [out_dir / HISTORY, out_dir / ARCHIVE]
    _write_packed(maps, out_dir / MAPS)
    return [out_dir / HISTORY, out_dir / ARCHIVE, out_dir / MAPS]


def _write_packed(table: pd.DataFrame, path: Path) -> None:
    """Gzipped CSV whose header holds no date and no file name, so equal tables give equal bytes;
    pandas writes floats so that they read back exactly."""
    with (
        atomic_path(path) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as packed,
    ):
        packed.write(table.to_csv(index=False).encode())


def read_archive(block_dir: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The block's archive (seeds, analysis settings, cells) and its evaluation history."""
    block_dir = Path(block_dir)
    try:
        return yaml.safe_load((block_dir / ARCHIVE).read_text()), pd.read_csv(block_dir / HISTORY)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise DamagedRunFile(
            f"{block_dir} has no readable archive ({type(err).__name__}: {err}); blocks published "
            f"before archives existed need their runs to be published again"
        ) from None


def reanalyse(
    block_dir: str | Path, analysis: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The block's run and phase tables computed from its archive, with its own analysis settings
    or `analysis`, as `aggregate` stacks them."""
    archive, history = read_archive(block_dir)
    return tables_of_archive(archive, history, archive["analysis"] if analysis is None else analysis)


def tables_of_archive(
    archive: Mapping[str, Any], history: pd.DataFrame, settings: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`reanalyse` on an archive already read (`read_archive`)."""
    experiment = str(history["experiment"].iloc[0])
    measured = history.columns[history.notna().any()]
    summaries, phases = [], []
    for cell in archive["cells"]:
        for seed in archive["seeds"]:
            rows = history[(history["cell"] == cell["path"]) & (history["seed"] == seed)]
            if rows.empty:
                where = f"{cell['path']} seed {seed}"
                raise DamagedRunFile(f"the archive's {HISTORY} has no evaluations of {where}")
            metrics = rows.drop(columns=[c for c in IDENTITY if c in rows] + list(cell["axes"])).reset_index(
                drop=True
            )
            # A column empty in this run but filled in another cell's is not the run's where its
            # metrics.csv has no such column (a third task's accuracy, a second head's maps). The
            # label focus of a layer whose query is masked from the labels is empty too, yet its run
            # file holds it, empty, whether another cell (another mask) fills it or none does.
            run = {**cell["run"], "seed": int(seed)}
            listed = set(metric_columns(RunConfig.from_dict(run)))
            filled = metrics.columns[metrics.notna().any()]
            metrics = metrics.drop(
                columns=[c for c in metrics.columns if c not in filled and c in measured and c not in listed]
            )
            summary, found = analyse_run(metrics, run, settings)
            summaries.append(_as_read_back(pd.DataFrame([summary])))
            phases.append(_as_read_back(found))
    cells = [{"path": c["path"], "axes": c["axes"]} for c in archive["cells"]]
    return (
        with_run_columns(summaries, cells, archive["seeds"], experiment),
        with_run_columns(phases, cells, archive["seeds"], experiment),
    )


def _as_read_back(table: pd.DataFrame) -> pd.DataFrame:
    """A run's table as `aggregate` reads it from the run's own file, so that the stacked table has
    the types, and therefore the bytes, of the workflow's (a column that is a whole number in one run
    and empty in another is written as a float)."""
    return pd.read_csv(io.StringIO(table.to_csv(index=False)))


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
