import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from icmeta.settings.config import RunConfig
from probe_fixtures import tiny_gpt2, write_sst2
from snakemake_runs import run_recording_imports, write_config

# Fixtures that run the workflow for real: a test that uses one belongs to the workflow tier, which
# `python -m pytest -m "workflow or slow"` runs (and CI); the everyday `python -m pytest` leaves it out.
WORKFLOW_FIXTURES = {"finished_grid", "tiny_run", "slurm_cluster"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if WORKFLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.workflow)


# Tests spread over the cores (pytest-xdist) take one thread each: more threads than cores make
# PyTorch's workers spin against each other, which doubled the tier's CPU time.
THREADS = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2


@pytest.fixture(scope="session", autouse=True)
def _speed_cache(tmp_path_factory):
    """The workflow's measured training speed goes to a cache of the test session, shared by its
    workers and their Snakemake processes: a speed measured on cores busy with tests must not reach
    the user's own plans."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    os.environ["XDG_CACHE_HOME"] = str(shared / "cache")


@pytest.fixture(autouse=True)
def _torch_threads():
    torch.set_num_threads(THREADS)


def small(**changes) -> RunConfig:
    """A quick configuration for trainer tests (few steps, small eval sets)."""
    base = {
        "optim.steps": 60,
        "optim.eval_every": 20,
        "optim.eval_size": 128,
        "optim.checkpoints_per_decade": 2,
    }
    base.update(changes)
    return RunConfig().replace(**base)


@dataclass(frozen=True)
class FinishedGrid:
    work: Path  # the workflow's work directory, every output made
    config: Path  # the config it ran with
    jobs: list[dict]  # per job process: its rule, its script and the icmeta modules it loaded


@pytest.fixture(scope="session")
def finished_grid(tmp_path_factory) -> FinishedGrid:
    """The tiny grid (2 seeds x 2 T x 2 eps, 300 steps, every figure) and the SST-2 probe of one tiny
    GPT-2, run once for the session with every job's imports recorded. Tests copy it before changing
    its files; dry runs may use it in place with --nolock."""
    root = tmp_path_factory.mktemp("finished")
    model = tiny_gpt2(root / "fixture" / "model")
    probe = {
        "active": True,
        "data": {"path": str(write_sst2(root / "fixture" / "sst2"))},
        "prompts": {"queries": 4},
        "models": [str(model)],
        "batch_size": 4,
    }
    config = write_config(root / "config.yaml", probe=probe)
    work = root / "work"
    jobs = run_recording_imports(work, config, root / "imports", "--cores", "2")
    return FinishedGrid(work, config, jobs)
