"""The Snakemake workflow for real: the full DAG, a tiny grid end to end, re-run rules, bad configs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from icmeta.analysis.answers import run_config
from icmeta.figures import NAMES
from icmeta.settings.config import RunConfig
from icmeta.task.data import load_eval_sets
from icmeta.task.theory import scc_bound
from icmeta.training.train import train
from probe_fixtures import tiny_gpt2, write_sst2
from snakemake_runs import REPO, TINY, clone_workflow, planned_jobs, snakemake, write_config

FIGURES = tuple(NAMES)  # the tiny grid asks for every figure


def test_full_default_dag_has_one_job_per_cell_and_run(tmp_path):
    jobs = planned_jobs(tmp_path, REPO / "config.yaml")
    cells = 1 + 6 * 6  # main (T = 3) and phase_diagram (T x eps); the other blocks are switched off
    runs = cells * 3
    per_run_figures = (
        "overview",
        "accuracy_loss",
        "attention_maps",
        "delta_acc",
        "circuit_metrics",
        "pair_attention",
        "random_label",
    )
    assert jobs == {
        "eval_sets": runs,
        "train": cells,
        "summarise_run": runs,
        "aggregate": 2,
        "learning_curves": 2,
        "final_accuracy": 2,
        "phase_diagram": 1,
        "phase_sequences": 1,
        **dict.fromkeys(per_run_figures, 1),
        "sst2_data": 1,  # the SST-2 probe of gpt2-xl: data, probe, table, per-layer and per-head figures
        "probe": 1,
        "probe_tables": 1,
        "probe_figure": 2,
        "all": 1,
    }


def test_switching_a_block_on_adds_its_jobs(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["experiments"]["classes_K"]["active"] = True
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(tmp_path / "work", path)
    assert jobs["train"] == 37 + 6 and jobs["aggregate"] == 3 and jobs["learning_curves"] == 3
    assert jobs["phase_diagram"] == jobs["phase_sequences"] == 1  # a one-axis block has no phase diagram


def test_the_clamps_block_plans_one_training_job_per_clamp(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["only"] = ["clamps"]
    config["probe"]["active"] = False
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(tmp_path / "work", path)
    assert jobs["train"] == len(config["experiments"]["clamps"]["axes"]["clamp"]) == 10
    assert jobs["onset_shifts"] == 1 and jobs["circuit_metrics"] == 1


@pytest.mark.parametrize(
    ("example", "trains", "seeds"),
    [
        ("quick_look.yaml", 2, 2),
        ("circuits.yaml", 6, 2),
        ("clamps.yaml", 10, 3),
        ("main_ten_seeds.yaml", 2, 10),
    ],
)
def test_example_configs_laid_over_config_yaml_run_only_their_own_blocks(tmp_path, example, trains, seeds):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REPO / "config.yaml", work / "config.yaml")  # as in a checkout: the overlay applies
    jobs = planned_jobs(work, REPO / "examples" / example)
    assert jobs["train"] == trains and jobs["eval_sets"] == seeds * trains  # no other block
    assert "probe" not in jobs and "sst2_data" not in jobs


@pytest.mark.parametrize(("device", "gpus"), [("cpu", 0), ("cuda", 1)])
def test_slurm_profile_asks_for_a_gpu_only_where_training_uses_one(tmp_path, device, gpus):
    config = write_config(tmp_path / "c.yaml", **{"execution.device": device, "execution.cells_per_job": 1})
    out = snakemake(tmp_path, config, "-n", "--workflow-profile", str(REPO / "profiles" / "slurm"))
    text = out.stdout + out.stderr
    train_job = text.split("rule train:", 1)[1].split("\n\n", 1)[0]
    assert f"gpu={gpus}" in train_job and "runtime=240" in train_job and "mem_mb=8000" in train_job


@pytest.fixture
def tiny_run(finished_grid):
    """The tiny grid (2 seeds x 2 T x 2 eps, 300 steps), run once per session; tests copy it before
    changing it."""
    return finished_grid.work


def _copy(work, tmp_path):
    dest = tmp_path / "work"
    shutil.copytree(work, dest, symlinks=True)
    return dest


def test_tiny_grid_produces_every_table_and_figure(tiny_run):
    grid = tiny_run / "results" / "grid"
    runs = pd.read_csv(grid / "tables" / "runs.csv")
    assert len(runs) == 8
    assert set(zip(runs["T"], runs["eps"], runs["seed"], strict=True)) == {
        (t, e, s) for t in (1, 2) for e in (0.0, 0.5) for s in (0, 1)
    }
    phases = pd.read_csv(grid / "tables" / "phases.csv")
    assert set(phases.columns) >= {
        "cell",
        "seed",
        "phase",
        "plateau_acc",
        "circuit_behaviour",
        "circuit_attention",
    }
    assert {"n_phases", "circuits_behaviour", "circuits_attention", "final_circuit_behaviour"} <= set(
        runs.columns
    )
    assert {"steps_NCC", "first_FCC", "steps_label_prior"} <= set(runs.columns)
    metrics = pd.read_csv(grid / "tables" / "metrics.csv.gz")
    assert len(metrics) == 8 * 7  # evaluations at 0, 50, ..., 300
    assert metrics.groupby(["cell", "seed"]).size().eq(7).all()
    # Every run is its own: different seeds and cells give different curves.
    finals = metrics[metrics["step"] == 300]["loss"]
    assert finals.nunique() == 8
    for name in FIGURES:
        for ext in ("png", "pdf", "csv"):
            assert (grid / "figures" / f"{name}.{ext}").stat().st_size > 1000 or ext == "csv"
        assert len(pd.read_csv(grid / "figures" / f"{name}.csv")) > 0
    ckpts = sorted(p.name for p in (grid / "T~1" / "eps~0.0" / "seed~0" / "checkpoints").glob("*.pt"))
    assert ckpts[0] == "step_0000000.pt" and ckpts[-1] == "step_0000300.pt"
    # A finished cell keeps its state (one, with the one before it), for a longer cap to continue from.
    states = [torch.load(p, weights_only=False) for p in sorted(grid.rglob(".train_state-*.pt"))]
    assert len(states) == 4 and all(s["finished"] and s["step"] == 300 for s in states)
    for log in ("train/grid/T~1/eps~0.0.log", "aggregate/grid.log"):
        assert (tiny_run / "logs" / log).is_file()
    assert (tiny_run / "benchmarks" / "train" / "grid" / "T~1" / "eps~0.0.tsv").is_file()


def test_each_runs_label_multiset_bound_is_computed_on_its_own_seeds_task_maps(tiny_run):
    """The seed draws the task maps the SCC's bound depends on: a summary computed with the cell's
    configuration alone would give every seed seed 0's bound."""
    grid = tiny_run / "results" / "grid"
    runs = pd.read_csv(grid / "tables" / "runs.csv")
    by_seed = {}
    for row in runs.itertuples():
        bound = scc_bound(run_config(grid / row.cell / f"seed~{row.seed}"))
        assert row.scc_prediction == pytest.approx(bound, abs=1e-9), (row.cell, row.seed)
        by_seed.setdefault(row.cell, []).append(bound)
    assert any(len(set(bounds)) > 1 for bounds in by_seed.values()), "no cell tells its seeds apart"


