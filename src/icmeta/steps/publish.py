"""The workflow step that publishes a finished block into the repository (`snakemake publish`).

`results/` stays out of version control; what a reader needs to see a block's findings without
running anything is copied to `docs/results/<block>/`: its figures as PNG, its run and phase tables
(also as a Markdown page, runs.md), its learning curves thinned on log-step, its phases re-detected
under neighbouring plateau-detector settings (`icmeta.block.detector_sweep`), and the archive its
tables can be computed again from (`icmeta.steps.reanalysis`). Every file is a
function of the results and the code that made them, so publishing again after the runs reproduces
the files byte for byte; PROVENANCE.yaml names that code (the last commit that changed it) and the
runs (a hash of their configurations).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from icmeta.analysis.phases import AnalysisSettings
from icmeta.analysis.run import BehaviourReader
from icmeta.block.claims import Runs, claims_markdown, comparison_markdown, sensitivity_markdown
from icmeta.block.detector_sweep import sweep_phases
from icmeta.block.report import runs_markdown
from icmeta.io import atomic_path, write_yaml
from icmeta.network.circuits import MAP_METRICS, layer_means
from icmeta.steps.reanalysis import write_archive

# What decides a block's numbers besides its run configurations; a commit touching none of these
# (say, one that only adds the published files) does not change the stamp.
CODE_PATHS = ("Snakefile", "config.yaml", "src", "workflow", "profiles", "envs")
# The behavioural circuit labels' contrasts are published too, so that a reader can re-derive them.
CURVE_COLUMNS = ("acc", "loss", "rla_acc", "acc_official", "rand_label_acc", "all_pairs_broken_acc")
PAIR_BREAK_COLUMN = re.compile(r"(broken|only)_pair\d+_acc")
PROVENANCE = "PROVENANCE.yaml"
POINTS_PER_DECADE = 25  # of log-step in the thinned curves: enough for every log-step figure
FLOAT_FORMAT = "%.5g"
SENSITIVITY_HEADING = "## How the verdicts move with the plateau detector's settings"
ENCODINGS_HEADING = "## The default setting under two encodings"
# The default setting at the project's default encoding and with token positions and fixed label vectors,
# the encoding closest to the paper's text that had a Phase 2 in the encoding study.
ENCODINGS = ("main", "main_paper_text")


def thin_curves(
    metrics: pd.DataFrame, axes: Sequence[str], per_decade: int = POINTS_PER_DECADE
) -> pd.DataFrame:
    """Each run's accuracy, loss and head-mean attention metrics per layer at about `per_decade`
    evaluations per decade of log-step (the first in each bin, and the first full one where the
    secondary sets are evaluated less often: `optim.full_eval_every`), plus its first and last."""
    keys = [*axes, "seed"]
    measured = [c for c in metrics.columns if c in CURVE_COLUMNS or PAIR_BREAK_COLUMN.fullmatch(c)]
    curves = metrics[[*keys, "step", *measured]].copy()
    for name in MAP_METRICS:
        for layer, values in layer_means(metrics, name).items():
            curves[f"{name}_L{layer}"] = values
    parts = []
    for _, run in curves.groupby(keys, sort=False):
        steps = run["step"].to_numpy()
        bins = np.floor(np.log10(np.maximum(steps, 1)) * per_decade + 1e-9)
        first_of_bin = np.concatenate([[True], bins[1:] != bins[:-1]])
        full = np.flatnonzero(run[measured].notna().all(axis=1))
        first_full = np.zeros(len(run), dtype=bool)
        first_full[full[np.unique(bins[full], return_index=True)[1]]] = True
        keep = first_of_bin | first_full | (steps == steps.max()) | (steps == 0)
        parts.append(run[keep])
    return pd.concat(parts, ignore_index=True)


def code_commit(root: Path) -> str:
    """The last commit that changed the code or config (CODE_PATHS), '+dirty' with uncommitted edits
    to them; 'unknown' outside a git checkout."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    try:
        commit = git("log", "-1", "--format=%H", "--", *CODE_PATHS)
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return (commit or "unknown") + ("+dirty" if dirty else "")


