"""What a run's network answers at its saved checkpoints, on the run's own held-out set.

Accuracy cannot tell a network that answers every query with the same few labels from one that has
learned part of the task at the same level. On a plateau below 1/T, counting the distinct answers and
comparing with the accuracy of always giving the most frequent labels tells the two apart; comparing
with the accuracy on random context labels says whether the context is read at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
import yaml

from icmeta.errors import DamagedRunFile
from icmeta.network.model import EnsembleICL
from icmeta.settings.config import RunConfig
from icmeta.task.data import Batch, TaskSampler, load_eval_sets, make_eval_sets

CHECKPOINT = re.compile(r"step_(\d+)\.pt")


def checkpoint_steps(run_dir: Path) -> list[int]:
    """The steps of the run's checkpoints, in order."""
    found = sorted(
        int(m[1]) for p in (run_dir / "checkpoints").glob("step_*.pt") if (m := CHECKPOINT.fullmatch(p.name))
    )
    if not found:
        raise FileNotFoundError(
            f"no checkpoints under {run_dir / 'checkpoints'}; is {run_dir} a finished run?"
        )
    return found


def run_config(run_dir: Path) -> RunConfig:
    """The configuration a run was trained with (its config.yaml, which also records the hash)."""
    path = run_dir / "config.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; is {run_dir} a finished run?")
    try:
        saved = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DamagedRunFile(f"{path} is damaged: it is not YAML ({type(err).__name__})") from None
    if not isinstance(saved, dict) or "hash" not in saved:
        raise DamagedRunFile(
            f"{path} is damaged: it holds no run configuration with its hash; retrain the run (remove "
            f"its metrics.csv, and `snakemake` trains its cell again)"
        )
    recorded = saved.pop("hash")
    cfg = RunConfig.from_dict(saved)
    if cfg.hash() != recorded:
        raise RuntimeError(
            f"{path} reads as configuration {cfg.hash()}, but the run recorded {recorded}: the config "
            "fields' meaning changed since it was trained; retrain it"
        )
    return cfg


def load_network(run_dir: Path, step: int, cfg: RunConfig) -> EnsembleICL:
    """The run's network with the parameters of its checkpoint at `step`, on the CPU."""
    path = run_dir / "checkpoints" / f"step_{step:07d}.pt"
    if not path.exists():
        steps = ", ".join(map(str, checkpoint_steps(run_dir)))
        raise FileNotFoundError(f"{run_dir} has no checkpoint at step {step}; its checkpoints are at {steps}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError) as err:
        raise DamagedRunFile(f"{path} is damaged: it cannot be read ({type(err).__name__})") from None
    if saved["config_hash"] != cfg.hash():
        raise RuntimeError(f"checkpoint {step} of {run_dir} belongs to configuration {saved['config_hash']}")
    model = EnsembleICL([cfg])
    model.load_state_dict({name: value.unsqueeze(0) for name, value in saved["params"].items()})
    return model.eval()


def _eval_sets(run_dir: Path, cfg: RunConfig) -> dict[str, Batch]:
    """The sets the run was evaluated on: its saved file (the workflow's), or drawn again from the
    configuration as the trainer draws them when it is given none (`icmeta train`)."""
    saved = run_dir / "eval_sets.pt"
    if saved.exists():
        return load_eval_sets([saved], [cfg], torch.device("cpu"))
    return make_eval_sets(TaskSampler([cfg], torch.device("cpu")), cfg.optim.eval_size)


def _answers(model: EnsembleICL, batch: Batch) -> torch.Tensor:
    with torch.no_grad():
        return model(model.embed(batch))[0][0].argmax(-1)


def prior_accuracy(targets: torch.Tensor, k: int) -> float:
    """The best accuracy of a network that only ever gives k labels: the k most frequent answers' share."""
    counts = torch.bincount(targets).sort(descending=True).values
    return float(counts[:k].sum() / targets.numel())


def answer_profile(run_dir: str | Path, steps: Sequence[int] | None = None) -> pd.DataFrame:
    """Per checkpoint: held-out accuracy; the number of distinct labels the network answers with and
    the share of queries given its most common one; the accuracy the same number of most frequent
    labels would reach if always given (`prior_acc`); and the accuracy on random context labels."""
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    sets = _eval_sets(run_dir, cfg)
    held_out, random_labels = sets["id"], sets["rand_label"]
    targets = held_out.target[0]
    rows = []
    for step in steps if steps is not None else checkpoint_steps(run_dir):
        model = load_network(run_dir, step, cfg)
        answers = _answers(model, held_out)
        distinct = int(answers.unique().numel())
        rows.append(
            {
                "step": step,
                "acc": float((answers == targets).float().mean()),
                "answers": distinct,
                "top_answer_share": float(torch.bincount(answers).max() / answers.numel()),
                "prior_acc": prior_accuracy(targets, distinct),
                "rand_label_acc": float((_answers(model, random_labels) == targets).float().mean()),
            }
        )
    return pd.DataFrame(rows)
