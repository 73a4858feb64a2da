"""The tiny grid on a real single-node SLURM cluster through snakemake-executor-plugin-slurm.

`.ci/slurm-up` installs (Debian's slurm-wlm and munge) and starts the cluster; this test starts it
if it is installed but down, and is skipped only where SLURM is not installed at all. Under CI
(CI=true) it fails instead: a CI run that skipped it would pass without testing SLURM at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pandas as pd
import pytest

from snakemake_runs import REPO, TINY, snakemake


def required_here() -> bool:
    """CI sets CI=true; there the SLURM test must run, so a missing cluster is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


@pytest.fixture(scope="module")
def slurm_cluster():
    missing = [name for name in ("slurmctld", "slurmd", "sbatch", "sinfo") if shutil.which(name) is None]
    if missing:
        reason = f"SLURM is not installed here (no {', '.join(missing)} on PATH)"
        if required_here():
            pytest.fail(
                f"{reason}, but CI=true requires the SLURM test to run: `bash .ci/slurm-up` as root",
                pytrace=False,
            )
        pytest.skip(f"{reason}; `sudo bash .ci/slurm-up` installs and starts a single-node cluster")
    up = subprocess.run(["bash", str(REPO / ".ci" / "slurm-up")], capture_output=True, text=True, timeout=300)
    if up.returncode:
        pytest.fail(
            f".ci/slurm-up could not start the SLURM cluster:\n{(up.stdout + up.stderr)[-3000:]}",
            pytrace=False,
        )


def test_tiny_grid_runs_on_slurm_with_training_as_a_job_array(slurm_cluster, tmp_path):
    profile = ["--workflow-profile", str(REPO / "profiles" / "slurm-test")]
    # Eval sets are cheap local jobs; drawing them first makes all training jobs ready at once, so
    # the plugin submits them together as one array.
    snakemake(tmp_path, TINY, *profile, "--until", "eval_sets")
    out = snakemake(tmp_path, TINY, *profile)
    text = out.stdout + out.stderr
    arrays = re.findall(r"Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\d+)", text)
    assert sum(len(ids.split(",")) for ids, _ in arrays) == 4, text[-3000:]
    for _, slurm_id in arrays:
        states = subprocess.run(
            ["squeue", "-h", "-t", "all", "-j", slurm_id, "-o", "%T"], capture_output=True, text=True
        ).stdout.split()
        assert states and set(states) == {"COMPLETED"}, states
    runs = pd.read_csv(tmp_path / "results" / "grid" / "tables" / "runs.csv")
    assert len(runs) == 8 and runs["final_acc"].between(0, 1).all()
    for name in ("learning_curves", "final_accuracy"):
        assert (tmp_path / "results" / "grid" / "figures" / f"{name}.png").stat().st_size > 1000
    assert (
        "Nothing to be done"
        in "".join(snakemake(tmp_path, TINY, *profile, "-n").stdout.splitlines(keepends=True)[-5:])
        or "Nothing to be done" in snakemake(tmp_path, TINY, *profile, "-n").stderr
    )