def test_second_run_has_nothing_to_do(tiny_run):
    assert planned_jobs(tiny_run, TINY) == {}


def test_fresh_checkout_of_unchanged_code_retrains_nothing(tiny_run, tmp_path):
    """A clone elsewhere has new file dates and paths but the same content: nothing is stale."""
    code = clone_workflow(tmp_path / "clone")
    assert planned_jobs(_copy(tiny_run, tmp_path), TINY, code=code) == {}


def test_changing_a_grid_value_reruns_only_affected_cells(tiny_run, tmp_path):
    config = write_config(tmp_path / "c.yaml", **{"experiments.grid.axes.eps": [0.0, 0.25]})
    jobs = planned_jobs(_copy(tiny_run, tmp_path), config)
    assert jobs == {
        "eval_sets": 4,  # 2 T x 1 new eps x 2 seeds
        "train": 2,
        "summarise_run": 4,
        "aggregate": 1,
        **dict.fromkeys(FIGURES, 1),
        "all": 1,
    }


def test_adding_a_noise_level_trains_only_the_new_cells(tiny_run, tmp_path):
    config = write_config(tmp_path / "c.yaml", **{"experiments.grid.axes.eps": [0.0, 0.5, 1.0]})
    jobs = planned_jobs(_copy(tiny_run, tmp_path), config)
    assert jobs["train"] == 2 and jobs["eval_sets"] == 4 and jobs["summarise_run"] == 4


