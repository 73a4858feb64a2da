"""How training executes (config key `execution`): where it runs, how often it saves its state and how
many grid cells share a job. None of these changes what a run computes, so none is part of a run's
identity; changing `cells_per_job` re-trains only because grouped cells differ by float rounding."""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass

from icmeta.settings.spec import Settings, setting

# Models one GPU job trains by default: an H100 trained an ensemble of 72 (the 36-cell phase diagram,
# 2 seeds) at about 20,000 model-steps/s, against about 2,900 for one cell of two.
GPU_MODELS = 72


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity: a container's or a scheduler's share, not the
    host's count), which is what threads beyond oversubscribe."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform has affinity
        return os.cpu_count() or 1


def cpu_share(threads: int, cpus: int) -> int:
    """The percent of the machine a CPU job with `threads` threads keeps busy, at most all of it. The
    local profile caps the sum over running jobs at 100: torch's threads spin while they wait, so two
    jobs' threads on one core train far slower than one job after the other (eight times slower, for
    four 2-thread jobs on 2 cores)."""
    return min(100, math.ceil(100 * threads / cpus))


def gpu_expected(device: str) -> bool:
    """Whether jobs with `device` will train on a GPU, decided without importing torch (the workflow
    asks while it parses): 'auto' takes one where an NVIDIA driver is installed."""
    if device == "auto":
        return shutil.which("nvidia-smi") is not None
    return device.startswith("cuda")


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
    cells_per_job: int | None = setting(
        None,
        "grid cells trained together in one job and one batched model (fills a GPU); null: one on a "
        f"CPU, on a GPU as many as hold {GPU_MODELS} models",
        lo=1,
    )

    def cells_per_job_on(self, gpu: bool, seeds: int) -> int:
        """The group size in effect: the setting, or by default one cell per job on a CPU (a job's
        threads are what it has) and on a GPU enough cells to fill it."""
        if self.cells_per_job is not None:
            return self.cells_per_job
        return max(1, GPU_MODELS // seeds) if gpu else 1
