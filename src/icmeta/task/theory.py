"""Predicted plateau accuracies: what an ideal circuit of each phase could reach on a run's own task.

The SCC sees the query item and only the *multiset* of context labels (docs/method.md). Its best possible
accuracy is that of the Bayes predictor that knows every class's label under every task and infers the
task from the multiset; it depends on the run's random label map, so it is computed per run.
"""

from __future__ import annotations

import math

import torch

from icmeta.rng import stream_keys
from icmeta.settings.config import RunConfig
from icmeta.task.data import TaskSampler

STREAM_THEORY = 2000  # a random stream of its own, apart from training and evaluation data


def ncc_prediction(cfg: RunConfig) -> float:
    """The NCC knows the query's label under every task but not the task, so it bets on the most
    frequent task: 1/T with uniform tasks, 1 / sum_t t^-beta under the task Zipf law."""
    return 1.0 / sum(t**-cfg.task.beta for t in range(1, cfg.task.T + 1))


def scc_bound_supported(cfg: RunConfig) -> bool:
    """The likelihood below assumes the paper's default sampling: N distinct, uniformly drawn context
    classes that exclude the query's class."""
    t = cfg.task
    return t.alpha == 0 and t.B == 1 and t.p_B == 0 and t.p_B_semantics == "paper"


def scc_bound(cfg: RunConfig, n: int = 10_000) -> float:
    """Expected accuracy of the Bayes-optimal label-multiset predictor (an ideal SCC) on `cfg`'s task.

    The context classes are a uniform N-subset of the K - 1 classes other than the query's, so the
    chance of a label multiset m under task τ is prod_l C(n_τ(l), m_l) / C(K-1, N), with n_τ(l) the
    number of those classes that task τ maps to label l. The predictor's expected accuracy is the
    mean, over sequences, of its largest posterior label probability (standard error ≈ 0.003 at the
    default n). In the controlled setting of App. D (K = L, T = 2) it reproduces the paper's formula.
    """
    if not scc_bound_supported(cfg):
        raise ValueError("the SCC bound is derived for alpha = 0, B = 1, p_B = 0 (paper semantics)")
    sampler = TaskSampler([cfg], torch.device("cpu"))
    batch = sampler.sample(stream_keys(sampler.seeds, STREAM_THEORY, 0), n)
    table = sampler.label_table[0, : cfg.task.T]  # (T, K)
    T, L = table.shape[0], cfg.task.L
    query = batch.classes[0, :, -1]  # (n,)
    counts = torch.zeros(T, L).scatter_add_(1, table, torch.ones(table.shape))  # classes per label
    query_label = table[:, query].T  # (n, T): the query's label under each task
    avail = counts.unsqueeze(0) - torch.nn.functional.one_hot(query_label, L).float()  # (n, T, L)
    m = torch.zeros(n, L).scatter_add_(1, batch.labels[0], torch.ones(n, cfg.task.N)).unsqueeze(1)
    feasible = (m <= avail).all(-1)
    log_comb = torch.lgamma(avail + 1) - torch.lgamma(m + 1) - torch.lgamma((avail - m).clamp(min=0) + 1)
    log_prior = torch.log(sampler.task_cdf[0, :T].diff(prepend=torch.zeros(1)))
    log_post = torch.where(feasible, log_comb.sum(-1), -torch.inf) + log_prior
    post = torch.softmax(log_post, -1)  # (n, T)
    label_prob = torch.zeros(n, L).scatter_add_(1, query_label, post)
    return float(label_prob.max(-1).values.mean())


def scc_theory_accuracy(K: int, N: int = 4) -> float:
    """Accuracy of the ideal semi-context circuit in the controlled setting of App. D (K = L, T = 2).

    p = 1 - C(K-2, N)/C(K-1, N) is the chance that the other task's candidate label shows up among
    the N context labels, which rules it out; otherwise the model guesses between two: p + (1-p)/2.
    """
    if K - 1 < N:
        raise ValueError(f"need K - 1 >= N context classes, got K = {K}, N = {N}")
    p = 1.0 - math.comb(K - 2, N) / math.comb(K - 1, N)
    return p + 0.5 * (1.0 - p)
