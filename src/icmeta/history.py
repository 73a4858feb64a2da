"""What an ensemble's training run records, and the run directories it becomes when the run ends.

Per run directory (see docs/library.md, "Run outputs"):
    config.yaml            resolved configuration and its hash
    metrics.csv            one row per evaluation step (columns: `evaluation.metric_columns`)
    train_steps.csv.gz     per-step training loss and accuracy on the training batch
    attention.npz          steps (n_eval,), maps (n_eval, layers, heads, S, S): batch-mean attention
                           on the in-distribution evaluation set
    checkpoints/step_XXXXXXX.pt   parameters at ~n_checkpoints log-spaced steps, 0 and the last

Nothing is written to a run directory before the end, so a directory with metrics.csv holds a finished
run; until then the records travel in the trainer's resumable state (`RunHistory.state_dict`).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from icmeta.config import RunConfig
from icmeta.io import write_npz, write_table, write_torch, write_yaml
from icmeta.model import EnsembleICL


class RunHistory:
    """Per member: the metrics rows, the attention-map series, the per-step training log, checkpoints.

    `columns` are each member's metrics.csv columns in order (`evaluation.metric_columns`; the trainer
    passes them, so that the history needs to know no metric). The training step writes each step's
    loss and accuracy into `step_buffer` on the device, so that it needs no host synchronisation (and
    fits in a CUDA graph); `collect_steps` moves them to the host.
    """

    def __init__(
        self,
        configs: list[RunConfig],
        columns: list[list[str]],
        out_dirs: list[Path],
        checkpoint_staging: Path,
        eval_every: int,
        device: torch.device,
    ) -> None:
        self.configs = configs
        self.columns = columns
        self.out_dirs = out_dirs
        self.checkpoint_staging = checkpoint_staging
        self.eval_every = eval_every
        self.E = len(configs)
        self.rows: list[list[dict[str, float]]] = [[] for _ in configs]
        self.maps: list[np.ndarray] = []  # per evaluation: (E, layers, H, S, S)
        self.map_steps: list[int] = []
        self.train_log: list[torch.Tensor] = []  # chunks (k, 2, E) of per-step loss, accuracy
        # Slot step % eval_every holds (loss, accuracy) of that step, per member: (eval_every, 2, E).
        self.step_buffer = torch.zeros(eval_every, 2, self.E, device=device)

    def collect_steps(self, step: int) -> None:
        """Move the per-step records up to `step` not yet logged from the device buffer to the host log.

        Buffer slots are indexed by step modulo eval_every, so at most eval_every steps may wait.
        """
        k = step - sum(int(c.shape[0]) for c in self.train_log)
        if k > 0:
            slots = [(step - k + i) % self.eval_every for i in range(k)]
            self.train_log.append(self.step_buffer[slots].cpu())

    def add_evaluation(self, step: int, rows: list[dict[str, float]], maps: np.ndarray) -> None:
        """Append an evaluation at `step` (`Evaluator.evaluate`) with the training columns filled in."""
        self.collect_steps(step)
        recent = self._recent_training()
        for e, row in enumerate(rows):
            row["train_loss"], row["train_acc"] = recent[e]
            self.rows[e].append(row)
        self.maps.append(maps)
        self.map_steps.append(step)

    def _recent_training(self) -> list[tuple[float, float]]:
        """Mean training loss/accuracy over the last eval_every steps (NaN before the first step)."""
        chunks, have = [], 0
        for chunk in reversed(self.train_log):
            if have >= self.eval_every:
                break
            chunks.append(chunk)
            have += chunk.shape[0]
        if not chunks:
            return [(math.nan, math.nan)] * self.E
        mean = torch.cat(chunks[::-1])[-self.eval_every :].mean(0)  # (2, E)
        return [(float(mean[0, e]), float(mean[1, e])) for e in range(self.E)]

    def latest_mean(self, metric: str) -> float:
        """The mean over members of `metric` at the latest evaluation (for progress lines)."""
        return float(np.mean([rows[-1][metric] for rows in self.rows]))

    # Resumable state ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The records as entries of the training state (call `collect_steps` first)."""
        return {
            "rows": self.rows,
            "maps": self.maps,
            "map_steps": self.map_steps,
            "train_log": self.train_log,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows, self.maps = state["rows"], state["maps"]
        self.map_steps, self.train_log = state["map_steps"], state["train_log"]

    # Checkpoints -------------------------------------------------------------------------------

    def stage_checkpoint(self, step: int, model: EnsembleICL) -> None:
        """Save every member's parameters at `step` in the staging directory.

        Checkpoints wait beside the training state until the run ends: a workflow manager deletes a
        failed job's outputs, and kept there, the checkpoints written before an interruption survive
        with the state that resumes after them.
        """
        for e in range(self.E):
            write_torch(
                {"step": step, "config_hash": self.configs[e].hash(), "params": model.member_state(e)},
                self.checkpoint_staging / f"member{e}" / f"step_{step:07d}.pt",
            )

    def _publish_checkpoints(self) -> None:
        for e, d in enumerate(self.out_dirs):
            (d / "checkpoints").mkdir(parents=True, exist_ok=True)
            for staged in sorted((self.checkpoint_staging / f"member{e}").glob("step_*.pt")):
                staged.replace(d / "checkpoints" / staged.name)
        shutil.rmtree(self.checkpoint_staging, ignore_errors=True)

    # Outputs -----------------------------------------------------------------------------------

    def metrics_tables(self) -> list[pd.DataFrame]:
        """Each member's metrics, columns in metrics.csv order."""
        return [pd.DataFrame(r)[cols] for r, cols in zip(self.rows, self.columns, strict=True)]

    def write_outputs(self) -> None:
        """Publish the checkpoints and write every run directory, metrics.csv of each last."""
        train = torch.cat(self.train_log).numpy() if self.train_log else np.zeros((0, 2, self.E))
        steps = np.arange(1, train.shape[0] + 1)
        maps = np.stack(self.maps)  # (n_eval, E, layers, H, S, S)
        self._publish_checkpoints()
        for e, (cfg, d) in enumerate(zip(self.configs, self.out_dirs, strict=True)):
            write_yaml({"hash": cfg.hash(), **cfg.to_dict()}, d / "config.yaml")
            write_table(
                pd.DataFrame({"step": steps, "loss": train[:, 0, e], "acc": train[:, 1, e]}),
                d / "train_steps.csv.gz",
            )
            write_npz(
                d / "attention.npz", steps=np.asarray(self.map_steps), maps=maps[:, e].astype(np.float32)
            )
            frame = pd.DataFrame(self.rows[e])[self.columns[e]]
            frame["step"] = frame["step"].astype(int)
            write_table(frame, d / "metrics.csv")  # last: its presence marks a finished run
