"""Circuit metrics from attention maps (paper Tab. 2; Reddy 2023 progress measures) and SCC theory.

Maps are (..., S, S) with S = 2N+1, row = attending (later) token, column = attended token, in the
token order x_1, l_1, …, x_N, l_N, x_q (0-indexed: x_k at 2k-2, l_k at 2k-1, query at 2N).
Compute them on batch-mean maps of a large in-distribution set, as the paper does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd
import torch

from icmeta.layout import item_slice, label_index, label_slice


def _n_pairs(maps: torch.Tensor) -> int:
    S = maps.shape[-1]
    if maps.shape[-2] != S or S % 2 == 0:
        raise ValueError(f"attention maps must be square with odd size 2N+1, got {tuple(maps.shape[-2:])}")
    return (S - 1) // 2


def bigram(maps: torch.Tensor) -> torch.Tensor:
    """Query -> itself, p[2N+1, 2N+1]."""
    return maps[..., -1, -1]


def label_attention(maps: torch.Tensor) -> torch.Tensor:
    """Total query -> label attention, sum_k p[2N+1, 2k]."""
    N = _n_pairs(maps)
    return maps[..., -1, label_slice(N)].sum(-1)


def chunk_example(maps: torch.Tensor) -> torch.Tensor:
    """Each label -> its own item, mean_k p[2k, 2k-1]; equals Reddy's ILA when taken in layer 1."""
    N = _n_pairs(maps)
    rows = label_index(N)
    return maps[..., rows, rows - 1].mean(-1)


def label_focus(maps: torch.Tensor) -> torch.Tensor:
    """Share of the query's label attention on its most-attended label, max_k p[q, l_k] / sum_k p[q, l_k].

    Label Attention sums over the pairs and so cannot tell a query that reads every label (1/N) from
    one that reads a single pair (1): a full-context circuit that copies from one fixed pair looks
    like weak Label Attention. Softmax attention is never exactly zero, so the ratio is defined.
    """
    labels = maps[..., -1, label_slice(_n_pairs(maps))]
    return labels.amax(-1) / labels.sum(-1)


# The paper's three metrics: the circuit labeller and its uniform-attention baselines use exactly these.
METRICS = {"bigram": bigram, "label_attn": label_attention, "chunk": chunk_example}
TITLES = {
    "bigram": "Bigram",
    "label_attn": "Label Attention",
    "chunk": "Chunk Example",
    "label_focus": "Label focus",
}  # in figures
# Every per-head metric measured during training: the paper's three, then the project's own.
MAP_METRICS = {**METRICS, "label_focus": label_focus}


def query_to_labels(maps: torch.Tensor) -> torch.Tensor:
    """(..., N) the query's attention on each label l_k, p[q, l_k]."""
    return maps[..., -1, label_slice(_n_pairs(maps))]


def query_to_items(maps: torch.Tensor) -> torch.Tensor:
    """(..., N) the query's attention on each context item x_k, p[q, x_k]."""
    return maps[..., -1, item_slice(_n_pairs(maps))]


def label_to_item(maps: torch.Tensor) -> torch.Tensor:
    """(..., N) each label's attention on its own item, p[l_k, x_k] (Chunk Example before the mean)."""
    rows = label_index(_n_pairs(maps))
    return maps[..., rows, rows - 1]


# Per pair k = 1..N: the paper's metrics average over the pairs, and hide a circuit that reads one.
# Columns `<name><k>_L<layer>H<head>`, e.g. `q_label1_L2H1`.
PAIR_METRICS = {"q_label": query_to_labels, "q_item": query_to_items, "label_item": label_to_item}


def pair_metrics(maps: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every metric of `PAIR_METRICS` for maps (..., layers, heads, S, S): each (..., layers, heads, N)."""
    return {name: fn(maps) for name, fn in PAIR_METRICS.items()}


def circuit_metrics(maps: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every metric of `MAP_METRICS` for maps (..., layers, heads, S, S)."""
    return {name: fn(maps) for name, fn in MAP_METRICS.items()}


_COLUMN = re.compile(r"^(?P<name>[a-z_0-9]+)_L(?P<layer>\d+)H(?P<head>\d+)$")


def per_layer_columns(columns: Iterable[str], name: str) -> dict[int, list[str]]:
    """Layer (1-based) -> the per-head columns `<name>_L<layer>H<head>` of a metrics table, in head order."""
    found: dict[int, list[tuple[int, str]]] = {}
    for col in columns:
        m = _COLUMN.match(col)
        if m and m["name"] == name:
            found.setdefault(int(m["layer"]), []).append((int(m["head"]), col))
    return {layer: [c for _, c in sorted(heads)] for layer, heads in sorted(found.items())}


def layer_means(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """One column per layer: the head mean of metric `name` (the paper averages heads per layer)."""
    return pd.DataFrame(
        {layer: table[cols].mean(axis=1) for layer, cols in per_layer_columns(table.columns, name).items()},
        index=table.index,
    )


def matching_label_attention(query_rows: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Reddy's TILA: attention from the query to the labels whose item has the query's class.

    query_rows: (..., S) attention of the query row per sequence; classes: (..., N+1) context
    classes then the query class. Averages over the matching labels (as the PyTorch port does);
    sequences without a match are NaN, so take it on a set where the query class is in context.
    """
    N = classes.shape[-1] - 1
    match = classes[..., :N] == classes[..., N:]
    to_labels = query_rows[..., label_slice(N)]
    total = (to_labels * match).sum(-1)
    return total / match.sum(-1).to(total.dtype)


def context_label_accuracy(pred: torch.Tensor, context_labels: torch.Tensor) -> torch.Tensor:
    """Reddy's CLA: fraction of predictions that are one of the labels present in the context."""
    return (pred.unsqueeze(-1) == context_labels).any(-1).to(torch.float32).mean(-1)
