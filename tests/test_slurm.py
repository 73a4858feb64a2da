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
import sys
import time

import pandas as pd
import pytest

from snakemake_runs import REPO, TINY, snakemake, snakemake_command, write_config


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


def _site_profile(dest):
    """profiles/slurm with exactly the edits its SITE SETTINGS and docs/workflow.md ask for on a
    cluster without accounting or accounts, whose partition is `main`."""
    text = (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    edits = [
        ("# slurm-status-command: squeue", "slurm-status-command: squeue"),
        ('slurm_partition: "cpu"', 'slurm_partition: "main"'),
    ]
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    lines = [line for line in text.splitlines(keepends=True) if "slurm_account:" not in line]
    dest.mkdir(parents=True)
    (dest / "config.yaml").write_text("".join(lines))
    return dest


def _submitted(text):
    """Snakemake job ID -> SLURM job ID of every submission the plugin reports."""
    return dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", text))


def _slurm_states(slurm_ids):
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", ",".join(slurm_ids), "-o", "%i %T"],
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split() for line in out.splitlines())


def test_the_shipped_profile_runs_the_tiny_grid_after_the_documented_site_settings(slurm_cluster, tmp_path):
    profile = ["--workflow-profile", str(_site_profile(tmp_path / "profile"))]
    check = subprocess.run(
        [sys.executable, "-m", "icmeta.cli", "slurm-check", profile[1], "--config", str(TINY)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and "a node of the partition fits them" in check.stdout, check.stderr
    work = tmp_path / "work"
    out = snakemake(work, TINY, *profile)
    text = out.stdout + out.stderr
    submitted = _submitted(text)
    train_jobs = re.findall(r"rule train:\n(?:.*\n)*?\s+jobid: (\d+)", text)
    assert len(train_jobs) == 4 and set(train_jobs) <= set(submitted), text[-3000:]
    assert "array" not in text.lower()
    states = _slurm_states([submitted[j] for j in train_jobs])
    assert set(states.values()) == {"COMPLETED"}, states
    runs = pd.read_csv(work / "results" / "grid" / "tables" / "runs.csv")
    assert len(runs) == 8 and runs["end_step"].eq(300).all()
    for name in ("learning_curves", "final_accuracy"):
        assert (work / "results" / "grid" / "figures" / f"{name}.png").stat().st_size > 1000
    dry = snakemake(work, TINY, *profile, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_training_jobs_asking_more_cpus_than_any_node_has_are_refused_before_submission(
    slurm_cluster, tmp_path
):
    profile = ["--workflow-profile", str(REPO / "profiles" / "slurm-test"), "--set-threads", "train=64"]
    out = snakemake(tmp_path, TINY, *profile, check=False)
    text = out.stdout + out.stderr
    assert (
        out.returncode != 0 and "train jobs ask for 64 CPUs and no node of this cluster has more than" in text
    )
    assert not _submitted(text)


def test_a_cancelled_training_job_resumes_and_its_siblings_finish_on_their_first_attempt(
    slurm_cluster, tmp_path
):
    config = write_config(tmp_path / "c.yaml", **{"defaults.optim.steps": 3000})
    work = tmp_path / "work"
    profile = ["--workflow-profile", str(REPO / "profiles" / "slurm-test")]
    snakemake(work, config, *profile, "--until", "eval_sets")
    proc = subprocess.Popen(
        [*snakemake_command(work, config), *profile],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    cancelled = _cancel_first_running_training_job(work)
    text, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, text[-3000:]
    logs = sorted((work / "logs" / "train" / "grid").rglob("*.log"))
    attempts = {log.parent.name + "/" + log.stem: log.read_text().count("===== attempt ") for log in logs}
    assert attempts.pop(cancelled) == 2, text[-3000:]
    assert set(attempts.values()) == {1}, attempts  # no sibling failed or trained twice
    resumed = (work / "logs" / "train" / "grid" / f"{cancelled}.log").read_text()
    assert "resumed from" in resumed
    runs = pd.read_csv(work / "results" / "grid" / "tables" / "runs.csv")
    assert len(runs) == 8 and runs["end_step"].eq(3000).all()


def _cancel_first_running_training_job(work, timeout=300):
    """scancel the first training job seen running once it has saved a state; its cell (T~t/eps~e)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i %k"], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            slurm_id, comment = [*line.split(" ", 1), ""][:2]
            match = re.search(r"T~(\d+)_eps~([\d.]+)", comment)
            if "rule_train" in comment and match:
                cell = f"T~{match[1]}/eps~{match[2]}"
                if list((work / "results" / "grid" / cell).glob(".train_state-*.pt")):
                    subprocess.run(["scancel", slurm_id], check=True)
                    return cell
        time.sleep(1)
    raise AssertionError("no training job ran long enough to be cancelled")
