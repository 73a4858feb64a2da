import pytest
import torch

from icmeta.config import RunConfig


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


def small(**changes) -> RunConfig:
    """A quick configuration for trainer tests (few steps, small eval sets)."""
    base = {"optim.steps": 60, "optim.eval_every": 20, "optim.eval_size": 128, "optim.n_checkpoints": 5}
    base.update(changes)
    return RunConfig().replace(**base)
