"""`snakemake publish` on a finished tiny grid: exactly the declared files, copies of what the workflow
made, thinned curves, a stamp, and the same bytes when published again."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pandas as pd
import yaml

from icmeta.figures import NAMES
from icmeta.steps.publish import code_commit, thin_curves
from snakemake_runs import REPO, planned_jobs, snakemake


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_publish_copies_exactly_the_declared_files_and_reproduces_them(finished_grid, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(finished_grid.work, work, symlinks=True)
    plan = planned_jobs(work, finished_grid.config, "--cores", "1", "publish")
    assert plan == {"publish_grid": 1, "publish": 1}
    snakemake(work, finished_grid.config, "--cores", "1", "publish")  # after --configfile's values
    out = work / "docs" / "results" / "grid"
    published = _tree(out)
    figures = ["learning_curves", "final_accuracy", "phase_diagram"] + [
        f for f in yaml.safe_load(finished_grid.config.read_text())["experiments"]["grid"]["figures"]
    ]
    assert set(figures) <= set(NAMES)
    declared = {"PROVENANCE.yaml", "runs.csv", "phases.csv", "curves.csv"}
    declared |= {f"figures/{name}.png" for name in figures}
    assert set(published) == declared
    assert list((work / "docs").iterdir()) == [work / "docs" / "results"]  # nothing else written
    tables, made = work / "results" / "grid" / "tables", work / "results" / "grid" / "figures"
    for name in ("runs.csv", "phases.csv"):
        assert published[name] == (tables / name).read_bytes()
    for name in figures:
        assert published[f"figures/{name}.png"] == (made / f"{name}.png").read_bytes()
    stamp = yaml.safe_load(published["PROVENANCE.yaml"])
    assert stamp["block"] == "grid" and stamp["runs"] == 8
    assert stamp["code_commit"] == code_commit(REPO) and stamp["code_commit"]
    for name, digest in stamp["files"].items():
        assert hashlib.sha256(published[name]).hexdigest() == digest
    assert set(stamp["files"]) == declared - {"PROVENANCE.yaml"}

    snakemake(work, finished_grid.config, "--forcerun", "publish_grid", "--cores", "1", "publish")
    assert _tree(out) == published  # byte for byte


def test_thinned_curves_keep_the_ends_and_a_few_points_per_decade():
    steps = np.arange(0, 100_001, 100)
    metrics = pd.DataFrame(
        {"T": 3, "seed": 0, "step": steps, "acc": steps / steps.max(), "loss": 1.0, "rla_acc": 0.5}
        | {f"bigram_L{layer}H1": 0.1 * layer for layer in (1, 2)}
    )
    thin = thin_curves(metrics, ["T"], per_decade=10)
    kept = thin["step"].tolist()
    assert kept[0] == 0 and kept[-1] == 100_000 and kept == sorted(set(kept))
    assert 25 <= len(kept) <= 32  # 3 decades from 100 at 10 per decade, and the ends
    assert np.allclose(thin["acc"], thin["step"] / 100_000)  # the rows kept, not resampled values
    assert thin["bigram_L2"].eq(0.2).all() and "bigram_L1H1" not in thin.columns
