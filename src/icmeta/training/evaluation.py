"""Evaluation on the fixed sets: the columns of metrics.csv and how each is measured.

To add a metric, name its column in `MEMBER_METRICS` (one value per member; per task or per head see
`metric_columns`) and compute it in `Evaluator.evaluate` from the set it needs. The two must agree:
tests/test_train.py checks that an evaluation fills exactly the listed columns.

Every member is measured on its own fixed sets (`data.make_eval_sets`), and nothing here may depend on
the ensemble or the device: a member's numbers are the numbers it would get trained alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from icmeta.network.circuits import (
    MAP_METRICS,
    PAIR_METRICS,
    circuit_metrics,
    context_label_accuracy,
    matching_label_attention,
    pair_metrics,
)
from icmeta.network.model import AttentionControl, EnsembleICL
from icmeta.settings.config import RunConfig
from icmeta.task.data import Batch

# Evaluation chunk (sequences per member times members): large chunks keep a GPU busy, small ones
# stay in a CPU's cache (measured on 2 cores: 512 evaluates the default sets in 0.24 s, 16384 in 0.44 s).
# The chunk size never changes the numbers: mean ablation uses whole-set means (`Evaluator._forward_set`).
EVAL_CHUNK_SEQUENCES = {"cuda": 16384, "cpu": 512}

# Filled by the run history, not by evaluation: the mean over the training steps before the evaluation.
TRAINING_COLUMNS = ("train_loss", "train_acc")

# One value per member, in metrics.csv order; the evaluation set each comes from in brackets.
MEMBER_METRICS = (
    "loss",  # cross-entropy of the query label (id)
    "acc",  # accuracy (id): the accuracy of the figures
    "rla_loss",  # cross-entropy with the context labels permuted among the pairs (rla)
    "rla_acc",  # accuracy with the context labels permuted among the pairs (rla)
    "rand_label_acc",  # accuracy with uniformly random context labels (rand_label)
    "copy_acc",  # accuracy when the query's class is in the context (copy)
    "cla",  # Reddy's context-label accuracy (id)
    "tila2",  # Reddy's TILA: layer-2 query attention to the labels of matching items (copy)
    "acc_official",  # accuracy in the official code's convention: p_B and task Zipf ignored (official)
    "all_pairs_broken_acc",  # accuracy with every pair's item moved off its label (all_pairs_broken)
)

# Measured on the secondary sets, so left empty (NaN) by an id-only evaluation (`optim.full_eval_every`).
SECONDARY_METRICS = (
    "rla_loss",
    "rla_acc",
    "rand_label_acc",
    "copy_acc",
    "tila2",
    "acc_official",
    "all_pairs_broken_acc",
)
# Per pair k = 1..N, also secondary: the accuracy with pair k's pairing broken (broken_pair<k>) and with
# every pair's but k's broken (only_pair<k>); `data.pair_break_sets` says how.
PAIR_BREAKS = ("broken_pair", "only_pair")

# Per layer and head, from the batch-mean attention maps of the id set (`circuits.MAP_METRICS`); and
# per layer, head and pair, from the same maps (`circuits.PAIR_METRICS`).
HEAD_METRICS = tuple(MAP_METRICS)


def metric_columns(cfg: RunConfig) -> list[str]:
    """Columns of metrics.csv, in order (layers, heads and tasks 1-indexed as in the paper)."""
    cols = ["step", *TRAINING_COLUMNS, *MEMBER_METRICS]
    cols += [f"acc_task{t + 1}" for t in range(cfg.task.T)]  # accuracy per task (tasks)
    cols += [f"{kind}{k + 1}_acc" for kind in PAIR_BREAKS for k in range(cfg.task.N)]
    heads = [f"L{l + 1}H{h + 1}" for l in range(cfg.model.layers) for h in range(cfg.model.heads)]
    for name in HEAD_METRICS:
        cols += [f"{name}_{head}" for head in heads]
    for name in PAIR_METRICS:  # per pair k = 1..N
        cols += [f"{name}{k + 1}_{head}" for head in heads for k in range(cfg.task.N)]
    return cols


def secondary_columns(cfg: RunConfig) -> list[str]:
    """The columns of metrics.csv that an id-only evaluation leaves empty."""
    per_task = [f"acc_task{t + 1}" for t in range(cfg.task.T)]
    per_pair = [f"{kind}{k + 1}_acc" for kind in PAIR_BREAKS for k in range(cfg.task.N)]
    return [*SECONDARY_METRICS, *per_task, *per_pair]


class Evaluator:
    """Measures every member of an ensemble on its fixed evaluation sets.

    It shares the trainer's model and attention control: the schedule rewrites the control in place,
    so an evaluation sees the interventions of the step it is made at.
    """

    def __init__(
        self,
        configs: list[RunConfig],
        model: EnsembleICL,
        sets: Mapping[str, Batch],
        control: AttentionControl | None,
        n_tasks: int,
        device: torch.device,
    ) -> None:
        self.configs = configs
        self.model = model
        self.sets = sets
        self.control = control
        self.n_tasks = n_tasks  # tasks of the member with the most; the others' extra columns are unused
        self.device = device
        # TILA is Reddy's TILA2, taken in layer 2 (in the only layer of a one-layer model).
        self.tila_layer = min(1, configs[0].model.layers - 1)

    @torch.no_grad()
    def evaluate(self, step: int, full: bool = True) -> tuple[list[dict[str, float]], np.ndarray]:
        """Each member's row of metrics (all but the training columns) and the id-set attention maps.

        Returns the rows (one per member) and the batch-mean maps (E, layers, heads, S, S). Without
        `full`, only the id set is measured: the secondary metrics and the per-task accuracies are NaN.
        """
        sets = self.sets
        out: dict[str, torch.Tensor] = {}  # MEMBER_METRICS, each (E,)
        loss, pred, patterns = self._forward_set(sets["id"], record=True)
        out["loss"], out["acc"] = loss.mean(1), (pred == sets["id"].target).float().mean(1)
        out["cla"] = context_label_accuracy(pred, sets["id"].labels)
        maps = torch.stack([p.mean(1) for p in patterns], dim=1)  # (E, layers, H, S, S)
        if full:
            per_task, per_pair_break = self._secondary(out)
        else:
            out.update({name: torch.full_like(out["acc"], torch.nan) for name in SECONDARY_METRICS})
            per_task = torch.full((self.model.E, self.n_tasks), torch.nan, device=self.device)
            per_pair_break = {
                f"{kind}{k + 1}_acc": out["acc"] * torch.nan
                for kind in PAIR_BREAKS
                for k in range(self.model.N)
            }

        per_head = {k: v.cpu().numpy() for k, v in circuit_metrics(maps).items()}  # (E, layers, H)
        per_pair = {k: v.cpu().numpy() for k, v in pair_metrics(maps).items()}  # (E, layers, H, N)
        host = {k: v.cpu().numpy() for k, v in {**out, **per_pair_break}.items()}
        per_task = per_task.cpu().numpy()
        rows = []
        for e, cfg in enumerate(self.configs):
            row = {"step": float(step), **{k: float(host[k][e]) for k in [*MEMBER_METRICS, *per_pair_break]}}
            row.update({f"acc_task{t + 1}": float(per_task[e, t]) for t in range(cfg.task.T)})
            for name, values in per_head.items():
                for l in range(values.shape[1]):
                    for h in range(values.shape[2]):
                        row[f"{name}_L{l + 1}H{h + 1}"] = float(values[e, l, h])
            for name, values in per_pair.items():
                for l, h, k in np.ndindex(*values.shape[1:]):
                    row[f"{name}{k + 1}_L{l + 1}H{h + 1}"] = float(values[e, l, h, k])
            rows.append(row)
        return rows, maps.cpu().numpy()

    def _secondary(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fill `out` with the metrics of the secondary sets; return the accuracy per task (E, T_max)
        and the pair-break accuracies by column, each (E,)."""
        sets = self.sets
        loss, pred, _ = self._forward_set(sets["rla"], record=False)
        out["rla_loss"], out["rla_acc"] = loss.mean(1), (pred == sets["rla"].target).float().mean(1)
        _, pred, _ = self._forward_set(sets["rand_label"], record=False)
        out["rand_label_acc"] = (pred == sets["rand_label"].target).float().mean(1)
        _, pred, patterns = self._forward_set(sets["copy"], record=True)
        out["copy_acc"] = (pred == sets["copy"].target).float().mean(1)
        query_rows = patterns[self.tila_layer][:, :, :, -1].mean(2)  # (E, n, S), mean over heads
        out["tila2"] = matching_label_attention(query_rows, sets["copy"].classes).nanmean(1)
        _, pred, _ = self._forward_set(sets["official"], record=False)
        out["acc_official"] = (pred == sets["official"].target).float().mean(1)
        _, pred, _ = self._forward_set(sets["tasks"], record=False)
        correct = (pred == sets["tasks"].target).float()
        one_task = sets["tasks"].task.unsqueeze(-1) == torch.arange(self.n_tasks, device=self.device)
        per_task = (correct.unsqueeze(-1) * one_task).sum(1) / one_task.sum(1).clamp(min=1)
        out["all_pairs_broken_acc"] = self._accuracy("all_pairs_broken")
        names = [f"{kind}{k + 1}" for kind in PAIR_BREAKS for k in range(self.model.N)]
        return per_task, {f"{name}_acc": self._accuracy(name) for name in names}

    def _accuracy(self, name: str) -> torch.Tensor:
        """Each member's accuracy (E,) on evaluation set `name`."""
        _, pred, _ = self._forward_set(self.sets[name], record=False)
        return (pred == self.sets[name].target).float().mean(1)

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
        chunk = max(1, EVAL_CHUNK_SEQUENCES[self.device.type] // len(self.configs))
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
