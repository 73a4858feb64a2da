"""`icmeta doctor` where it can run here: the no-GPU answer, the speed table, the helpers, the path log."""

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import small
from icmeta import doctor
from icmeta.cli import main
from icmeta.training.device import CPU, planned_path
from icmeta.training.train import Trainer


def _row(ensemble: int, steps_per_s: float, evaluation: str = "off") -> dict:
    return {
        "device": "cuda",
        "ensemble": ensemble,
        "eval": evaluation,
        "steps": 100,
        "seconds": 1.0,
        "steps_per_s": steps_per_s,
        "model_steps_per_s": ensemble * steps_per_s,
    }


def test_without_a_gpu_the_doctor_says_so_and_fails_fast(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["doctor"]) == doctor.EXIT_NO_GPU != 0
    out = capsys.readouterr().out
    assert "no CUDA GPU is visible to PyTorch" in out
    assert f"torch {torch.__version__}" in out
    assert (f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build") in out


def test_the_speed_table_holds_each_row_to_its_target():
    rows = [_row(1, 3000.0), _row(1, 900.0, "default"), _row(8, 2000.0), _row(64, 100.0)]
    table = doctor.format_speed_table(rows).splitlines()
    assert len(table) == 5
    assert table[1].split()[:2] == ["1", "off"] and table[1].endswith(">= 2,500 steps/s: ok")
    assert table[2].endswith("none (evaluation on)")
    assert table[3].endswith(">= 20,000 model-steps/s: BELOW")  # 16,000 model-steps/s
    assert table[4].endswith(">= 20,000 model-steps/s: BELOW")
    assert doctor.below_target(rows) == 2
    assert doctor.below_target([_row(1, 2500.0), _row(512, 40.0)]) == 0  # targets are inclusive


def test_max_difference_of_metrics_tables():
    a = pd.DataFrame({"step": [0, 50], "train_loss": [np.nan, 1.0], "acc": [0.25, 0.5]})
    assert doctor.max_difference(a, a.copy()) == 0
    assert doctor.max_difference(a, a.assign(acc=[0.25, 0.5 + 1e-6])) == pytest.approx(1e-6)
    assert doctor.max_difference(a, a.assign(train_loss=[0.0, 1.0])) == np.inf  # NaN moved
    assert doctor.max_difference(a, a[["step", "acc"]]) == np.inf


def test_a_failing_check_is_reported_and_the_others_still_run(monkeypatch, capsys):
    def crash(work, device):
        raise RuntimeError("capture went wrong")

    monkeypatch.setattr(
        doctor, "CHECKS", (("crashes", crash), ("passes", lambda work, device: "fine"), *doctor.CHECKS[-2:])
    )
    results = doctor.run_checks("cpu", workflow=False)
    assert [r.passed for r in results] == [False, True, None, None]
    out = capsys.readouterr().out
    assert "FAIL  crashes" in out and "RuntimeError: capture went wrong" in out
    assert "PASS  passes" in out and "SKIP  the tiny workflow grid" in out
    assert "SKIP  the tiny grid's cells trained as one job" in out


def test_the_training_log_names_the_path_and_why(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="icmeta.training.train")
    trainer = Trainer([small()], [tmp_path / "run"], tmp_path / "state.pt", device="cpu", threads=2)
    trainer.prepare()
    assert trainer.execution_path == CPU
    reason = "device 'cpu' requested" if torch.cuda.is_available() else "no CUDA device"
    assert reason in trainer.path_reason and "CPU with 2 threads" in trainer.path_reason
    assert f"training path: CPU ({trainer.path_reason})" in caplog.text


def test_planned_paths_on_cuda_need_no_gpu():
    assert planned_path(torch.device("cuda"), cuda_graphs=True)[0] == "CUDA graph"
    assert planned_path(torch.device("cuda"), cuda_graphs=False) == ("eager CUDA", "cuda_graphs disabled")
