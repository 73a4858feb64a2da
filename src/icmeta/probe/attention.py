"""Bigram, Label Attention and Chunk Example of a language model's attention on one prompt, per
layer and head (paper Sec. 6; docs/method.md, "SST-2 probe protocol").

Bigram is the query token's attention to itself. Label Attention is the query's attention to each
demonstration's label (summed over the label's tokens), averaged over the k labels; as in the paper it
is a mean, not the toy model's sum. Chunk Example is each label token's attention to the tokens of its
own review divided by their number, averaged over the label's tokens and then over the k labels.
"""

from __future__ import annotations

import torch

from icmeta.probe.prompts import Positions

METRICS = ("bigram", "label_attn", "chunk")


def prompt_metrics(attn: torch.Tensor, pos: Positions) -> dict[str, torch.Tensor]:
    """attn: (layers, heads, S, S) of one unpadded prompt, row = attending token. Each metric is a
    (layers, heads) tensor."""
    q = pos.query
    label_attn = torch.stack([attn[..., q, list(lab)].sum(-1) for lab in pos.labels]).mean(0)
    chunk = torch.stack(
        [
            attn[..., list(lab), :][..., list(rev)].sum(-1).mean(-1) / len(rev)
            for lab, rev in zip(pos.labels, pos.reviews, strict=True)
        ]
    ).mean(0)
    return {"bigram": attn[..., q, q], "label_attn": label_attn, "chunk": chunk}
