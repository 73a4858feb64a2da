"""What a workflow run will do and what it will cost here, before the first job starts.

Per active block: its runs, the model-steps they train at most (a convergence stop may end runs
earlier), its training jobs and the expected wall time on this machine. The time comes from the
paper's default model, as many seeds as a cell trains, trained with evaluation for a few seconds on
the device the jobs will use with as many threads as a job gets (cached per machine, torch version,
device, threads and ensemble, so that only the first call pays for it), and from the jobs the
machine runs at once: on a CPU as many as fit its CPUs (each training job claims its threads'
share), on a GPU one (the jobs take turns on it). Smaller models than the paper's train faster than
the estimate says; the paper's sizes are what takes hours.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import math
import os
import platform
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icmeta import figures
from icmeta.errors import ConfigError
from icmeta.io import atomic_path
from icmeta.settings import experiments as grid
from icmeta.settings.config import RunConfig
from icmeta.settings.execution import ExecutionSettings, gpu_expected, usable_cpus
from icmeta.steps.config_files import read_config_file
from icmeta.training.state import steps_done

# Seconds a non-training job (evaluation sets, a run's summary, a table, a figure) takes: a Python
# process importing torch or matplotlib and reading a few files (measured on the tiny grid, 2 cores).
OTHER_JOB_S = 4.0
TRAIN_THREADS = 2  # what the training rule asks for


@dataclass(frozen=True)
class BlockPlan:
    name: str
    runs: int
    model_steps: int  # still to train: a run continues from its saved state
    model_steps_done: int  # trained already, in the saved states of runs this plan continues
    may_stop_early: bool
    training_jobs: int
    other_jobs: int
    train_s: float
    other_s: float

    @property
    def wall_s(self) -> float:
        return self.train_s + self.other_s


def load_config(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Config files merged in order, as Snakemake merges `--configfile` over `configfile:`, and
    validated against the workflow's schema with every default filled in."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import update_config, validate

    from icmeta.steps.schema import write_schema

    merged: dict[str, Any] = {}
    for path in paths:
        update_config(merged, read_config_file(path))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            validate(merged, str(write_schema(tmp)))
        except WorkflowError as err:
            raise ConfigError(f"invalid config ({', '.join(map(str, paths))}): {err}") from None
    grid.check(merged)
    return merged


def plan(
    config: Mapping[str, Any], cores: int, device: str, timed: bool = True, results: Path = Path("results")
) -> list[BlockPlan]:
    """Every active block's plan with `cores` given to Snakemake and jobs training on `device`;
    without `timed` (a cluster, whose nodes this machine cannot measure) no times. Runs with a saved
    training state under `results` (finished at a lower cap, or interrupted) count only the steps
    they have still to go. Finished runs whose outputs are up to date count too (Snakemake, not the
    plan, knows they will not run): the plan says what the block costs from where its states are."""
    on_gpu = gpu_expected(device)
    cpus = min(cores, usable_cpus())
    threads = min(TRAIN_THREADS, cpus)
    at_once = 1 if on_gpu else max(1, cpus // threads)
    seeds = config["seeds"]
    per_job = ExecutionSettings.from_dict(config["execution"]).cells_per_job_on(on_gpu, len(seeds))
    out = []
    for name in grid.active_experiments(config):
        cells = grid.cells(config, name)
        runs = [grid.run_configs(config, cell) for cell in cells]
        speed = model_steps_per_s(len(seeds), device, threads) if timed else math.inf
        done = steps_done(results / name)
        to_go = [_to_go(r, done.get(r.hash())) for rs in runs for r in rs]
        steps = sum(to_go)
        jobs = len(cells) if per_job == 1 else len(grid.train_groups(config, name, per_job))
        drawn = figures.of_block(len(cells[0].axis_values), config["experiments"][name].get("figures", []))
        other = 2 * len(cells) * len(seeds) + 1 + len(drawn)  # eval sets, summaries, tables, figures
        out.append(
            BlockPlan(
                name=name,
                runs=len(cells) * len(seeds),
                model_steps=steps,
                model_steps_done=sum(r.optim.steps for rs in runs for r in rs) - steps,
                may_stop_early=any(r.optim.stop is not None for rs in runs for r in rs),
                training_jobs=jobs,
                other_jobs=other,
                train_s=steps / speed / min(at_once, jobs),
                other_s=other * OTHER_JOB_S / cpus if timed else 0.0,
            )
        )
    return out


def _to_go(run: RunConfig, reached: tuple[int, bool] | None) -> int:
    """Steps a run still trains from its saved state: none once stopped; past a lowered cap (which
    training refuses until the state is deleted) all of them."""
    cap = run.optim.steps
    if reached is None or reached[0] > cap:
        return cap
    step, stopped = reached
    return 0 if stopped else cap - step


def model_steps_per_s(ensemble: int, device: str, threads: int) -> float:
    """Training speed of a job of `ensemble` paper-default models, evaluation included, measured once
    per machine, torch version, device and threads (two evaluation intervals after a warm-up)."""
    kind = "gpu" if gpu_expected(device) else "cpu"
    where = [platform.node(), str(usable_cpus()), f"torch {importlib.metadata.version('torch')}", kind]
    key = "|".join([*where, f"threads={threads}", f"ensemble={ensemble}"])
    cache = _cache_file()
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Workflows planning at once measure once: the others wait for the first and read its number.
    with open(cache.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = json.loads(cache.read_text()) if cache.is_file() else {}
        if key not in saved:
            saved[key] = _measure(ensemble, device, threads)
            with atomic_path(cache) as tmp:
                tmp.write_text(json.dumps(saved, indent=1))
    return saved[key]


def _measure(ensemble: int, device: str, threads: int) -> float:
    # torch only here: a workflow that finds the speed cached parses without importing it
    import torch

    from icmeta.training.bench import measure_runs

    configs = [RunConfig(seed=s) for s in range(ensemble)]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        timed = measure_runs(configs, 2 * configs[0].optim.eval_every, device, with_eval=True)
    finally:
        torch.set_num_threads(previous)
    return float(timed["model_steps_per_s"])


def _cache_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "icmeta" / "training_speed.json"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _continued(p: BlockPlan) -> str:
    return f" to go ({p.model_steps_done:,} done, continued from saved states)" if p.model_steps_done else ""


def format_plan(plans: Sequence[BlockPlan], cores: int, device: str, timed: bool = True) -> str:
    gpu = gpu_expected(device)
    where = "a GPU" if gpu else f"cpu with {min(cores, usable_cpus())} CPUs"
    head = f"{where}; times from this machine's measured training speed" if timed else "a cluster"
    lines = [f"icmeta plan ({head}):"]
    for p in plans:
        most = "at most " if p.may_stop_early else ""
        cost = f": about {_duration(p.wall_s)}" if timed else ""
        lines.append(
            f"  {p.name}: {p.runs} runs, {most}{p.model_steps:,} model-steps{_continued(p)}, "
            f"{p.training_jobs} training jobs, {p.other_jobs} other jobs{cost}"
        )
    total = sum(p.wall_s for p in plans)
    if not timed:
        return "\n".join(lines)
    lines.append(f"  in all: about {_duration(total)}")
    if not gpu and total > 3600:
        lines.append(
            "  cheaper ways to see results: the quick look (--configfile examples/quick_look.yaml, "
            "phases in minutes), a GPU (device: auto packs a block into few jobs), or a SLURM cluster "
            "(--workflow-profile profiles/slurm); docs/performance.md"
        )
    return "\n".join(lines)
