"""The training loop: SGD on the query label, its CUDA graph, and the resumable state.

One `Trainer` carries an ensemble of E runs that share shapes (`config.check_ensemble`). Every member
has its own data stream, parameters and outputs, and its numbers do not depend on its companions.
What is measured at each evaluation lives in `icmeta.training.evaluation`; what a run records, and the run
directories it writes at the end, in `icmeta.training.history`.
"""

from __future__ import annotations

import logging
import math
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

from icmeta.network.model import EnsembleICL
from icmeta.network.schedule import Schedule
from icmeta.rng import STREAM_TRAIN, stream_keys
from icmeta.settings.config import RunConfig, check_ensemble
from icmeta.settings.execution import usable_cpus
from icmeta.task.data import Batch, TaskSampler, make_eval_sets
from icmeta.training import state as training_state
from icmeta.training.device import EAGER_CUDA, GRAPH, planned_path, resolve_device
from icmeta.training.evaluation import Evaluator, metric_columns, secondary_columns
from icmeta.training.history import RunHistory

log = logging.getLogger("icmeta.training.train")


class TrainingInterrupted(RuntimeError):
    """Raised after a SIGTERM/SIGINT once the training state is saved; rerun the command to resume."""


def checkpoint_steps(end: int, per_decade: int) -> set[int]:
    """Step 0, `end`, and the steps round(10^(i / per_decade)) up to `end`.

    The grid does not depend on `end`, so a run extended to a longer cap has exactly the checkpoints
    of a run trained straight to it (besides its end, which moves with the cap).
    """
    grid = set()
    if per_decade > 0:
        for i in range(int(math.log10(end) * per_decade) + 2):
            step = round(10 ** (i / per_decade))
            if step <= end:
                grid.add(step)
    return {0, end, *grid}


