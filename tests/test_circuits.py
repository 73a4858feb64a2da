import math

import pytest
import torch

from icmeta.network.circuits import (
    bigram,
    chunk_example,
    circuit_metrics,
    context_label_accuracy,
    label_attention,
    label_focus,
    matching_label_attention,
    pair_metrics,
)
from icmeta.task.theory import scc_theory_accuracy


def uniform_causal(S: int) -> torch.Tensor:
    mask = torch.ones(S, S).tril()
    return mask / mask.sum(-1, keepdim=True)


def test_uniform_causal_attention_n4():
    maps = uniform_causal(9)
    assert bigram(maps).item() == pytest.approx(1 / 9)
    assert label_attention(maps).item() == pytest.approx(4 / 9)
    assert chunk_example(maps).item() == pytest.approx(sum(1 / (2 * k) for k in range(1, 5)) / 4)


def test_uniform_causal_attention_n8():
    maps = uniform_causal(17)
    got = circuit_metrics(maps)
    assert got["bigram"].item() == pytest.approx(0.059, abs=1e-3)
    assert got["label_attn"].item() == pytest.approx(0.47, abs=1e-2)
    assert got["chunk"].item() == pytest.approx(0.17, abs=1e-2)


def test_circuit_patterns_give_their_metric():
    S = 9
    ncc = torch.eye(S)
    scc = torch.eye(S)
    scc[-1] = 0
    scc[-1, [1, 3, 5, 7]] = 0.25
    fcc = torch.eye(S)
    for k in range(4):
        fcc[2 * k + 1] = 0
        fcc[2 * k + 1, 2 * k] = 1
    assert bigram(ncc) == 1 and label_attention(ncc) == 0 and chunk_example(ncc) == 0
    assert bigram(scc) == 0 and label_attention(scc) == pytest.approx(1)
    assert chunk_example(fcc) == 1
    batched = torch.stack([ncc, scc, fcc]).view(3, 1, 1, S, S)
    assert circuit_metrics(batched)["label_attn"].shape == (3, 1, 1)


def test_label_focus_tells_one_pair_from_all_pairs():
    N, S = 4, 9
    every_label = torch.zeros(S, S)
    every_label[-1, 1::2][:N] = 0.2  # 0.8 on the labels, spread evenly, the rest on the query
    every_label[-1, -1] = 0.2
    one_pair = torch.zeros(S, S)
    one_pair[-1, 1] = 0.9  # the first label only
    one_pair[-1, -1] = 0.1
    skewed = torch.zeros(S, S)
    skewed[-1, [1, 3, 5, 7]] = torch.tensor([0.1, 0.1, 0.6, 0.2])
    maps = torch.stack([uniform_causal(S), every_label, one_pair, skewed])
    assert label_focus(maps).tolist() == pytest.approx([1 / N, 1 / N, 1.0, 0.6])
    # Label Attention alone cannot tell them apart: spread (0.8) reads like one pair (0.9).
    assert label_attention(maps[1:3]).tolist() == pytest.approx([0.8, 0.9])
    assert label_focus(uniform_causal(17)).item() == pytest.approx(1 / 8)


def test_pair_metrics_read_each_pair_and_average_to_the_paper_metrics():
    S = 7  # N = 3 pairs
    maps = torch.zeros(2, S, S)
    maps[0, -1, :] = torch.tensor([0.05, 0.6, 0.1, 0.05, 0.0, 0.1, 0.1])  # query: x1 .05 l1 .6 x2 .1 ...
    maps[0, 1, 0] = 1.0  # l1 -> x1
    maps[0, 3, :4] = torch.tensor([0.0, 0.0, 0.3, 0.7])  # l2 -> x2 0.3
    maps[0, 5, 4] = 0.9  # l3 -> x3
    maps[1] = uniform_causal(S)
    got = pair_metrics(maps)
    assert got["q_label"][0].tolist() == pytest.approx([0.6, 0.05, 0.1])
    assert got["q_item"][0].tolist() == pytest.approx([0.05, 0.1, 0.0])
    assert got["label_item"][0].tolist() == pytest.approx([1.0, 0.3, 0.9])
    assert got["label_item"][1].tolist() == pytest.approx([1 / 2, 1 / 4, 1 / 6])
    assert got["q_label"].sum(-1).tolist() == pytest.approx(label_attention(maps).tolist())
    assert got["label_item"].mean(-1).tolist() == pytest.approx(chunk_example(maps).tolist())
    assert label_focus(maps)[0].item() == pytest.approx(0.6 / 0.75)


def test_metrics_reject_even_maps():
    with pytest.raises(ValueError, match="2N\\+1"):
        label_attention(torch.ones(8, 8))


@pytest.mark.parametrize(("K", "expected"), [(8, 0.786), (16, 0.633), (32, 0.565), (64, 0.532)])
def test_scc_theory(K, expected):
    assert scc_theory_accuracy(K) == pytest.approx(expected, abs=5e-4)
    p = 1 - math.comb(K - 2, 4) / math.comb(K - 1, 4)
    assert p == pytest.approx(4 / (K - 1))


def test_matching_label_attention_and_cla():
    rows = torch.zeros(2, 9)
    rows[0, 3] = 0.6  # label 2
    rows[0, 7] = 0.2  # label 4
    rows[1, 1] = 1.0
    classes = torch.tensor([[5, 7, 9, 7, 7], [1, 2, 3, 4, 8]])  # seq 0 matches pairs 2 and 4
    tila = matching_label_attention(rows, classes)
    assert tila[0].item() == pytest.approx(0.4)
    assert torch.isnan(tila[1])
    pred = torch.tensor([[3, 9]])
    labels = torch.tensor([[[1, 2, 3, 4], [1, 2, 3, 4]]])
    assert context_label_accuracy(pred, labels).item() == pytest.approx(0.5)
