"""The in-context meta-learning (ICML) task generator (docs/method.md, "Task"), vectorised over an ensemble.

A sequence is x_1, l_1, …, x_N, l_N, x_q with target l_q; all pairs of a sequence share one task tau.
Per-run constants (class means, label maps) come from a `torch.Generator` seeded by the run seed;
per-sequence randomness comes from the counter-based streams of `icmeta.rng`, keyed by run seed and
step, so sampling is one batched computation for all E members on the training device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from icmeta.io import write_torch
from icmeta.rng import STREAM_EVAL, derive_seed, gumbel_from, normals_from, stream_keys, uniforms
from icmeta.settings.config import RunConfig, TaskConfig

PURPOSE_TASK_CONSTANTS = 1


@dataclass(frozen=True)
class Batch:
    """A batch of sequences for E members: every tensor starts with (E, n)."""

    items: torch.Tensor  # (E, n, N+1, D) float: context items then the query item
    labels: torch.Tensor  # (E, n, N) long: context labels
    target: torch.Tensor  # (E, n) long: the query's label
    task: torch.Tensor  # (E, n) long
    classes: torch.Tensor  # (E, n, N+1) long: context classes then the query class
    offset: torch.Tensor  # (E, n) long: position offset (random_offset scheme, else 0)

    def select(self, index: torch.Tensor) -> Batch:
        """Sequences `index` (along n) of every member."""
        return Batch(**{f.name: getattr(self, f.name)[:, index] for f in fields(self)})

    def replace(self, **changes: torch.Tensor) -> Batch:
        return Batch(**{f.name: changes.get(f.name, getattr(self, f.name)) for f in fields(self)})

    def to(self, device: torch.device | str) -> Batch:
        return Batch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def member(self, e: int) -> dict[str, torch.Tensor]:
        """Member e's tensors without the E axis, for saving one run's data."""
        return {f.name: getattr(self, f.name)[e].clone() for f in fields(self)}

    @classmethod
    def stack(cls, members: Sequence[Mapping[str, torch.Tensor]]) -> Batch:
        """The inverse of `member` over an ensemble."""
        return cls(**{f.name: torch.stack([m[f.name] for m in members]) for f in fields(cls)})


def _zipf_log_weights(n: int, exponent: float) -> torch.Tensor:
    return -exponent * torch.log(torch.arange(1, n + 1, dtype=torch.float64))


def _draw_base_labels(task: TaskConfig, gen: torch.Generator) -> torch.Tensor:
    if task.base_labels == "balanced":
        tiled = torch.arange(task.L).repeat(task.K // task.L)
        return tiled[torch.randperm(task.K, generator=gen)]
    return torch.randint(task.L, (task.K,), generator=gen)


def draw_task_constants(task: TaskConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class means (K, D) and the label table (T, K) of one run, fixed for its whole life."""
    gen = torch.Generator().manual_seed(derive_seed(seed, PURPOSE_TASK_CONSTANTS))
    mu = torch.randn(task.K, task.D, generator=gen, dtype=torch.float32) / math.sqrt(task.D)
    base = _draw_base_labels(task, gen)
    if task.task_map == "shift":
        table = (base.unsqueeze(0) + torch.arange(task.T).unsqueeze(1)) % task.L
    else:
        table = torch.stack([base] + [_draw_base_labels(task, gen) for _ in range(task.T - 1)])
    return mu, table


