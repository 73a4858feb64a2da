"""The training loop: SGD on the query label, fixed-set evaluation, checkpoints, resumable state.

One `Trainer` carries an ensemble of E runs that share shapes (`config.check_ensemble`). Every member
has its own data stream, parameters and outputs, and its numbers do not depend on its companions.

Per run directory (see README "Run outputs"):
    config.yaml            resolved configuration and its hash
    metrics.csv            one row per evaluation step (columns in `metric_columns`)
    train_steps.csv.gz     per-step training loss and accuracy on the training batch
    attention.npz          steps (n_eval,), maps (n_eval, layers, heads, S, S): batch-mean attention
                           on the in-distribution evaluation set
    checkpoints/step_XXXXXXX.pt   parameters at ~n_checkpoints log-spaced steps, 0 and the last
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from icmeta.circuits import circuit_metrics, context_label_accuracy, matching_label_attention
from icmeta.config import RunConfig, check_ensemble
from icmeta.data import Batch, TaskSampler, make_eval_sets
from icmeta.device import EAGER_CUDA, GRAPH, planned_path, resolve_device
from icmeta.interventions import Schedule
from icmeta.io import write_npz, write_table, write_torch, write_yaml
from icmeta.model import AttentionControl, EnsembleICL
from icmeta.rng import STREAM_TRAIN, stream_keys

log = logging.getLogger("icmeta.train")

# Evaluation chunk (sequences per member times members): large chunks keep a GPU busy, small ones
# stay in a CPU's cache (measured on 2 cores: 512 evaluates the default sets in 0.24 s, 16384 in 0.44 s).
# The chunk size never changes the numbers: mean ablation uses whole-set means (`Trainer._forward_set`).
EVAL_CHUNK_SEQUENCES = {"cuda": 16384, "cpu": 512}


class TrainingInterrupted(RuntimeError):
    """Raised after a SIGTERM/SIGINT once the training state is saved; rerun the command to resume."""


def log_spaced_steps(total: int, count: int) -> list[int]:
    """About `count` checkpoint steps spaced evenly in log(step), plus step 0 and the last step."""
    if count <= 0:
        return [total]
    grid = np.unique(np.round(np.logspace(0, math.log10(total), count)).astype(int))
    return sorted({0, total, *grid.tolist()})


def metric_columns(cfg: RunConfig) -> list[str]:
    """Columns of metrics.csv, in order (layers, heads and tasks 1-indexed as in the paper)."""
    cols = [
        "step",
        "train_loss",
        "train_acc",
        "loss",
        "acc",
        "rla_loss",
        "rla_acc",
        "rand_label_acc",
        "copy_acc",
        "cla",
        "tila2",
    ]
    cols += [f"acc_task{t + 1}" for t in range(cfg.task.T)]
    for name in ("bigram", "label_attn", "chunk"):
        cols += [f"{name}_L{l + 1}H{h + 1}" for l in range(cfg.model.layers) for h in range(cfg.model.heads)]
    return cols


class Trainer:
    def __init__(
        self,
        configs: list[RunConfig],
        out_dirs: list[str | Path],
        state_path: str | Path,
        *,
        device: str = "auto",
        threads: int | None = None,
        state_every_s: float = 120.0,
        progress_every_s: float = 30.0,
        cuda_graphs: bool = True,
        control: AttentionControl | None = None,
        eval_sets: Mapping[str, Batch] | None = None,
    ) -> None:
        check_ensemble(configs)
        if len(out_dirs) != len(configs):
            raise ValueError(f"{len(configs)} configurations but {len(out_dirs)} output directories")
        if threads:
            torch.set_num_threads(threads)
        self.configs = configs
        self.out_dirs = [Path(d) for d in out_dirs]
        self.state_path = Path(state_path)
        self.device = resolve_device(device)
        self.state_every_s = state_every_s
        self.progress_every_s = progress_every_s
        self.schedule = _schedule(configs, control, self.device)
        self.control = self.schedule.control if self.schedule else control
        opt = configs[0].optim
        self.steps, self.eval_every, self.lr, self.batch = opt.steps, opt.eval_every, opt.lr, opt.batch
        self.E = len(configs)

        self.sampler = TaskSampler(configs, self.device)
        self.model = EnsembleICL(configs).to(self.device)
        self.params = list(self.model.parameters())
        self.eval_sets = (
            {k: b.to(self.device) for k, b in eval_sets.items()}
            if eval_sets is not None
            else make_eval_sets(self.sampler, opt.eval_size)
        )
        self.checkpoints = set(log_spaced_steps(self.steps, opt.n_checkpoints))
        self.tila_layer = min(1, configs[0].model.layers - 1)

        self.step = 0
        self.rows: list[list[dict[str, float]]] = [[] for _ in configs]
        self.maps: list[np.ndarray] = []  # per eval: (E, layers, H, S, S)
        self.map_steps: list[int] = []
        self.train_log: list[torch.Tensor] = []  # chunks (k, 2, E) of per-step loss, accuracy
        self._buf = torch.zeros(self.eval_every, 2, self.E, device=self.device)
        self._step_t = torch.zeros((), dtype=torch.int64, device=self.device)
        self._graph: torch.cuda.CUDAGraph | None = None
        # Which path trains and why, kept so that a silent fall-back to eager can be noticed and tested.
        self.execution_path, self.path_reason = planned_path(self.device, cuda_graphs)
        self._stop_requested = False

    # The hot path ------------------------------------------------------------------------------

    def _train_step(self) -> None:
        """One SGD step of every member at step `self._step_t`; writes loss/acc into the buffer."""
        keys = stream_keys(self.sampler.seeds, STREAM_TRAIN, self._step_t)
        batch = self.sampler.sample(keys, self.batch)
        logits, _ = self.model(self.model.embed(batch), self.control)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.target.flatten(), reduction="none")
        loss = loss.view(self.E, -1).mean(1)
        grads = torch.autograd.grad(loss.sum(), self.params)
        with torch.no_grad():
            torch._foreach_add_(self.params, grads, alpha=-self.lr)
            acc = (logits.argmax(-1) == batch.target).float().mean(1)
            slot = torch.remainder(self._step_t, self.eval_every).view(1)
            self._buf.index_copy_(0, slot, torch.stack([loss, acc]).unsqueeze(0))
            self._step_t += 1

    def _capture_graph(self) -> None:
        """Capture the whole training step (sampling, forward, backward, update) as one CUDA graph.

        The warm-up steps change parameters and the step counter, so both are restored afterwards:
        the graphed run computes exactly the steps an eager run would.
        """
        saved = [p.detach().clone() for p in self.params]
        saved_step = self._step_t.clone()
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    self._train_step()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._train_step()
            self._graph = graph
        finally:
            with torch.no_grad():
                for p, s in zip(self.params, saved, strict=True):
                    p.copy_(s)
                self._step_t.copy_(saved_step)

    def prepare(self) -> None:
        """Capture the CUDA graph where one is planned, and log which path trains and why.

        A step that cannot be captured trains eagerly with the same numbers, only slower; the log line
        at the start of training is where that shows.
        """
        if self._graph is not None:
            return
        level = logging.INFO
        if self.execution_path == GRAPH:
            try:
                self._capture_graph()
                self.path_reason = "whole training step captured (sampling, forward, backward, update)"
            except RuntimeError as err:  # an op that cannot be captured: same numbers, eagerly
                self.execution_path = EAGER_CUDA
                self.path_reason = f"CUDA graph capture failed: {err}; training eagerly"
                level = logging.WARNING
        log.log(level, "training path: %s (%s)", self.execution_path, self.path_reason)

    def advance(self) -> None:
        """One training step of every member."""
        self._sync_interventions()
        if self._graph is not None:
            self._graph.replay()
        else:
            self._train_step()
        self.step += 1

    def _sync_interventions(self) -> None:
        """Switch clamps on and off at their windows' edges (in place, so a CUDA graph follows)."""
        if self.schedule is not None:
            self.schedule.apply(self.step)

    # Evaluation ------------------------------------------------------------------------------

    @torch.no_grad()
    def _forward_set(
        self, batch: Batch, record: bool
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Per-sequence loss (E, n), logits argmax (E, n) and, if record, patterns, chunked.

        The chunk size depends on the device and the ensemble size, so nothing may depend on it: mean
        ablation replaces a head's output by its mean over the whole set (`_whole_set_control`), not
        over a chunk, and a run's numbers stay the same alone, with any companions and on any device.
        """
        control = self._whole_set_control(batch)
        losses, preds, pats = [], [], []
        for part in self._chunks(batch):
            logits, p = self.model(self.model.embed(part), control, record=record)
            losses.append(F.cross_entropy(logits.transpose(1, 2), part.target, reduction="none"))
            preds.append(logits.argmax(-1))
            pats.append(p)
        patterns = [torch.cat([p[l] for p in pats], dim=1) for l in range(len(pats[0]))] if record else []
        return torch.cat(losses, 1), torch.cat(preds, 1), patterns

    def _chunks(self, batch: Batch) -> Iterator[Batch]:
        """The set in chunks sized for the device: large ones keep a GPU busy, small ones a CPU's cache."""
        n = batch.target.shape[1]
        chunk = max(1, EVAL_CHUNK_SEQUENCES[self.device.type] // self.E)
        for start in range(0, n, chunk):
            yield batch.select(torch.arange(start, min(n, start + chunk), device=self.device))

    @torch.no_grad()
    def _whole_set_control(self, batch: Batch) -> AttentionControl | None:
        """The control for evaluating `batch`: training's, with each mean-ablated head's replacement
        fixed to its mean over the whole set (per member) instead of a chunk's batch mean.

        A layer's mean depends on the ablations below it, so the means are gathered one mean-ablated
        layer at a time, each in one extra pass over the chunks; only while a mean ablation is active.
        Training keeps its batch mean (the batch is the member's own), and its control is not changed.
        """
        control = self.control
        if control is None:
            return None
        layers = [l for l, (_, mean) in sorted(control.ablate.items()) if bool(mean.any())]
        m = self.model
        means: dict[int, torch.Tensor] = {}
        for l in layers:
            sums = torch.zeros(m.E, 1, m.H, m.S, m.dh, dtype=torch.float64, device=self.device)
            gather = dataclasses.replace(control, ablate_mean=dict(means), head_sums={l: sums})
            for part in self._chunks(batch):
                m(m.embed(part), gather, record=l == m.n_layers - 1)  # the last layer: all rows
            means[l] = (sums / batch.target.shape[1]).float()
        return dataclasses.replace(control, ablate_mean=means) if means else control

    @torch.no_grad()
    def evaluate(self) -> tuple[list[dict[str, float]], np.ndarray]:
        """Metrics of every member on the fixed sets, and the id-set batch-mean attention maps."""
        sets = self.eval_sets
        out: dict[str, torch.Tensor] = {}
        loss, pred, patterns = self._forward_set(sets["id"], record=True)
        out["loss"], out["acc"] = loss.mean(1), (pred == sets["id"].target).float().mean(1)
        out["cla"] = context_label_accuracy(pred, sets["id"].labels)
        maps = torch.stack([p.mean(1) for p in patterns], dim=1)  # (E, layers, H, S, S)
        loss, pred, _ = self._forward_set(sets["rla"], record=False)
        out["rla_loss"], out["rla_acc"] = loss.mean(1), (pred == sets["rla"].target).float().mean(1)
        _, pred, _ = self._forward_set(sets["rand_label"], record=False)
        out["rand_label_acc"] = (pred == sets["rand_label"].target).float().mean(1)
        _, pred, patterns = self._forward_set(sets["copy"], record=True)
        out["copy_acc"] = (pred == sets["copy"].target).float().mean(1)
        query_rows = patterns[self.tila_layer][:, :, :, -1].mean(2)  # (E, n, S), mean over heads
        out["tila2"] = matching_label_attention(query_rows, sets["copy"].classes).nanmean(1)
        _, pred, _ = self._forward_set(sets["tasks"], record=False)
        correct = (pred == sets["tasks"].target).float()
        one_task = sets["tasks"].task.unsqueeze(-1) == torch.arange(self.sampler.T_max, device=self.device)
        per_task = (correct.unsqueeze(-1) * one_task).sum(1) / one_task.sum(1).clamp(min=1)  # (E, T_max)

        metrics = {k: v.cpu().numpy() for k, v in circuit_metrics(maps).items()}  # (E, layers, H)
        host = {k: v.cpu().numpy() for k, v in out.items()}
        per_task = per_task.cpu().numpy()
        rows = []
        for e, cfg in enumerate(self.configs):
            row = {"step": float(self.step), **{k: float(v[e]) for k, v in host.items()}}
            row.update({f"acc_task{t + 1}": float(per_task[e, t]) for t in range(cfg.task.T)})
            for name, values in metrics.items():
                for l in range(values.shape[1]):
                    for h in range(values.shape[2]):
                        row[f"{name}_L{l + 1}H{h + 1}"] = float(values[e, l, h])
            rows.append(row)
        return rows, maps.cpu().numpy()

    def record_eval(self) -> None:
        """Evaluate now and append the results to the run's metrics and attention series."""
        self._flush_partial_log()
        self._sync_interventions()
        rows, maps = self.evaluate()
        recent = self._recent_train(self.eval_every)
        for e, row in enumerate(rows):
            row["train_loss"], row["train_acc"] = recent[e]
            self.rows[e].append(row)
        self.maps.append(maps)
        self.map_steps.append(self.step)

    def _recent_train(self, k: int) -> list[tuple[float, float]]:
        """Mean training loss/accuracy over the last k steps (NaN before the first step)."""
        chunks, have = [], 0
        for chunk in reversed(self.train_log):
            if have >= k:
                break
            chunks.append(chunk)
            have += chunk.shape[0]
        if not chunks:
            return [(math.nan, math.nan)] * self.E
        mean = torch.cat(chunks[::-1])[-k:].mean(0)  # (2, E)
        return [(float(mean[0, e]), float(mean[1, e])) for e in range(self.E)]

    # State -------------------------------------------------------------------------------------

    def _hashes(self) -> list[str]:
        return [c.hash() for c in self.configs]

    def save_state(self) -> None:
        self._flush_partial_log()
        state = {
            "hashes": self._hashes(),
            "step": self.step,
            "model": self.model.state_dict(),
            "rows": self.rows,
            "maps": self.maps,
            "map_steps": self.map_steps,
            "train_log": self.train_log,
        }
        write_torch(state, self.state_path)

    def _flush_partial_log(self) -> None:
        """Move the per-step records not yet logged from the device buffer to the host log.

        Buffer slots are indexed by step modulo eval_every, so at most eval_every steps may wait.
        """
        k = self.step - sum(int(c.shape[0]) for c in self.train_log)
        if k > 0:
            slots = [(self.step - k + i) % self.eval_every for i in range(k)]
            self.train_log.append(self._buf[slots].cpu())

    def load_state(self) -> bool:
        if not self.state_path.is_file():
            return False
        state = torch.load(self.state_path, map_location=self.device, weights_only=False)
        if state["hashes"] != self._hashes():
            raise RuntimeError(
                f"training state {self.state_path} belongs to other configurations "
                f"({state['hashes']} vs {self._hashes()}); delete it to start afresh"
            )
        self.model.load_state_dict(state["model"])
        self.step = state["step"]
        self.rows, self.maps = state["rows"], state["maps"]
        self.map_steps, self.train_log = state["map_steps"], state["train_log"]
        self._step_t.fill_(self.step)
        log.info("resumed from %s at step %d", self.state_path, self.step)
        return True

    # Outputs -----------------------------------------------------------------------------------

    @property
    def _staged_checkpoints(self) -> Path:
        """Checkpoints wait beside the training state until the run ends.

        A workflow manager deletes a failed job's outputs; kept here, the checkpoints written before
        an interruption survive with the state that resumes after them.
        """
        return self.state_path.with_name(self.state_path.name + ".checkpoints")

    def _save_checkpoint(self) -> None:
        for e in range(self.E):
            write_torch(
                {
                    "step": self.step,
                    "config_hash": self.configs[e].hash(),
                    "params": self.model.member_state(e),
                },
                self._staged_checkpoints / f"member{e}" / f"step_{self.step:07d}.pt",
            )

    def _publish_checkpoints(self) -> None:
        for e, d in enumerate(self.out_dirs):
            (d / "checkpoints").mkdir(parents=True, exist_ok=True)
            for staged in sorted((self._staged_checkpoints / f"member{e}").glob("step_*.pt")):
                staged.replace(d / "checkpoints" / staged.name)
        shutil.rmtree(self._staged_checkpoints, ignore_errors=True)

    def _write_outputs(self) -> None:
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
            frame = pd.DataFrame(self.rows[e])[metric_columns(cfg)]
            frame["step"] = frame["step"].astype(int)
            write_table(frame, d / "metrics.csv")  # last: its presence marks a finished run

    # The loop ----------------------------------------------------------------------------------

    @contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """SIGTERM (SLURM preemption/time limit) and SIGINT save state and stop at a step boundary."""

        def handler(signum: int, frame: Any) -> None:
            self._stop_requested = True

        previous = {}
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread: leave signals alone
            pass
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def run(self) -> list[pd.DataFrame]:
        """Train to the end (resuming if a state file exists) and write every run's outputs."""
        resumed = self.load_state()
        if not resumed:
            self._save_checkpoint()
            self.record_eval()
        if self.step < self.steps:
            self.prepare()
        last_state = last_progress = time.monotonic()
        start_time, start_step = last_state, self.step
        with self._stop_on_signals():
            while self.step < self.steps:
                self.advance()
                if self.step in self.checkpoints:
                    self._save_checkpoint()
                if self.step % self.eval_every == 0 or self.step == self.steps:
                    self.record_eval()
                    now = time.monotonic()
                    if now - last_progress >= self.progress_every_s:
                        self._log_progress(now - start_time, self.step - start_step)
                        last_progress = now
                    if now - last_state >= self.state_every_s and self.step < self.steps:
                        self.save_state()
                        last_state = now
                if self._stop_requested:
                    self.save_state()
                    raise TrainingInterrupted(
                        f"stopped by signal at step {self.step}; state saved to {self.state_path}, "
                        f"run the same command again to resume"
                    )
        self._write_outputs()
        self.state_path.unlink(missing_ok=True)
        return [pd.DataFrame(r)[metric_columns(c)] for r, c in zip(self.rows, self.configs, strict=True)]

    def _log_progress(self, elapsed: float, done: int) -> None:
        rate = done / max(elapsed, 1e-9)
        eta = (self.steps - self.step) / max(rate, 1e-9)
        acc = np.mean([rows[-1]["acc"] for rows in self.rows])
        log.info(
            "step %d/%d  %.1f steps/s  ETA %s  acc %.3f (mean of %d runs)",
            self.step,
            self.steps,
            rate,
            time.strftime("%H:%M:%S", time.gmtime(eta)),
            acc,
            self.E,
        )


def _schedule(
    configs: list[RunConfig], control: AttentionControl | None, device: torch.device
) -> Schedule | None:
    """The interventions of the members' configs as one schedule, or None if no member has any."""
    if not any(c.interventions for c in configs):
        return None
    if control is not None:
        raise ValueError("pass either an explicit AttentionControl or configs with interventions, not both")
    return Schedule([c.interventions for c in configs], configs[0].task.N, configs[0].model.heads, device)


def train(
    configs: list[RunConfig],
    out_dirs: list[str | Path],
    state_path: str | Path | None = None,
    **options: Any,
) -> list[pd.DataFrame]:
    """Train an ensemble and write each run's outputs; returns each run's metrics table."""
    state = (
        Path(state_path) if state_path else Path(out_dirs[0]).parent / f".train_state-{configs[0].hash()}.pt"
    )
    return Trainer(configs, out_dirs, state, **options).run()
