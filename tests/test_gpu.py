"""The CUDA path: whole-step graph capture, graph = eager, ensembles, clamps switched under a captured
graph, and the workflow on a GPU. Every test is skipped where PyTorch sees no CUDA device.

Graph and eager runs are compared within `doctor.TOLERANCE`, not for equality: the graph replays the
eager kernels, so the tables should be identical, but kernels whose summation order may vary between
launches would change last bits, which 300 SGD steps grow; a real fault moves metrics by 1e-2 or more.
"""

import numpy as np
import pandas as pd
import pytest
import torch

from icmeta import doctor
from icmeta.doctor import CLAMP, TOLERANCE, max_difference, small_config, train_run
from icmeta.training.device import EAGER_CUDA, GRAPH
from icmeta.training.train import Trainer
from snakemake_runs import snakemake, write_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to PyTorch")


def test_graph_capture_engages(tmp_path):
    trainer = Trainer([small_config()], [tmp_path / "run"], tmp_path / "state.pt", device="cuda")
    trainer.prepare()
    assert trainer._graph is not None, trainer.path_reason
    assert trainer.execution_path == GRAPH


def test_disabled_graphs_train_eagerly_and_say_so(tmp_path, caplog):
    caplog.set_level("INFO", logger="icmeta.training.train")
    trainer = Trainer(
        [small_config()], [tmp_path / "run"], tmp_path / "state.pt", device="cuda", cuda_graphs=False
    )
    trainer.prepare()
    assert trainer._graph is None and trainer.execution_path == EAGER_CUDA
    assert "training path: eager CUDA (cuda_graphs disabled)" in caplog.text


def test_graph_and_eager_training_give_the_same_metrics(tmp_path):
    graph, trainer = train_run([small_config()], tmp_path / "graph", device="cuda")
    eager, _ = train_run([small_config()], tmp_path / "eager", device="cuda", cuda_graphs=False)
    assert trainer.execution_path == GRAPH, trainer.path_reason
    assert graph[0]["step"].iloc[-1] == 300
    assert max_difference(graph[0], eager[0]) <= TOLERANCE


def test_an_ensemble_of_64_trains_each_member_as_alone(tmp_path):
    configs = [small_config(seed=s) for s in range(64)]
    tables, trainer = train_run(configs, tmp_path / "ensemble", device="cuda")
    assert trainer.execution_path == GRAPH, trainer.path_reason
    assert len(tables) == 64
    assert all(np.isfinite(t[["loss", "acc"]].to_numpy()).all() for t in tables)
    assert pd.concat([t.iloc[-1:] for t in tables])["loss"].nunique() == 64
    alone, _ = train_run([configs[-1]], tmp_path / "alone", device="cuda")
    assert max_difference(tables[-1], alone[0]) <= TOLERANCE


def test_a_clamp_switched_on_mid_run_is_followed_by_the_graph(tmp_path):
    clamped = small_config(interventions=[CLAMP])
    graph, trainer = train_run([clamped], tmp_path / "graph", device="cuda")
    eager, _ = train_run([clamped], tmp_path / "eager", device="cuda", cuda_graphs=False)
    free, _ = train_run([small_config()], tmp_path / "free", device="cuda")
    assert trainer.execution_path == GRAPH, trainer.path_reason
    steps = graph[0]["step"]
    inside = steps.between(CLAMP["start"], CLAMP["end"] - 1)
    assert inside.any() and np.allclose(graph[0].loc[inside, "label_attn_L2H1"], 1.0, atol=1e-5)
    before = steps < CLAMP["start"]
    assert max_difference(graph[0][before], free[0][before]) <= TOLERANCE
    assert max_difference(graph[0].iloc[-1:], free[0].iloc[-1:]) > 0  # the clamp changed training
    assert max_difference(graph[0], eager[0]) <= TOLERANCE


@pytest.mark.workflow
def test_the_tiny_grid_runs_on_cuda(tmp_path):
    config = write_config(tmp_path / "config.yaml", **{"execution.device": "cuda"})
    work = tmp_path / "work"
    snakemake(work, config, "--cores", "4")
    runs = pd.read_csv(work / "results" / "grid" / "tables" / "runs.csv")
    assert len(runs) == 8
    logs = sorted((work / "logs" / "train" / "grid").rglob("*.log"))
    assert len(logs) == 4
    for log in logs:
        assert f"training path: {GRAPH}" in log.read_text(), log


@pytest.mark.workflow
def test_the_tiny_grids_cells_sharing_one_job_agree_with_their_own_jobs_on_cuda(tmp_path):
    detail = doctor.check_grouped_cells(tmp_path, "cuda")  # raises CheckFailed beyond TOLERANCE
    assert "8 runs in one job" in detail
