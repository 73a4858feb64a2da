"""The SST-2 probe, offline: a tiny GPT-2 and SST-2 fixture built here, run through the real code."""

import hashlib

import pandas as pd
import pytest
import torch

from icmeta.probe import ProbeError, models, sst2
from icmeta.probe.attention import prompt_metrics
from icmeta.probe.prompts import Positions, build_prompt, locate, make_prompts, tokens_in
from icmeta.probe.run import _continuation_logprob, probe
from probe_fixtures import sst2_zip, tiny_gpt2, write_sst2

LABELS = ["Negative", "Positive"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    model, tokenizer = models.load(
        models.ModelSpec(str(tiny_gpt2(root / "model"))), "float32", torch.device("cpu")
    )
    return model, tokenizer, write_sst2(root / "sst2")


def test_prompt_has_the_papers_format_and_spans():
    p = build_prompt([("a fine film", 1), ("dull", 0)], ("the plot", 1), LABELS)
    lines = ["Review: a fine film", "Sentiment: Positive", "Review: dull", "Sentiment: Negative"]
    assert p.text == "\n".join([*lines, "Review: the plot", "Sentiment:"])
    assert [p.text[a:b] for a, b in p.reviews] == ["a fine film", "dull"]
    assert [p.text[a:b] for a, b in p.labels] == ["Positive", "Negative"]
    assert p.demo_labels == (1, 0) and p.query_label == 1


def test_tokens_in_uses_overlap_and_skips_special_tokens():
    offsets = [(0, 0), (0, 6), (6, 7), (7, 10), (10, 14), (14, 15)]
    assert tokens_in(offsets, (7, 14)) == (3, 4)
    assert tokens_in(offsets, (8, 11)) == (3, 4)  # a span starting mid-token takes that token
    assert tokens_in(offsets, (0, 1)) == (1,)  # the empty special-token offset never matches


def test_positions_on_a_real_tokenizer_cover_exactly_labels_and_reviews(tiny):
    _, tokenizer, _ = tiny
    p = build_prompt([("a very good movie", 1), ("boring plot", 0)], ("the actor", 0), LABELS)
    enc = tokenizer(p.text, return_offsets_mapping=True, add_special_tokens=False)
    pos = locate(p, enc["offset_mapping"])
    ids = enc["input_ids"]
    decoded = [tokenizer.decode([ids[i] for i in toks]).strip() for toks in pos.labels]
    assert decoded == ["Positive", "Negative"]
    assert all(len(toks) > 1 for toks in pos.labels), "the fixture's labels split into several tokens"
    assert [tokenizer.decode([ids[i] for i in toks]).strip() for toks in pos.reviews] == [
        "a very good movie",
        "boring plot",
    ]
    assert pos.query == len(ids) - 1 and tokenizer.decode(ids[-1:]) == ":"


def test_metrics_on_uniform_causal_attention_match_hand_computation():
    S = 10
    attn = torch.tril(torch.ones(S, S))
    attn = (attn / attn.sum(-1, keepdim=True)).expand(3, 2, S, S)  # (layers, heads, S, S)
    pos = Positions(query=9, labels=((3,), (7, 8)), reviews=((1, 2), (5, 6)))
    m = prompt_metrics(attn, pos)
    assert m["bigram"].shape == (3, 2)
    assert torch.allclose(m["bigram"], torch.tensor(1 / 10))
    assert torch.allclose(m["label_attn"], torch.tensor((1 / 10 + 2 / 10) / 2))
    chunk = ((2 / 4) / 2 + ((2 / 8) / 2 + (2 / 9) / 2) / 2) / 2
    assert torch.allclose(m["chunk"], torch.tensor(chunk, dtype=torch.float32))


def test_metrics_on_a_pointed_pattern():
    S = 6
    attn = torch.zeros(1, 1, S, S)
    attn[0, 0, 5, 2] = 1.0  # the query looks only at the first label
    attn[0, 0, 2, 1] = 1.0  # that label looks only at its review's second token
    pos = Positions(query=5, labels=((2,), (4,)), reviews=((0, 1), (3,)))
    m = prompt_metrics(attn, pos)
    assert m["bigram"].item() == 0 and m["label_attn"].item() == pytest.approx(0.5)
    assert m["chunk"].item() == pytest.approx((1 / 2 + 0) / 2)


def test_probe_runs_end_to_end_and_batching_does_not_change_it(tiny):
    model, tokenizer, data_dir = tiny
    data = sst2.load(data_dir)
    prompts = make_prompts(data.train, data.validation.head(5), 2, "one_per_class", 0, LABELS)
    assert all(sorted(p.demo_labels) == [0, 1] for p in prompts)
    one, preds = probe(model, tokenizer, prompts, LABELS, 1, torch.device("cpu"))
    three, _ = probe(model, tokenizer, prompts, LABELS, 3, torch.device("cpu"))
    assert len(one) == 3 * 2 * 2  # metrics x layers x heads
    assert torch.allclose(
        torch.tensor(one["mean"].to_numpy()), torch.tensor(three["mean"].to_numpy()), atol=1e-6
    )
    assert one["mean"].between(0, 1).all() and (one["prompts"] == 5).all()
    assert len(preds) == 5 and set(preds["predicted"]) <= {0, 1}
    assert preds["correct"].equals(preds["query_label"] == preds["predicted"])


def test_single_token_labels_are_scored_like_multi_token_ones(tiny):
    """The shortcut for one-token labels (the prompt's own next-token logits, as for GPT-2's
    ' Positive') must agree with scoring the continuation in a second pass."""
    model, tokenizer, data_dir = tiny
    data = sst2.load(data_dir)
    single = ["good", "bad"]  # whole words of the fixture's vocabulary
    assert all(len(tokenizer(" " + w, add_special_tokens=False)["input_ids"]) == 1 for w in single)
    prompts = make_prompts(data.train, data.validation.head(4), 2, "random", 1, single)
    _, fast = probe(model, tokenizer, prompts, single, 2, torch.device("cpu"))
    ids = [tokenizer(p.text, add_special_tokens=False)["input_ids"] for p in prompts]
    for word in single:
        cont = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
        slow = _continuation_logprob(model, ids, cont, tokenizer.pad_token_id, torch.device("cpu"))
        assert torch.allclose(
            torch.tensor(fast[f"logp_{word}"].to_numpy(), dtype=slow.dtype), slow, atol=1e-4
        )


def test_a_missing_model_without_network_names_the_config_key(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = models.ModelSpec("no-such-org/no-such-model", config_key="probe.models")
    with pytest.raises(ProbeError, match=r"set probe\.models to a local directory"):
        models.load(spec, "float32", torch.device("cpu"))


def test_download_checks_the_checksum_and_writes_nothing_on_failure(tmp_path):
    archive = sst2_zip(tmp_path / "SST-2.zip")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    out = tmp_path / "resources"
    with pytest.raises(ProbeError, match=r"expected 0+"):
        sst2.download(archive.as_uri(), "0" * 32, out)
    assert not out.exists() or not any(out.iterdir())
    sst2.download(archive.as_uri(), md5, out)
    assert len(sst2.load(out).validation) == 12


def test_no_network_and_no_local_copy_names_the_data_key(tmp_path):
    with pytest.raises(ProbeError, match=r"set probe\.data\.path"):
        sst2.download("http://127.0.0.1:9/SST-2.zip", "0" * 32, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ProbeError, match=r"probe\.data\.path"):
        sst2.load(tmp_path / "missing")


def test_glue_tsv_with_quotes_is_read_verbatim(tmp_path):
    (tmp_path / "train.tsv").write_text('sentence\tlabel\n"quoted" start \t1\nit \'s fine\t0\n')
    table = sst2.read_split(tmp_path / "train.tsv")
    assert table["sentence"].tolist() == ['"quoted" start', "it 's fine"]
    assert isinstance(table, pd.DataFrame) and table["label"].tolist() == [1, 0]
