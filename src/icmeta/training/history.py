"""What an ensemble's training run records, and the run directories it becomes when the run ends.

Per run directory (see docs/library.md, "Run outputs"):
    config.yaml            resolved configuration and its hash
    metrics.csv            one row per evaluation step (columns: `evaluation.metric_columns`)
    train_steps.csv.gz     per-step training loss and accuracy on the training batch
    attention.npz          steps (n_eval,), maps (n_eval, layers, heads, S, S): batch-mean attention
                           on the in-distribution evaluation set
    checkpoints/step_XXXXXXX.pt   parameters at optim.checkpoints_per_decade log-spaced steps, 0 and
                                  the last

Nothing is written to a run directory before the end, so a directory with metrics.csv holds a finished
run; until then the records travel in the trainer's resumable state (`RunHistory.state_dict`).

A member that meets its convergence stop (`config.StopRule`) ends at that evaluation: its records end
there, its last checkpoint is its parameters there, and nothing after it is written.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from icmeta.io import write_npz, write_table, write_torch, write_yaml
from icmeta.network.model import EnsembleICL
from icmeta.settings.config import RunConfig


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
        self.stopped_at: list[int | None] = [None] * self.E  # the step each member stopped at
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
            if self.stopped_at[e] is not None:
                continue
            row["train_loss"], row["train_acc"] = recent[e]
            self.rows[e].append(row)
        self.maps.append(maps)
        self.map_steps.append(step)

    def complete_latest(self, members: list[int], rows: list[dict[str, float]]) -> None:
        """Fill the empty columns of the latest rows of `members`, from an id-only evaluation, with a
        full evaluation's values at the same step."""
        for e in members:
            latest = self.rows[e][-1]
            if latest["step"] != rows[e]["step"]:
                raise ValueError(f"member {e}: latest row is step {latest['step']}, not {rows[e]['step']}")
            latest.update({k: v for k, v in rows[e].items() if math.isnan(latest[k])})

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
        recent = torch.cat(chunks[::-1])[-self.eval_every :]  # (k, 2, E)
        # Per member on a contiguous copy: a reduction's order follows the memory layout, and a
        # member's numbers must be the same alone as beside companions.
        means = [recent[:, :, e].contiguous().mean(0) for e in range(self.E)]
        return [(float(m[0]), float(m[1])) for m in means]

    def latest_mean(self, metric: str) -> float:
        """The mean over members of `metric` at their latest evaluation (for progress lines)."""
        return float(np.mean([rows[-1][metric] for rows in self.rows]))

    # The convergence stop ----------------------------------------------------------------------

    def newly_stopped(self) -> list[int]:
        """Members whose stop rule is met at their latest evaluation and that have not stopped yet."""
        out = []
        for e, (cfg, rows) in enumerate(zip(self.configs, self.rows, strict=True)):
            rule = cfg.optim.stop
            if rule is None or self.stopped_at[e] is not None:
                continue
            last = int(rows[-1]["step"])
            if rule.reached(
                [(int(r["step"]), r["acc"]) for r in rows[-self._window(last - rule.since(last)) :]]
            ):
                out.append(e)
        return out

    def _window(self, span: float) -> int:
        """Evaluations a hold of `span` steps can span (each evaluation row is eval_every apart)."""
        return int(span) // self.eval_every + 2

    def stop(self, e: int, step: int) -> None:
        self.stopped_at[e] = step

    @property
    def all_stopped(self) -> bool:
        return all(s is not None for s in self.stopped_at)

    # Resumable state ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The records as entries of the training state (call `collect_steps` first)."""
        return {
            "rows": self.rows,
            "maps": self.maps,
            "map_steps": self.map_steps,
            "train_log": self.train_log,
            "stopped_at": self.stopped_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows, self.maps = state["rows"], state["maps"]
        self.map_steps, self.train_log = state["map_steps"], state["train_log"]
        self.stopped_at = state.get("stopped_at", [None] * self.E)  # states saved before the stop existed

    # Checkpoints -------------------------------------------------------------------------------

    def stage_checkpoint(self, step: int, model: EnsembleICL, members: list[int] | None = None) -> None:
        """Save the parameters of `members` (all running ones by default) at `step` for staging.

        Checkpoints wait beside the training state until the run ends: a workflow manager deletes a
        failed job's outputs, and kept there, the checkpoints written before an interruption survive
        with the state that resumes after them.
        """
        if members is None:
            members = [e for e in range(self.E) if self.stopped_at[e] is None]
        for e in members:
            write_torch(
                {"step": step, "config_hash": self.configs[e].hash(), "params": model.member_state(e)},
                self._staged(e) / f"step_{step:07d}.pt",
            )

    def drop_checkpoint(self, step: int, members: list[int]) -> None:
        for e in members:
            (self._staged(e) / f"step_{step:07d}.pt").unlink(missing_ok=True)

    def clear_checkpoints(self) -> None:
        """Forget every staged checkpoint: runs that start from step 0 keep none of an earlier start."""
        shutil.rmtree(self.checkpoint_staging, ignore_errors=True)

    def _staged(self, e: int) -> Path:
        return self.checkpoint_staging / f"member{e}"

    def _publish_checkpoints(self) -> None:
        """Hard-link the staged checkpoints into the run directories: they stay staged too, with the
        finished state that a longer cap continues from, at no cost in disk."""
        for e, d in enumerate(self.out_dirs):
            target = d / "checkpoints"
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for staged in sorted(self._staged(e).glob("step_*.pt")):
                try:
                    os.link(staged, target / staged.name)
                except OSError:  # a file system without hard links
                    shutil.copy2(staged, target / staged.name)

    # Outputs -----------------------------------------------------------------------------------

    def metrics_tables(self) -> list[pd.DataFrame]:
        """Each member's metrics, columns in metrics.csv order."""
        return [pd.DataFrame(r)[cols] for r, cols in zip(self.rows, self.columns, strict=True)]

    def write_outputs(self) -> None:
        """Publish the checkpoints and write every run directory, metrics.csv of each last."""
        train = torch.cat(self.train_log).numpy() if self.train_log else np.zeros((0, 2, self.E))
        steps = np.arange(1, train.shape[0] + 1)
        maps = np.stack(self.maps)  # (n_eval, E, layers, H, S, S)
        map_steps = np.asarray(self.map_steps)
        self._publish_checkpoints()
        for e, (cfg, d) in enumerate(zip(self.configs, self.out_dirs, strict=True)):
            end = self.stopped_at[e] if self.stopped_at[e] is not None else int(steps.size)
            kept = map_steps <= end
            write_yaml({"hash": cfg.hash(), **cfg.to_dict()}, d / "config.yaml")
            write_table(
                pd.DataFrame({"step": steps[:end], "loss": train[:end, 0, e], "acc": train[:end, 1, e]}),
                d / "train_steps.csv.gz",
            )
            write_npz(d / "attention.npz", steps=map_steps[kept], maps=maps[kept, e].astype(np.float32))
            frame = pd.DataFrame(self.rows[e])[self.columns[e]]
            frame["step"] = frame["step"].astype(int)
            write_table(frame, d / "metrics.csv")  # last: its presence marks a finished run
