"""The plan printed before the first job: what a config runs and what it costs on this machine."""

from __future__ import annotations

import pytest
import torch
import yaml

from icmeta.cli import main
from icmeta.errors import ConfigError
from icmeta.figures import of_block
from icmeta.settings.execution import cpu_share, usable_cpus
from icmeta.steps import plan as planning
from snakemake_runs import TINY


def test_a_cpu_job_claims_its_threads_share_of_the_machine_and_never_more_than_all():
    assert [cpu_share(2, cpus) for cpus in (1, 2, 3, 4, 16)] == [100, 100, 67, 50, 13]
    # the default profile caps the sum at 100: jobs at once never hold more threads than CPUs
    for cpus in range(1, 33):
        at_once = 100 // cpu_share(2, cpus)
        assert at_once * 2 <= max(cpus, 2) and at_once >= 1


def test_a_trainer_never_asks_torch_for_more_threads_than_cpus(tmp_path):
    from icmeta.settings.config import RunConfig
    from icmeta.training.train import Trainer

    before = torch.get_num_threads()
    try:
        Trainer([RunConfig()], [tmp_path / "r"], tmp_path / "s.pt", device="cpu", threads=64)
        assert torch.get_num_threads() == min(64, usable_cpus())
    finally:
        torch.set_num_threads(before)


def test_a_block_draws_the_figures_every_block_gets_then_its_own():
    assert of_block(1, ["overview"]) == ["learning_curves", "final_accuracy", "overview"]
    grid = of_block(2, ["overview", "final_accuracy"])
    assert grid == ["learning_curves", "final_accuracy", "phase_diagram", "phase_sequences", "overview"]


def test_the_plan_counts_runs_model_steps_and_jobs_and_times_them_from_the_measured_speed(monkeypatch):
    speeds = []

    def speed(ensemble, device, threads):
        speeds.append((ensemble, threads))
        return 100.0  # model-steps/s of one training job

    monkeypatch.setattr(planning, "model_steps_per_s", speed)
    config = planning.load_config([TINY])
    (block,) = planning.plan(config, cores=2, device="cpu")
    assert (block.name, block.runs, block.model_steps, block.training_jobs) == ("grid", 8, 2400, 4)
    figures = 4 + len(config["experiments"]["grid"]["figures"])
    assert block.other_jobs == 8 + 8 + 1 + figures  # eval sets, summaries, the tables, the figures
    at_once = max(1, min(2, usable_cpus()) // min(2, usable_cpus()))
    assert block.train_s == pytest.approx(2400 / 100 / at_once)
    assert speeds == [(2, min(2, usable_cpus()))]  # an ensemble of a cell's two seeds, a job's threads
    text = planning.format_plan([block], 2, "cpu")
    assert "grid: 8 runs, 2,400 model-steps, 4 training jobs" in text
    untimed = planning.format_plan(planning.plan(config, 2, "cpu", timed=False), 2, "cpu", timed=False)
    assert "about" not in untimed and "grid: 8 runs" in untimed


def test_config_files_are_merged_in_order_and_filled_with_defaults(tmp_path):
    over = tmp_path / "over.yaml"
    over.write_text(yaml.safe_dump({"seeds": [0, 1, 2, 3], "defaults": {"optim": {"steps": 500}}}))
    config = planning.load_config([TINY, over])
    assert config["seeds"] == [0, 1, 2, 3] and config["defaults"]["optim"]["steps"] == 500
    assert config["defaults"]["optim"]["lr"] == 0.05  # the tiny config's, kept
    assert config["analysis"]["behaviour_z"] == 3.0  # a default filled in
    with pytest.raises(ConfigError, match=r"no/such\.yaml does not exist"):
        planning.load_config([tmp_path / "no/such.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"seeds": []}))
    with pytest.raises(ConfigError, match="seeds"):
        planning.load_config([TINY, bad])


def test_icmeta_plan_measures_this_machine_once_and_prints_the_plan(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["plan", str(TINY), "--cores", "2", "--device", "cpu"]) == 0
    first = capsys.readouterr().out
    assert "grid: 8 runs, 2,400 model-steps, 4 training jobs" in first and "in all: about" in first
    cached = yaml.safe_load((tmp_path / "icmeta" / "training_speed.json").read_text())
    assert len(cached) == 1 and next(iter(cached.values())) > 0
    assert main(["plan", str(TINY), "--cores", "2", "--device", "cpu"]) == 0
    assert capsys.readouterr().out == first  # the cached speed: the same estimate, no new measurement


def test_by_default_a_gpu_packs_cells_and_a_cpu_trains_one_per_job():
    from icmeta.settings.execution import GPU_MODELS, ExecutionSettings

    default = ExecutionSettings()
    assert default.cells_per_job_on(gpu=False, seeds=3) == 1
    assert default.cells_per_job_on(gpu=True, seeds=2) == GPU_MODELS // 2
    assert default.cells_per_job_on(gpu=True, seeds=GPU_MODELS + 1) == 1
    assert ExecutionSettings(cells_per_job=4).cells_per_job_on(gpu=True, seeds=2) == 4


def test_runs_with_saved_states_count_only_the_steps_they_have_still_to_go(tmp_path, monkeypatch):
    from icmeta.settings import experiments as grid
    from icmeta.training.state import summary
    from icmeta.training.train import Trainer

    monkeypatch.setattr(planning, "model_steps_per_s", lambda *args: 100.0)
    config = planning.load_config([TINY])
    cells = grid.cells(config, "grid")
    results = tmp_path / "results"
    # One cell's two seeds: a state at step 100 of 300; another cell: seed 0 stopped at 200.
    for cell, step, stopped in ((cells[0], 100, [None, None]), (cells[1], 200, [200, None])):
        configs = grid.run_configs(config, cell)
        trainer = Trainer(configs, [tmp_path / "r0", tmp_path / "r1"], results / "grid" / cell.path / "s.pt")
        trainer.step = step
        trainer.history.stopped_at = stopped
        trainer.save_state()
        assert summary(trainer.state_path).is_file()
    (block,) = planning.plan(config, 2, "cpu", results=results)
    # 2400 in all; 2 x 200 to go in the first cell, 0 and 100 in the second
    assert block.model_steps == 2400 - 2 * 300 - 2 * 300 + 2 * 200 + 0 + 100
    assert block.model_steps_done == 2400 - block.model_steps
    assert "1,700 model-steps to go (700 done, continued from saved states)" in planning.format_plan(
        [block], 2, "cpu"
    )
    lowered = planning.load_config([TINY])
    lowered["defaults"]["optim"]["steps"] = 150  # below the second cell's step 200: it trains anew
    (block,) = planning.plan(lowered, 2, "cpu", results=results)
    assert block.model_steps == 8 * 150 - 2 * 100  # the first cell goes on from 100; the second retrains
