"""How training executes (config key `execution`): where it runs, how often it saves its state and how
many grid cells share a job. None of these changes what a run computes, so none is part of a run's
identity; changing `cells_per_job` re-trains only because grouped cells differ by float rounding."""

from __future__ import annotations

from dataclasses import dataclass

from icmeta.settings.spec import Settings, setting


@dataclass(frozen=True)
class ExecutionSettings(Settings):
    """How training executes; changing device or save_state_every_s re-runs nothing."""

    section = "execution"
    device: str = setting(
        "auto",
        "auto (CUDA where PyTorch sees a GPU, else the CPU), cpu or cuda[:i]",
        pattern=r"^(auto|cpu|cuda(:[0-9]+)?)$",
    )
    save_state_every_s: float = setting(
        300.0, "seconds between saves of a training job's resumable state", above=0.0
    )
    cells_per_job: int = setting(
        1, "grid cells trained together in one job and one batched model (fills a GPU)", lo=1
    )