class TaskSampler:
    """Fixed per-run constants of E ensemble members and the batched sampler over them."""

    def __init__(self, configs: list[RunConfig], device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        tasks = [c.task for c in configs]
        t0 = tasks[0]
        self.K, self.L, self.N, self.D, self.P = t0.K, t0.L, t0.N, t0.D, t0.P
        self.positions = t0.positions
        self.p_B_semantics = t0.p_B_semantics
        self.E = len(configs)
        self.T_max = max(t.T for t in tasks)
        mus, tables = zip(
            *(draw_task_constants(t, c.seed) for t, c in zip(tasks, configs, strict=True)), strict=True
        )
        table = torch.zeros(self.E, self.T_max, self.K, dtype=torch.long)
        for e, tab in enumerate(tables):
            table[e, : tab.shape[0]] = tab
        task_w = torch.full((self.E, self.T_max), -math.inf, dtype=torch.float64)
        for e, t in enumerate(tasks):
            task_w[e, : t.T] = _zipf_log_weights(t.T, t.beta)
        class_logw = torch.stack([_zipf_log_weights(self.K, t.alpha) for t in tasks])

        dev = self.device
        self.seeds = torch.tensor([c.seed for c in configs], dtype=torch.int64, device=dev)
        self.mu = torch.stack(mus).to(dev)
        self.label_table = table.to(dev)
        self.T = torch.tensor([t.T for t in tasks], dtype=torch.long, device=dev)
        self.task_cdf = torch.softmax(task_w, -1).cumsum(-1).to(torch.float32).to(dev)
        self.class_logw = class_logw.to(torch.float32).to(dev)
        self.class_cdf = torch.softmax(class_logw, -1).cumsum(-1).to(torch.float32).to(dev)
        self.eps = torch.tensor([t.eps for t in tasks], dtype=torch.float32, device=dev)
        self.p_B = torch.tensor([t.p_B for t in tasks], dtype=torch.float32, device=dev)
        self.B = torch.tensor([t.B for t in tasks], dtype=torch.long, device=dev)
        self.n_distinct = self.N // self.B  # (E,) distinct context classes per sequence
        # Ranked classes to draw: a sequence uses its N/B context classes and one outside them for the
        # query (taken even when p_B = 1, as torch.where evaluates both branches), so K >= N/B + 1
        # suffices (TaskConfig checks it). Not simply N/B + 1: which of two tied Gumbel scores top-k
        # ranks first depends on k (a few sequences in a million), so k stays N + 1 wherever K allows
        # it, and every run that could be trained before keeps its data bit for bit.
        self.n_top = min(self.N + 1, self.K)
        self.slot_rank = torch.arange(self.N, device=dev).unsqueeze(0) // self.B.unsqueeze(1)  # (E, N)
        n_items = self.N + 1
        widths = {
            "task": 1,
            "gumbel": self.K,
            "bursty": 1,
            "pick": 1,
            "query": 1,
            "perm": self.N,
            "offset": 1,
            "noise": 2 * math.ceil(n_items * self.D / 2),
        }
        self._layout: dict[str, tuple[int, int]] = {}
        start = 0
        for name, width in widths.items():
            self._layout[name] = (start, width)
            start += width
        self._width = start
        self._counters: dict[int, torch.Tensor] = {}

    def _uniforms(self, keys: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
        if n not in self._counters:
            self._counters[n] = torch.arange(n * self._width, device=self.device).view(n, self._width)
        u = uniforms(keys, self._counters[n])
        return {name: u[..., s : s + w] for name, (s, w) in self._layout.items()}

    def sample(
        self,
        keys: torch.Tensor,
        n: int,
        *,
        p_B: torch.Tensor | None = None,
        task: torch.Tensor | None = None,
        p_B_semantics: str | None = None,
    ) -> Batch:
        """n sequences per member from keys (E, 2); `p_B` (E,), `task` (E, n) and `p_B_semantics`
        override the config."""
        u = self._uniforms(keys, n)
        E, N, K = self.E, self.N, self.K
        if task is None:
            task = (u["task"] > self.task_cdf.unsqueeze(1)).sum(-1)
            task = torch.minimum(task, (self.T - 1).unsqueeze(1))
        # Gumbel top-k: distinct classes drawn one after another without replacement, each in
        # proportion to Zipf(alpha) over the classes not yet drawn.
        scores = self.class_logw.unsqueeze(1) + gumbel_from(u["gumbel"])
        top = scores.topk(self.n_top, dim=-1).indices  # (E, n, min(N + 1, K))
        p_B = self.p_B if p_B is None else p_B
        bursty = u["bursty"].squeeze(-1) < p_B.unsqueeze(1)  # (E, n): the query's class is in the context
        perm = u["perm"].argsort(dim=-1, stable=True)
        if (p_B_semantics or self.p_B_semantics) == "paper":
            # The query's class is the first draw, so it follows Zipf(alpha) whatever p_B; the context's
            # N/B classes are the next draws, from the rest, except that a bursty context holds the
            # query's class in place of the last of them. (Drawn last, the query's class would be the
            # (N/B+1)-th draw: at alpha = 1, K = 64 it is class 0 with probability 0.088, not 0.211.)
            query = top[..., 0]
            first = (~bursty).long().unsqueeze(-1)  # (E, n, 1): rank of the context's first class
            ctx = top.gather(-1, first + self.slot_rank.unsqueeze(1).expand(E, n, N)).gather(-1, perm)
        else:
            # The official code: the context takes the first N/B draws; the query is one of them with
            # probability p_B, else drawn from Zipf(alpha) over all K classes, the context's included.
            ctx = top.gather(-1, self.slot_rank.unsqueeze(1).expand(E, n, N)).gather(-1, perm)
            nd = self.n_distinct.view(E, 1)
            pick = torch.minimum((u["pick"].squeeze(-1) * nd).long(), nd - 1)
            from_context = top.gather(-1, pick.unsqueeze(-1)).squeeze(-1)
            outside = (u["query"] > self.class_cdf.unsqueeze(1)).sum(-1).clamp(max=K - 1)
            query = torch.where(bursty, from_context, outside)
        classes = torch.cat([ctx, query.unsqueeze(-1)], dim=-1)

        flat_table = self.label_table.view(E, -1)
        lab_index = task.unsqueeze(-1) * K + classes
        all_labels = flat_table.gather(1, lab_index.view(E, -1)).view(E, n, N + 1)

        w = self._layout["noise"][1]
        half = w // 2
        noise = normals_from(u["noise"][..., :half], u["noise"][..., half:])
        noise = noise[..., : (N + 1) * self.D].reshape(E, n, N + 1, self.D)
        noise = noise * (1.0 / math.sqrt(self.D))
        mu = self.mu[torch.arange(E, device=self.device).view(E, 1, 1), classes]
        eps = self.eps.view(E, 1, 1, 1)
        items = (mu + eps * noise) / torch.sqrt(1.0 + eps * eps)

        if self.positions == "random_offset":
            span = self.P - (2 * N + 1) + 1
            offset = (u["offset"].squeeze(-1) * span).long().clamp(max=span - 1)
        else:
            offset = torch.zeros(E, n, dtype=torch.long, device=self.device)
        return Batch(
            items=items,
            labels=all_labels[..., :N],
            target=all_labels[..., N],
            task=task,
            classes=classes,
            offset=offset,
        )


# Evaluation sets -------------------------------------------------------------------------------


def make_eval_sets(sampler: TaskSampler, n: int) -> dict[str, Batch]:
    """Fixed evaluation sets of n sequences per member, drawn once from each run's seed.

    id: the training distribution (in-distribution accuracy).
    rla: id with the context labels permuted among the N pairs (paper's random-label accuracy; keeps
        the label multiset, breaks the pairing).
    rand_label: id with uniformly random context labels (the code's "iwl" set; ≈1/T for any model).
    copy: the query's class is in the context (p_B = 1): copy/induction ability.
    tasks: tasks assigned round-robin (sequence i has task i mod T) for per-task accuracy.
    official: the official code's evaluation set, which ignores p_B and the task Zipf: tasks uniform,
        the query's class drawn from Zipf(alpha) over all K classes (in the context by chance).
    broken_pair<k>, only_pair<k>, all_pairs_broken: id with the pairing of pair k broken, of every
        pair but k, of every pair (`pair_break_sets`): which pairs the answer depends on.
    """
    E = sampler.E

    def keys(j: int) -> torch.Tensor:
        return stream_keys(sampler.seeds, STREAM_EVAL + j, 0)

    idx = torch.arange(n, device=sampler.device)
    ident = sampler.sample(keys(0), n)
    extra = uniforms(keys(1), torch.arange(n * 2 * sampler.N, device=sampler.device).view(n, 2, sampler.N))
    perm = extra[:, :, 0].argsort(dim=-1, stable=True)
    rand_labels = (extra[:, :, 1] * sampler.L).long().clamp(max=sampler.L - 1)
    rla = ident.replace(labels=ident.labels.gather(-1, perm))
    return {
        "id": ident,
        "rla": rla,
        "rand_label": ident.replace(labels=rand_labels),
        "copy": sampler.sample(keys(2), n, p_B=torch.ones(E, device=sampler.device)),
        "tasks": sampler.sample(keys(3), n, task=idx.unsqueeze(0) % sampler.T.unsqueeze(1)),
        "official": sampler.sample(
            keys(4),
            n,
            p_B=torch.zeros(E, device=sampler.device),
            task=_uniform_tasks(keys(5), n, sampler.T),
            p_B_semantics="code",
        ),
        **pair_break_sets(sampler, ident, keys(6)),
    }


def pair_break_sets(sampler: TaskSampler, batch: Batch, keys: torch.Tensor) -> dict[str, Batch]:
    """`batch` with chosen pairs' pairing broken, for the causal test of which pairs a network reads.

    A pair (x_j, l_j) is broken by moving its item to a class r_j that its sequence's task does not
    map to l_j: the labels stay exactly as they were (their multiset and positions), only the broken
    pairs' items change, and the sequence's classes stay distinct and apart from the query's, as the
    generator draws them. The item keeps its noise draw, so only its class mean moves. One r_j per
    pair and sequence serves every set, so the sets differ only in which pairs are broken:
    broken_pair<k> breaks pair k alone, only_pair<k> every pair but k, all_pairs_broken all of them.
    Permuting labels instead would break two pairs at once; swapping in a different label would
    change the multiset, which a semi-context circuit reads.

    r_j is drawn by Zipf(alpha) over the classes the sequence does not hold whose label under its
    task differs from l_j, pair by pair; where no class qualifies (a tiny K), pair j stays intact.
    """
    E, n, N = batch.labels.shape
    dev = sampler.device
    counters = torch.arange(n * N * sampler.K, device=dev).view(n, N, sampler.K)
    scores = sampler.class_logw.view(E, 1, 1, -1) + gumbel_from(uniforms(keys, counters))
    task_labels = sampler.label_table.gather(1, batch.task.unsqueeze(-1).expand(E, n, sampler.K))
    held = torch.zeros(E, n, sampler.K, dtype=torch.bool, device=dev).scatter_(-1, batch.classes, True)
    replacement = batch.classes[..., :N].clone()
    for j in range(N):
        allowed = ~held & (task_labels != batch.labels[..., j : j + 1])
        best = scores[:, :, j].masked_fill(~allowed, -math.inf).argmax(-1)
        replacement[..., j] = torch.where(allowed.any(-1), best, replacement[..., j])
        held.scatter_(-1, replacement[..., j : j + 1], True)
    members = torch.arange(E, device=dev).view(E, 1, 1)
    scale = torch.sqrt(1.0 + sampler.eps * sampler.eps).view(E, 1, 1, 1)
    shift = (sampler.mu[members, replacement] - sampler.mu[members, batch.classes[..., :N]]) / scale

    def broken(pairs: torch.Tensor) -> Batch:
        moved = torch.zeros_like(batch.items)
        moved[..., :N, :] = shift * pairs.view(1, 1, N, 1)
        classes = batch.classes.clone()
        classes[..., :N] = torch.where(pairs, replacement, classes[..., :N])
        return batch.replace(items=batch.items + moved, classes=classes)

    one = torch.eye(N, dtype=torch.bool, device=dev)
    return {
        **{f"broken_pair{k + 1}": broken(one[k]) for k in range(N)},
        **{f"only_pair{k + 1}": broken(~one[k]) for k in range(N)},
        "all_pairs_broken": broken(torch.ones(N, dtype=torch.bool, device=dev)),
    }


def _uniform_tasks(keys: torch.Tensor, n: int, T: torch.Tensor) -> torch.Tensor:
    """(E, n) tasks uniform over each member's T, whatever its task Zipf."""
    u = uniforms(keys, torch.arange(n, device=T.device))  # (E, n)
    return torch.minimum((u * T.unsqueeze(1)).long(), (T - 1).unsqueeze(1))


def save_eval_sets(cfg: RunConfig, path: str | Path) -> None:
    """Draw one run's fixed evaluation sets (on the CPU, so every device trains on the same data)."""
    sets = make_eval_sets(TaskSampler([cfg], torch.device("cpu")), cfg.optim.eval_size)
    write_torch({"config_hash": cfg.hash(), "sets": {k: b.member(0) for k, b in sets.items()}}, path)


def load_eval_sets(
    paths: Sequence[str | Path], configs: Sequence[RunConfig], device: torch.device
) -> dict[str, Batch]:
    """Stack the saved sets of an ensemble's runs; refuses files written for other settings."""
    members = []
    for path, cfg in zip(paths, configs, strict=True):
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved["config_hash"] != cfg.hash():
            raise RuntimeError(
                f"evaluation sets {path} were drawn for configuration {saved['config_hash']}, not "
                f"{cfg.hash()}; regenerate them (delete the file or let the workflow rebuild it)"
            )
        members.append(saved["sets"])
    return {name: Batch.stack([m[name] for m in members]).to(device) for name in members[0]}