def config_hash(run_hashes: Sequence[str], analysis: Mapping[str, Any]) -> str:
    """One hash of the block's runs (their configuration hashes) and the analysis settings."""
    blob = json.dumps({"runs": sorted(run_hashes), "analysis": analysis}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class RunsStamp:
    """What PROVENANCE.yaml says of the runs behind a block: their `config_hash`, how many, and the
    figures a redraw from the archive could not draw again (kept as the runs' publish drew them)."""

    config_hash: str
    count: int
    kept_figures: tuple[str, ...] = ()

    @classmethod
    def of(cls, run_hashes: Sequence[str], analysis: Mapping[str, Any]) -> RunsStamp:
        """The stamp of a block published from its runs, which keeps no figure from before."""
        return cls(config_hash(run_hashes, analysis), len(run_hashes))


def publish_block(
    experiment: str,
    axes: Sequence[str],
    figure_pngs: Sequence[str | Path],
    runs_csv: str | Path,
    phases_csv: str | Path,
    metrics_csv: str | Path,
    maps_csv: str | Path | None,
    runs_stamp: RunsStamp,
    analysis: Mapping[str, Any],
    root: str | Path,
    out_dir: str | Path,
    cells: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
) -> None:
    """Copy a block's figures and tables to `out_dir`, thin its curves, archive what its analysis
    and figures read (`icmeta.steps.reanalysis`; the per-phase maps `maps_csv` unless None), and stamp
    them. `cells`: each cell's path, axes and run configuration, in the order of the tables."""
    out_dir = Path(out_dir)
    figures_dir = out_dir / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for png in figure_pngs:
        shutil.copyfile(png, figures_dir / Path(png).name)
        files.append(figures_dir / Path(png).name)
    for source in (runs_csv, phases_csv):
        shutil.copyfile(source, out_dir / Path(source).name)
        files.append(out_dir / Path(source).name)
    runs = pd.read_csv(runs_csv)
    with atomic_path(out_dir / "runs.md") as tmp:
        tmp.write_text(runs_markdown(runs, pd.read_csv(phases_csv), axes, experiment))
    files.append(out_dir / "runs.md")
    metrics = pd.read_csv(metrics_csv)
    curves = thin_curves(metrics, axes)
    with atomic_path(out_dir / "curves.csv") as tmp:
        curves.to_csv(tmp, index=False, float_format=FLOAT_FORMAT)
    files.append(out_dir / "curves.csv")
    # Re-detected from the full history, which the thinned curves no longer hold.
    settings = AnalysisSettings.from_dict(analysis)
    configs = {cell["path"]: cell["run"] for cell in cells}
    sweep = sweep_phases(
        metrics,
        runs,
        ["cell", *axes, "seed"],
        settings.plateaus,
        lambda run: BehaviourReader.of_summary(configs[run["cell"]], run, settings.behaviour_z),
    )
    with atomic_path(out_dir / "detector_sweep.csv") as tmp:
        sweep.to_csv(tmp, index=False, float_format=FLOAT_FORMAT)
    files.append(out_dir / "detector_sweep.csv")
    maps = None if maps_csv is None else pd.read_csv(maps_csv)
    files += write_archive(out_dir, metrics, cells, seeds, analysis, maps)
    stamp = {
        "block": experiment,
        "code_commit": code_commit(Path(root)),
        "config_hash": runs_stamp.config_hash,
        "runs": runs_stamp.count,
        **({"kept_figures": list(runs_stamp.kept_figures)} if runs_stamp.kept_figures else {}),
        "files": {str(f.relative_to(out_dir)): _sha256(f) for f in sorted(files)},
    }
    write_yaml(stamp, out_dir / PROVENANCE)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish_claims(
    blocks: Sequence[str],
    runs_csvs: Sequence[str | Path],
    phases_csvs: Sequence[str | Path],
    sweep_csvs: Mapping[str, str | Path],
    tolerance: float,
    out: str | Path,
) -> None:
    """The claim table (`icmeta.block.claims`) from the published tables of `blocks`, and how its verdicts
    move with the plateau detector's settings on the blocks that carry a sweep (`sweep_csvs`, block
    -> detector_sweep.csv), as Markdown."""
    tables = {
        block: Runs(pd.read_csv(runs), pd.read_csv(phases))
        for block, runs, phases in zip(blocks, runs_csvs, phases_csvs, strict=True)
    }
    sweeps = {block: pd.read_csv(path) for block, path in sweep_csvs.items() if block in tables}
    page = claims_markdown(tables, tolerance)
    page += f"\n{SENSITIVITY_HEADING}\n\n{sensitivity_markdown(tables, sweeps, tolerance)}"
    page += f"\n{ENCODINGS_HEADING}\n\n{comparison_markdown(tables, *ENCODINGS, tolerance)}"
    with atomic_path(out) as tmp:
        tmp.write_text(page)