def test_changing_a_hyperparameter_reruns_every_cell_that_uses_it(tiny_run, tmp_path):
    config = write_config(tmp_path / "c.yaml", **{"defaults.optim.lr": 0.02})
    jobs = planned_jobs(_copy(tiny_run, tmp_path), config)
    assert jobs["train"] == 4 and jobs["summarise_run"] == 8
    assert "eval_sets" in jobs  # eval sets record the full run config they were drawn for


def test_raising_the_step_cap_continues_every_run_from_its_end_and_retrains_no_prefix(tiny_run, tmp_path):
    work = _copy(tiny_run, tmp_path)
    config = write_config(tmp_path / "c.yaml", **{"defaults.optim.steps": 600})
    assert "eval_sets" not in planned_jobs(work, config)  # the evaluation sets do not depend on the cap
    dry = snakemake(work, config, "-n")
    assert "2,400 model-steps to go (2,400 done, continued from saved states)" in dry.stderr
    snakemake(work, config, "--cores", "2")
    grid = work / "results" / "grid"
    for log in sorted((work / "logs" / "train" / "grid").rglob("*.log")):
        assert "step 300 to the new cap 600" in log.read_text(), log
    for before in sorted((tiny_run / "results" / "grid").glob("T~*/eps~*/seed~*/metrics.csv")):
        old = pd.read_csv(before)
        new = pd.read_csv(grid / before.relative_to(tiny_run / "results" / "grid"))
        assert new["step"].tolist() == list(range(0, 650, 50))
        pd.testing.assert_frame_equal(new[: len(old)][["step", "loss", "acc"]], old[["step", "loss", "acc"]])
    assert pd.read_csv(grid / "tables" / "runs.csv")["end_step"].eq(600).all()


def test_changing_detector_settings_reruns_analysis_not_training(tiny_run, tmp_path):
    config = write_config(tmp_path / "c.yaml", **{"analysis": {"plateaus": {"min_jump": 0.1}}})
    jobs = planned_jobs(_copy(tiny_run, tmp_path), config)
    assert "train" not in jobs and jobs["summarise_run"] == 8 and jobs["aggregate"] == 1


def test_changing_execution_settings_reruns_nothing(tiny_run, tmp_path):
    config = write_config(tmp_path / "c.yaml", **{"execution.save_state_every_s": 99})
    assert planned_jobs(_copy(tiny_run, tmp_path), config) == {}


