"""The workflow step that trains grid cells, one or several per job: what the train rules call."""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from icmeta.settings.config import RunConfig
from icmeta.task.data import load_eval_sets
from icmeta.training.device import resolve_device
from icmeta.training.train import train

log = logging.getLogger(__name__)
STATE_PREFIX = ".train_state-"


def ensemble_state_path(cell_dir: str | Path, configs: Sequence[RunConfig]) -> Path:
    """Where a cell keeps its training state: outside the job's declared outputs, so a retried job
    finds it and a raised step cap continues from it, and named by the runs' identities (which leave
    the cap out), so a state from other settings is never resumed."""
    digest = hashlib.sha256("".join(c.hash() for c in configs).encode()).hexdigest()[:12]
    return Path(cell_dir) / f"{STATE_PREFIX}{digest}.pt"


def _drop_stale_states(keep: Path) -> None:
    for stale in keep.parent.glob(f"{STATE_PREFIX}*"):
        if not stale.name.startswith(keep.name):  # its .prev, .json and .checkpoints are its own
            log.warning("removing %s: it belongs to settings this cell no longer has", stale)
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def train_cells(
    runs: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    eval_sets: Sequence[str | Path],
    out_dirs: Sequence[str | Path],
    state_dir: str | Path,
    *,
    device: str,
    threads: int,
    state_every_s: float,
) -> None:
    """Train every seed of every cell in `runs` as one ensemble, cell-major (`eval_sets` and
    `out_dirs` in that order); resumes from the state saved in `state_dir`.

    One cell is the usual job; several share a batched model when cells are grouped, which fills a
    GPU. On the CPU a member then computes what its cell computes alone, bit for bit (measured); on
    a GPU its digits may differ by float rounding, as between devices.
    """
    configs = [RunConfig.from_dict({**run, "seed": int(s)}) for run in runs for s in seeds]
    state = ensemble_state_path(state_dir, configs)
    _drop_stale_states(state)
    dev = resolve_device(device)
    sets = load_eval_sets(eval_sets, configs, dev)
    train(
        configs,
        list(out_dirs),
        state,
        device=str(dev),
        threads=threads,
        state_every_s=state_every_s,
        eval_sets=sets,
    )
