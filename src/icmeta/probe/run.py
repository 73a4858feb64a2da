"""Run the probe: every prompt through the model once, attention metrics per layer and head averaged
over prompts, and the model's few-shot accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch

from icmeta.probe.attention import METRICS, prompt_metrics
from icmeta.probe.prompts import Prompt, locate


def _batches(items: Sequence, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _pad(rows: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right padding: with a causal mask real tokens never see the pads, so attention is unchanged."""
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids.to(device), mask.to(device)


@torch.no_grad()
def _continuation_logprob(
    model, prompts: list[list[int]], cont: list[int], pad_id: int, device
) -> torch.Tensor:
    """log p(cont | prompt) summed over the continuation's tokens, for each prompt."""
    ids, mask = _pad([p + cont for p in prompts], pad_id, device)
    logp = model(input_ids=ids, attention_mask=mask).logits.float().log_softmax(-1)
    total = torch.zeros(len(prompts), device=device)
    for i, p in enumerate(prompts):
        steps = torch.arange(len(p) - 1, len(p) - 1 + len(cont), device=device)
        total[i] = logp[i, steps, torch.tensor(cont, device=device)].sum()
    return total


@torch.no_grad()
def probe(
    model, tokenizer, prompts: Sequence[Prompt], label_names: Sequence[str], batch_size: int, device
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metrics, predictions): metrics has one row per layer, head and metric with its mean and
    standard deviation over prompts; predictions one row per prompt with each label's log-probability.

    A label is scored as the continuation ' <label>' of the prompt, summed over its tokens, so labels
    that split into several tokens are compared fairly."""
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    candidates = [tokenizer(" " + name, add_special_tokens=False)["input_ids"] for name in label_names]
    sums = sq = None
    rows = []
    for batch in _batches(list(prompts), batch_size):
        enc = [tokenizer(p.text, return_offsets_mapping=True, add_special_tokens=False) for p in batch]
        ids, mask = _pad([e["input_ids"] for e in enc], pad_id, device)
        out = model(input_ids=ids, attention_mask=mask, output_attentions=True)
        attn = torch.stack(out.attentions, 1).float()  # (B, layers, heads, S, S)
        for i, (prompt, e) in enumerate(zip(batch, enc, strict=True)):
            n = len(e["input_ids"])
            values = prompt_metrics(attn[i, :, :, :n, :n], locate(prompt, e["offset_mapping"]))
            stacked = torch.stack([values[m] for m in METRICS]).double().cpu()  # (metric, layers, heads)
            sums = stacked if sums is None else sums + stacked
            sq = stacked**2 if sq is None else sq + stacked**2
        prompt_ids = [e["input_ids"] for e in enc]
        if all(len(c) == 1 for c in candidates):  # one token each: the prompt's own logits suffice
            last = torch.tensor([len(r) - 1 for r in prompt_ids], device=device)
            logp = out.logits[torch.arange(len(batch), device=device), last].float().log_softmax(-1)
            scores = logp[:, [c[0] for c in candidates]].cpu()
        else:
            scores = torch.stack(
                [_continuation_logprob(model, prompt_ids, c, pad_id, device) for c in candidates], 1
            ).cpu()
        for prompt, score in zip(batch, scores, strict=True):
            rows.append(
                {
                    "query_label": prompt.query_label,
                    "predicted": int(score.argmax()),
                    **{f"logp_{name}": float(s) for name, s in zip(label_names, score, strict=True)},
                }
            )
    n = len(prompts)
    mean = sums / n
    sd = (sq / n - mean**2).clamp(min=0).sqrt()
    metric, layer, head = torch.meshgrid(
        torch.arange(len(METRICS)), torch.arange(mean.shape[1]), torch.arange(mean.shape[2]), indexing="ij"
    )
    metrics = pd.DataFrame(
        {
            "metric": [METRICS[i] for i in metric.flatten().tolist()],
            "layer": layer.flatten().numpy(),
            "head": head.flatten().numpy(),
            "mean": mean.flatten().numpy(),
            "sd": sd.flatten().numpy(),
            "prompts": n,
        }
    )
    predictions = pd.DataFrame(rows)
    predictions["correct"] = predictions["query_label"] == predictions["predicted"]
    return metrics, predictions
