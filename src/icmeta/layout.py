"""Where each token sits in a sequence, and the attention masks and patterns built on that.

A sequence is x_1, l_1, …, x_N, l_N, x_q: S = 2N + 1 tokens, items at even indices (0-based), labels at
odd ones, the query last. Attention maps are (S, S), row = attending token, column = attended token.
This is the one place that layout is written down; the model's circuit masks, the clamps' row sets and
patterns, and the circuit metrics all read it from here. It imports only torch.
"""

from __future__ import annotations

import torch


def seq_len(N: int) -> int:
    return 2 * N + 1


def label_slice(N: int) -> slice:
    """The labels' token indices as a slice: a view, no index tensor, so it is free on any device."""
    return slice(1, 2 * N, 2)


def item_slice(N: int) -> slice:
    """The context items' token indices as a slice (the query, also an item, is left out)."""
    return slice(0, 2 * N, 2)


def label_index(N: int) -> torch.Tensor:
    """(N,) the labels' token indices, l_k at 2k - 1 (0-based); each label's own item sits just before it."""
    return torch.arange(1, 2 * N, 2)


def causal(N: int) -> torch.Tensor:
    S = seq_len(N)
    return torch.ones(S, S, dtype=torch.bool).tril()


def row_mask(rows: str, N: int) -> torch.Tensor:
    """(S,) the attending tokens an intervention applies to (items at even, labels at odd indices)."""
    S = seq_len(N)
    index = torch.arange(S)
    return {
        "query": index == S - 1,
        "labels": (index % 2 == 1),
        "items": (index % 2 == 0) & (index < S - 1),
        "all": torch.ones(S, dtype=torch.bool),
    }[rows]


def positions(name: str, N: int) -> torch.Tensor:
    """(S, S) the key positions a pattern covers in each row, within the causal mask."""
    S = seq_len(N)
    index = torch.arange(S)
    if name == "self":
        out = torch.eye(S, dtype=torch.bool)
    elif name == "labels":
        out = (index % 2 == 1).expand(S, S).clone()
    elif name == "items":
        out = ((index % 2 == 0) & (index < S - 1)).expand(S, S).clone()
    elif name == "own_item":
        out = torch.zeros(S, S, dtype=torch.bool)
        labels = label_index(N)
        out[labels, labels - 1] = True
    elif name in ("uniform", "random"):
        out = torch.ones(S, S, dtype=torch.bool)
    else:
        raise ValueError(f"unknown pattern {name!r}")
    return out & causal(N)


def pattern(name: str, N: int, seed: int = 0) -> torch.Tensor:
    """(S, S) attention weights: uniform over the pattern's positions in each row (random: a fixed
    Dirichlet(1) draw over the causal positions, the control for 'any clamp at all'; one draw per
    intervention `seed`, the same for every training seed). Rows where the pattern has no position
    (the first item's row under 'labels') are left at zero; `check` refuses to apply a pattern there."""
    where = positions(name, N).float()
    if name == "random":
        gen = torch.Generator().manual_seed(seed)
        where = where * -torch.log(torch.rand(where.shape, generator=gen))
    total = where.sum(-1, keepdim=True)
    return torch.where(total > 0, where / total.clamp(min=1e-12), where)


def circuit_mask(circuit: str, N: int, layers: int) -> list[torch.Tensor | None]:
    """Allowed-position masks (S, S) per layer for circuit-restricted training (docs/method.md).

    ncc: every row attends only to itself in both layers.
    scc: layer 1 query -> N labels + itself; layer 2 self only.
    fcc: layer 1 label_k -> x_k (+ itself); layer 2 query -> N labels + itself.
    Other rows attend to themselves; layers beyond the second are left unrestricted.
    """
    S = seq_len(N)
    eye = torch.eye(S, dtype=torch.bool)
    labels = label_index(N)
    if circuit == "none":
        return [None] * layers
    l1, l2 = eye.clone(), eye.clone()
    if circuit == "scc":
        l1[S - 1, labels] = True
    elif circuit == "fcc":
        l1[labels, labels - 1] = True
        l2[S - 1, labels] = True
    return [l1, l2] + [None] * (layers - 2)