class Trainer:
    """Trains an ensemble to the end, resumably: the training step, its CUDA graph and the loop.

    Evaluations are made by `self.evaluator`; their results, the per-step log and the checkpoints are
    kept by `self.history`, which writes the run directories when training ends.
    """

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
        eval_sets: Mapping[str, Batch] | None = None,
    ) -> None:
        check_ensemble(configs)
        if len(out_dirs) != len(configs):
            raise ValueError(f"{len(configs)} configurations but {len(out_dirs)} output directories")
        if threads:  # more threads than CPUs would only spin against each other
            torch.set_num_threads(min(threads, usable_cpus()))
        self.configs = configs
        self.state_path = Path(state_path)
        self.device = resolve_device(device)
        self.state_every_s = state_every_s
        self.progress_every_s = progress_every_s
        self.schedule = _schedule(configs, self.device)
        self.control = self.schedule.control if self.schedule else None
        opt = configs[0].optim
        self.steps, self.eval_every, self.lr, self.batch = opt.steps, opt.eval_every, opt.lr, opt.batch
        self.E = len(configs)

        self.sampler = TaskSampler(configs, self.device)
        self.model = EnsembleICL(configs).to(self.device)
        self.params = list(self.model.parameters())
        sets = (
            {k: b.to(self.device) for k, b in eval_sets.items()}
            if eval_sets is not None
            else make_eval_sets(self.sampler, opt.eval_size)
        )
        self.evaluator = Evaluator(configs, self.model, sets, self.control, self.sampler.T_max, self.device)
        self.checkpoints = checkpoint_steps(self.steps, opt.checkpoints_per_decade)
        # Checkpoints wait beside the training state until the run ends (`RunHistory.stage_checkpoint`).
        staging = self.state_path.with_name(self.state_path.name + ".checkpoints")
        self.history = RunHistory(
            configs,
            [metric_columns(c) for c in configs],
            [Path(d) for d in out_dirs],
            staging,
            self.eval_every,
            self.device,
        )

        self.step = 0
        self._step_t = torch.zeros((), dtype=torch.int64, device=self.device)
        # The convergence stop freezes a stopped member by zeroing its gradients: multiplying by 1.0
        # is exact, so the running members (and a run without a stop, which skips this) train bit for
        # bit as they would alone. In place, so that a CUDA graph follows.
        self.running = torch.ones(self.E, device=self.device)
        self._grad_masks = (
            [self.running.view(-1, *[1] * (p.dim() - 1)) for p in self.params]
            if any(c.optim.stop is not None for c in configs)
            else None
        )
        self._graph: torch.cuda.CUDAGraph | None = None
        # Which path trains and why, kept so that a silent fall-back to eager can be noticed and tested.
        self.execution_path, self.path_reason = planned_path(self.device, cuda_graphs)
        self._stop_requested = False

    # The hot path ------------------------------------------------------------------------------

    def _train_step(self) -> None:
        """One SGD step of every member at step `self._step_t`; logs loss/acc in the history's buffer."""
        keys = stream_keys(self.sampler.seeds, STREAM_TRAIN, self._step_t)
        batch = self.sampler.sample(keys, self.batch)
        logits, _ = self.model(self.model.embed(batch), self.control)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.target.flatten(), reduction="none")
        loss = loss.view(self.E, -1).mean(1)
        grads = torch.autograd.grad(loss.sum(), self.params)
        with torch.no_grad():
            if self._grad_masks is not None:
                for g, mask in zip(grads, self._grad_masks, strict=True):
                    g.mul_(mask)
            torch._foreach_add_(self.params, grads, alpha=-self.lr)
            acc = (logits.argmax(-1) == batch.target).float().mean(1)
            slot = torch.remainder(self._step_t, self.eval_every).view(1)
            self.history.step_buffer.index_copy_(0, slot, torch.stack([loss, acc]).unsqueeze(0))
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

    def evaluate(self, full: bool = True) -> tuple[list[dict[str, float]], np.ndarray]:
        """Every member's metrics row and attention maps now (`Evaluator.evaluate`)."""
        return self.evaluator.evaluate(self.step, full)

    def record_eval(self) -> None:
        """Evaluate now, with the interventions of this step, and add the results to the history."""
        self._sync_interventions()
        full = self.configs[0].optim.full_eval_due(self.step)
        rows, maps = self.evaluate(full)
        self.history.add_evaluation(self.step, rows, maps)
        stopped = self.history.newly_stopped()
        if stopped and not full:  # a run's last row is complete, wherever the stop ends it
            self.history.complete_latest(stopped, self.evaluate(full=True)[0])
        if stopped:
            self.history.stage_checkpoint(self.step, self.model, stopped)
            for e in stopped:
                self.history.stop(e, self.step)
                self.running[e] = 0.0
                log.info("run %d met its convergence stop at step %d", e, self.step)

    # State -------------------------------------------------------------------------------------

    def _hashes(self) -> list[str]:
        return [c.hash() for c in self.configs]

    def save_state(self, finished: bool = False) -> None:
        """Save what a resumed run needs to continue bit for bit: parameters, step and history.

        A finished run keeps its state too (`finished`): raising the step cap continues it from there,
        and a run directory whose files were lost is written again from it without training.
        """
        self.history.collect_steps(self.step)
        state = {
            "hashes": self._hashes(),
            "step": self.step,
            "finished": finished,
            "model": self.model.state_dict(),
            **self.history.state_dict(),
        }
        training_state.save(state, self.state_path)

    def load_state(self) -> bool:
        """Resume from the saved state if there is one; refuse a state of other configurations."""
        state = training_state.load(self.state_path, self.device)
        if state is None:
            return False
        if state["hashes"] != self._hashes():
            raise RuntimeError(
                f"training state {self.state_path} belongs to other configurations "
                f"({state['hashes']} vs {self._hashes()}); delete it to start afresh"
            )
        if state["step"] > self.steps:
            # Never discard trained steps for a lowered cap: a cap lowered by mistake (a config file
            # left out, a block override lost) would otherwise cost every step trained so far.
            raise RuntimeError(
                f"training state {self.state_path} is at step {state['step']}, past the step cap "
                f"{self.steps}: a run cannot be cut back to an earlier step. Raise optim.steps to at least "
                f"{state['step']} to continue these runs, or delete {self.state_path} and its .prev to "
                f"train them again to {self.steps}"
            )
        self.model.load_state_dict(state["model"])
        self.step = state["step"]
        self.history.load_state_dict(state)
        self._step_t.fill_(self.step)
        for e, at in enumerate(self.history.stopped_at):
            self.running[e] = float(at is None)
        if state.get("finished") and self.step < self.steps and not self.history.all_stopped:
            self._reopen()
            log.info("extending from %s: step %d to the new cap %d", self.state_path, self.step, self.steps)
        else:
            log.info("resumed from %s at step %d", self.state_path, self.step)
        return True

    def _reopen(self) -> None:
        """Make a run that ended at its old cap the run a longer cap would have had at that step.

        Its last evaluation measured every set because it was the last; a run to the new cap measures
        them there only where `full_eval_every` says so. Its last checkpoint was its end; a run to
        the new cap keeps one there only where the checkpoint grid has one.
        """
        optim = self.configs[0].optim
        if not optim.full_eval_due(self.step):
            for e, cfg in enumerate(self.configs):
                if self.history.stopped_at[e] is None:
                    self.history.rows[e][-1].update(dict.fromkeys(secondary_columns(cfg), math.nan))
        if self.step not in self.checkpoints:
            running = [e for e in range(self.E) if self.history.stopped_at[e] is None]
            self.history.drop_checkpoint(self.step, running)

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
        """Train to the end (resuming or extending where a saved state allows) and write every run's
        outputs; the finished state stays, for a later longer cap."""
        resumed = self.load_state()
        if not resumed:
            training_state.remove(self.state_path)
            self.history.clear_checkpoints()
            self.history.stage_checkpoint(self.step, self.model)
            self.record_eval()
        if self.step < self.steps and not self.history.all_stopped:
            self.prepare()
        last_state = last_progress = time.monotonic()
        start_time, start_step = last_state, self.step
        with self._stop_on_signals():
            while self.step < self.steps and not self.history.all_stopped:
                self.advance()
                if self.step in self.checkpoints:
                    self.history.stage_checkpoint(self.step, self.model)
                if self.step % self.eval_every == 0:
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
        # The state first: a kill before the run directories are written leaves a finished state,
        # and the next call writes them from it.
        self.save_state(finished=True)
        self.history.write_outputs()
        return self.history.metrics_tables()

    def _log_progress(self, elapsed: float, done: int) -> None:
        rate = done / max(elapsed, 1e-9)
        eta = (self.steps - self.step) / max(rate, 1e-9)
        acc = self.history.latest_mean("acc")
        log.info(
            "step %d/%d  %.1f steps/s  ETA %s  acc %.3f (mean of %d runs)",
            self.step,
            self.steps,
            rate,
            time.strftime("%H:%M:%S", time.gmtime(eta)),
            acc,
            self.E,
        )


def _schedule(configs: list[RunConfig], device: torch.device) -> Schedule | None:
    """The interventions of the members' configs as one schedule, or None if no member has any."""
    if not any(c.interventions for c in configs):
        return None
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
