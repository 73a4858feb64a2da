"""Training-speed benchmark: measured steps/s, never asserted (a benchmark is not a test)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from icmeta.settings.config import RunConfig
from icmeta.training.train import Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    ensemble: int,
    steps: int,
    device: str = "auto",
    with_eval: bool = False,
    cuda_graphs: bool = True,
) -> dict[str, float | int | str]:
    """Steps/s and model-steps/s of an ensemble at the paper's default configuration.

    Without evaluation only the training step is timed; with it, evaluation runs at the default
    cadence (every 100 steps on 2048 sequences of each of the five fixed sets).
    """
    base = RunConfig()
    return measure_runs(
        [base.replace(seed=s) for s in range(ensemble)], steps, device, with_eval, cuda_graphs
    )


def measure_runs(
    configs: list[RunConfig],
    steps: int,
    device: str = "auto",
    with_eval: bool = False,
    cuda_graphs: bool = True,
) -> dict[str, float | int | str]:
    """Steps/s and model-steps/s of `configs` trained as one ensemble, timed over `steps` steps after a
    short warm-up; with evaluation at the runs' own cadence where `with_eval`."""
    ensemble = len(configs)
    with tempfile.TemporaryDirectory() as tmp:
        out = [Path(tmp) / f"run{e}" for e in range(ensemble)]
        trainer = Trainer(configs, out, Path(tmp) / "state.pt", device=device, cuda_graphs=cuda_graphs)
        trainer.prepare()
        for _ in range(min(20, steps)):  # warm-up: allocator, kernels, autotuning
            trainer.advance()
        _sync(trainer.device)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.advance()
            if with_eval and trainer.step % trainer.eval_every == 0:
                trainer.record_eval()
        _sync(trainer.device)
        elapsed = time.perf_counter() - start
    return {
        "device": str(trainer.device),
        "ensemble": ensemble,
        "eval": "default" if with_eval else "off",
        "steps": steps,
        "seconds": round(elapsed, 3),
        "steps_per_s": round(steps / elapsed, 1),
        "model_steps_per_s": round(ensemble * steps / elapsed, 1),
    }


def run_suite(
    device: str = "auto", ensembles: tuple[int, ...] = (1, 8, 64), seconds: float = 10.0
) -> list[dict]:
    """Each ensemble size with evaluation off, and the single model with default evaluation too."""
    results = []
    for size in ensembles:
        probe = measure(size, 10, device)
        steps = max(20, int(seconds * float(probe["steps_per_s"])))
        results.append(measure(size, steps, device))
        if size == 1:
            results.append(measure(size, max(steps, 300), device, with_eval=True))
    return results