def test_cells_sharing_one_job_train_as_they_do_alone_to_float_rounding(tiny_run, tmp_path):
    config = write_config(tmp_path / "c.yaml", **{"execution.cells_per_job": 4})
    work = tmp_path / "work"
    alone = sorted((tiny_run / "results" / "grid").glob("T~*/eps~*/seed~*/metrics.csv"))
    targets = [str(p.relative_to(tiny_run)) for p in alone]
    assert len(targets) == 8
    assert planned_jobs(work, config, *targets) == {"eval_sets": 8, "train_grid_group0": 1}
    snakemake(work, config, "--cores", "2", *targets)
    for path in alone:
        want = pd.read_csv(path)
        got = pd.read_csv(work / path.relative_to(tiny_run))
        assert list(got.columns) == list(want.columns) and got["step"].equals(want["step"])
        diff = (got.drop(columns="step") - want.drop(columns="step")).abs().max().max()
        assert diff < 1e-4, f"{path.parent}: {diff}"
    (state,) = (work / "results").rglob(".train_state-*.pt")  # one, under the group's first cell
    assert torch.load(state, weights_only=False)["finished"]
    train_logs = work / "logs" / "train" / "grid"
    logs = [path.relative_to(train_logs).with_suffix("") for path in train_logs.rglob("*.log")]
    assert len(logs) == 1 and (work / "results" / "grid" / logs[0]).is_dir(), f"one log, a cell's: {logs}"
    # The group's jobs are other rules than the per-cell ones: going back to one cell per job
    # retrains (its numbers would differ by rounding), as the config's comment says.
    assert planned_jobs(work, TINY, *targets) == {"train": 4}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"defaults.task.eps": -0.5}, "eps"),
        ({"defaults.optim.steps": "many"}, "steps"),
        ({"seeds": []}, "seeds"),
        ({"experiments.grid.axes.B": [3]}, "task.B"),  # B must divide N = 4: a cross-field rule
        # N/B = 2 context classes and the query's class outside them need K >= 3, even at p_B = 1
        # (this passed validation, then every training job died in torch's top-k)
        ({"defaults.task": {"T": 2, "K": 2, "L": 32, "N": 4, "B": 2, "p_B": 1.0}}, "'task.K' = 2 is invalid"),
        ({"experiments.grid.axes.colour": [1]}, "colour"),
        ({"execution.device": "tpu"}, "device"),
        ({"execution.cells_per_job": 0}, "cells_per_job"),
        ({"probe": {"active": True, "data": {"path": "/no/such/dir"}}}, "probe.data.path"),
        ({"probe": {"active": True, "checkpoints": {"steps": [5]}}}, "probe.checkpoints.name is empty"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, changes, message):
    config = write_config(tmp_path / "bad.yaml", **changes)
    work = tmp_path / "work"
    out = snakemake(work, config, "--cores", "1", check=False)
    assert out.returncode != 0
    assert message in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"seeds: [0, 1\nexperiments: {}\n", "invalid config: config.yaml:2:12: not valid YAML"),
        (b"seeds: [0, 1]\n# caf\xe9\n", "invalid config: config.yaml:2: byte 0xe9 is not UTF-8 text"),
    ],
)
def test_an_unreadable_config_yaml_is_named_with_its_line(tmp_path, text, message):
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_bytes(text)
    out = snakemake(work, TINY, "-n", check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and message in text and "Traceback" not in text
    assert not (work / "results").exists()


@pytest.mark.workflow
def test_probe_stage_runs_end_to_end_with_a_tiny_model(tmp_path):
    """Two tiny GPT-2s as 'models' and two as checkpoints of one model, on a small SST-2 in GLUE's
    layout, through the workflow's probe rules to the tables and all three probe figures."""
    fixture = tmp_path / "fixture"
    tiny_gpt2(fixture / "model")
    for step in (0, 10):
        tiny_gpt2(fixture / "ckpt" / f"step{step}", layers=3)
    write_sst2(fixture / "sst2")
    probe = {
        "active": True,
        "data": {"path": str(fixture / "sst2")},
        "prompts": {"queries": 6},
        "models": [str(fixture / "model")],
        "checkpoints": {"name": str(fixture / "ckpt" / "step{step}"), "revision": None, "steps": [0, 10]},
        "batch_size": 4,
    }
    config = write_config(tmp_path / "c.yaml", probe=probe)
    work = tmp_path / "work"
    figures = [f"results/probe/figures/{n}.png" for n in ("probe_layers", "probe_heads", "probe_checkpoints")]
    snakemake(work, config, "--cores", "2", *figures)
    summary = pd.read_csv(work / "results" / "probe" / "tables" / "summary.csv")
    assert sorted(summary["step"].fillna(-1)) == [-1, 0, 10]
    assert summary["accuracy"].between(0, 1).all() and (summary["prompts"] == 6).all()
    metrics = pd.read_csv(work / "results" / "probe" / "tables" / "metrics.csv")
    assert len(metrics) == 3 * 2 * 2 + 2 * (3 * 3 * 2)  # metrics x layers x heads, per run
    for figure in figures:
        assert (work / figure).stat().st_size > 1000
    assert not (work / "resources").exists(), "a local copy of SST-2 is read in place, never downloaded"


def _training_process(workdir):
    """PID of the training job's Python process running in `workdir` (Snakemake's copy of train.py)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            cwd = (proc / "cwd").resolve()
        except OSError:
            continue
        if "train.py" in cmdline and "snakemake" not in cmdline.split("\0")[0] and cwd == workdir.resolve():
            return int(proc.name)
    return None


@pytest.mark.workflow
def test_killed_training_job_is_retried_and_resumes_to_the_same_result(tmp_path):
    config = write_config(
        tmp_path / "c.yaml",
        **{
            "experiments.grid.axes": {"T": [2], "eps": [0.1]},
            "experiments.grid.figures": [],  # this test is about training; spare it the extra figures
            "defaults.optim.steps": 1500,
            "execution.save_state_every_s": 0.3,
        },
    )
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(work), "--configfile", str(config)]
    proc = subprocess.Popen(
        [*cmd, "--cores", "2"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    cell = work / "results" / "grid" / "T~2" / "eps~0.1"
    deadline = time.monotonic() + 300
    while not list(cell.glob(".train_state-*.pt")):
        assert proc.poll() is None and time.monotonic() < deadline, "training never saved a state"
        time.sleep(0.1)
    pid = _training_process(work)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # as a node failure would: no chance to save anything more
    output = proc.communicate(timeout=600)[0].decode()
    assert proc.returncode == 0, output[-3000:]
    assert "Trying to restart job" in output or "attempt" in output
    log = (work / "logs" / "train" / "grid" / "T~2" / "eps~0.1.log").read_text()
    resumed_at = int(re.search(r"resumed from .* at step (\d+)", log).group(1))
    assert 0 < resumed_at < 1500
    # Snakemake deletes a job's log before its retry; the killed attempt's part must survive it.
    headers = re.findall(r"^===== attempt (\d+): started .* on host .*, pid (\d+)", log, re.MULTILINE)
    assert [n for n, _ in headers] == ["1", "2"] and headers[0][1] == str(pid), log[-3000:]
    first, second = log.split("===== attempt 2")
    assert "resumed from" not in first, first[-2000:]
    assert "resumed from" in second
    # The same cell trained without interruption gives identical numbers.
    seeds = [0, 1]
    configs = [
        RunConfig.from_dict(
            {
                k: v
                for k, v in yaml.safe_load((cell / f"seed~{s}" / "config.yaml").read_text()).items()
                if k != "hash"
            }
        )
        for s in seeds
    ]
    sets = load_eval_sets([cell / f"seed~{s}" / "eval_sets.pt" for s in seeds], configs, torch.device("cpu"))
    fresh = train(
        configs, [tmp_path / f"fresh{s}" for s in seeds], tmp_path / "state.pt", threads=2, eval_sets=sets
    )
    for s, frame in zip(seeds, fresh, strict=True):
        resumed = pd.read_csv(cell / f"seed~{s}" / "metrics.csv")
        pd.testing.assert_frame_equal(resumed, pd.read_csv(tmp_path / f"fresh{s}" / "metrics.csv"))
        assert len(frame) == len(resumed)


def test_report_gathers_every_figure_with_its_config(tiny_run, tmp_path):
    work = _copy(tiny_run, tmp_path)
    snakemake(work, TINY, "--report", str(work / "report.html"))
    html = (work / "report.html").read_text()
    for name in FIGURES:
        assert f"{name}.png" in html
    assert "Produced by: axes" in html and "{'T': [1, 2], 'eps': [0.0, 0.5]}" in html


def test_a_dry_run_prints_the_plan_and_its_cost_before_anything_runs(tmp_path):
    out = snakemake(tmp_path / "work", TINY, "-n", "--cores", "2")
    assert "icmeta plan (cpu with" in out.stderr
    assert "grid: 8 runs, 2,400 model-steps, 4 training jobs, 33 other jobs: about" in out.stderr


@pytest.mark.workflow
def test_more_cores_than_cpus_never_runs_more_training_threads_than_the_machine_has(tmp_path):
    """`--cores` four times the CPUs: the training jobs' cpu_share keeps them to the CPUs (each job
    runs 2 threads), read from when each job's log was opened and last written.

    Both ends lie inside the job: its benchmark time would also count the Python start and imports
    before the log is opened, and added to the log's start it overlapped back-to-back jobs."""
    from datetime import datetime

    from icmeta.settings.execution import usable_cpus

    cpus = usable_cpus()
    work = tmp_path / "work"
    cells = [f"T~{t}/eps~{e}" for t in (1, 2) for e in ("0.0", "0.5")]
    metrics = [f"results/grid/{c}/seed~0/metrics.csv" for c in cells]
    out = snakemake(work, TINY, "--cores", str(4 * cpus), *metrics)
    assert f"--cores {4 * cpus} is more than the {cpus} CPUs" in out.stderr
    spans = []
    for cell in cells:
        log = work / "logs" / "train" / "grid" / f"{cell}.log"
        header = log.read_text().split("started ", 1)[1]
        start = datetime.strptime(header[:25], "%Y-%m-%d %H:%M:%S %z").timestamp()
        spans.append((start, log.stat().st_mtime))
    # jobs running 1 s after each start (the header's resolution: it floors to the second)
    most = max(sum(a <= s + 1.0 < b for a, b in spans) for s, _ in spans)
    assert most <= max(1, cpus // 2), spans


def test_a_damaged_run_file_is_named_removed_and_rebuilt_never_aggregated(tiny_run, tmp_path):
    """A metrics.csv cut to its first rows, an attention.npz cut short, then a summary.csv cut short:
    the step that reads each fails naming the file, removes it, and the next call makes it again
    (from the cell's kept training state, with no training; a new summary)."""
    work = _copy(tiny_run, tmp_path)
    run = work / "results" / "grid" / "T~2" / "eps~0.5" / "seed~1"
    lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
    (run / "metrics.csv").write_text("".join(lines[:3]))  # the header, steps 0 and 50
    maps = work / "results" / "grid" / "T~1" / "eps~0.5" / "seed~0" / "attention.npz"
    maps.write_bytes(maps.read_bytes()[:500])
    failed = snakemake(work, TINY, "--cores", "2", check=False)
    assert failed.returncode != 0
    assert "seed~1/metrics.csv is damaged: it ends at step 50, the run trains to 300" in failed.stderr
    assert "seed~0/attention.npz is damaged: it cannot be read as the run's maps" in failed.stderr
    assert "it was removed, so the next `snakemake` writes the run's files again" in failed.stderr
    assert not (run / "metrics.csv").exists() and not maps.exists()
    assert planned_jobs(work, TINY).get("train") == 2  # the damaged runs' cells
    other = work / "results" / "grid" / "T~1" / "eps~0.0" / "seed~0" / "summary.csv"
    other.write_text(other.read_text()[:40])
    failed = snakemake(work, TINY, "--cores", "2", check=False)
    assert failed.returncode != 0 and "seed~0/summary.csv is damaged" in failed.stderr
    assert not other.exists()
    snakemake(work, TINY, "--cores", "2")
    for cell in ("T~2/eps~0.5", "T~1/eps~0.5"):
        # the last attempt's part: a log keeps every attempt, the cell's first training included
        log = (work / "logs" / "train" / "grid" / f"{cell}.log").read_text().split("===== attempt ")[-1]
        assert "resumed from" in log and "at step 300" in log and "steps/s" not in log, "no training"
    runs = pd.read_csv(work / "results" / "grid" / "tables" / "runs.csv")
    assert runs["end_step"].eq(300).all() and len(runs) == 8
    before = pd.read_csv(tiny_run / "results" / "grid" / "tables" / "runs.csv")
    assert runs["final_acc"].tolist() == before["final_acc"].tolist()  # the same runs
