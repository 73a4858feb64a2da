import pytest
import torch
import torch.nn.functional as F

from icmeta.layout import circuit_mask
from icmeta.network.model import AttentionControl, EnsembleICL
from icmeta.rng import stream_keys
from icmeta.settings.config import RunConfig
from icmeta.task.data import TaskSampler


def setup(cfg: RunConfig, n: int = 32):
    model, sampler = EnsembleICL([cfg]), TaskSampler([cfg])
    return model, model.embed(sampler.sample(stream_keys(sampler.seeds, 1, 0), n))


def test_attention_is_causal_and_normalised():
    model, tok = setup(RunConfig())
    _, pats = model(tok, record=True)
    for a in pats:
        assert a.shape == (1, 32, 1, 9, 9)
        assert torch.allclose(a.sum(-1), torch.ones(1, 32, 1, 9))
        assert (a.triu(1) == 0).all()


@pytest.mark.parametrize("cfg_changes", [{}, {"model.heads": 4, "model.w_o": True, "model.layernorm": True}])
def test_query_only_last_layer_matches_full_layer(cfg_changes):
    model, tok = setup(RunConfig().replace(**cfg_changes))
    fast, _ = model(tok)
    full, _ = model(tok, record=True)
    assert torch.allclose(fast, full, atol=1e-5)


def test_allowed_mask_restricts_attention():
    model, tok = setup(RunConfig())
    only_self = torch.eye(9, dtype=torch.bool)
    _, pats = model(tok, AttentionControl(allowed={0: only_self}), record=True)
    assert torch.equal(pats[0][0, :, 0], torch.eye(9).expand(32, 9, 9))
    _, free = model(tok, record=True)
    assert not torch.allclose(free[0], pats[0])


@pytest.mark.parametrize("circuit", ["ncc", "scc", "fcc"])
def test_circuit_masks_allow_exactly_the_circuit(circuit):
    cfg = RunConfig().replace(**{"model.circuit": circuit})
    model, tok = setup(cfg)
    _, pats = model(tok, record=True)
    masks = circuit_mask(circuit, 4, 2)
    for l in range(2):
        outside = ~masks[l]
        assert (pats[l][0, :, 0][:, outside] == 0).all()
    labels = [1, 3, 5, 7]
    if circuit == "scc":
        assert masks[0][8, labels].all() and masks[1].sum() == 9
    if circuit == "fcc":
        assert masks[0][labels, [0, 2, 4, 6]].all() and masks[1][8, labels].all()
        assert masks[0].sum() == 9 + 4 and masks[1].sum() == 9 + 4


def test_override_replaces_attention_and_blocks_qk_gradient():
    model, tok = setup(RunConfig())
    pattern = torch.zeros(9, 9)
    pattern[:, 0] = 1.0
    where = torch.ones(9, 9, dtype=torch.bool)
    control = AttentionControl(override={0: (pattern, where)})
    logits, pats = model(tok, control, record=True)
    assert torch.equal(pats[0][0, :, 0], pattern.expand(32, 9, 9))
    target = torch.zeros(1, 32, dtype=torch.long)
    loss = F.cross_entropy(logits.transpose(1, 2), target)
    grads = torch.autograd.grad(loss, [model.wqkv[0], model.wqkv[1]])
    dq = model.dq
    assert (grads[0][..., : 2 * dq] == 0).all()  # W_Q, W_K of the clamped layer learn nothing
    assert (grads[0][..., 2 * dq :] != 0).any()  # W_V still does
    assert (grads[1] != 0).any()
    plain, _ = model(tok)
    assert not torch.allclose(plain, logits)


def test_ensemble_member_starts_as_the_solo_run():
    a = RunConfig().replace(seed=5)
    b = RunConfig().replace(seed=9, **{"task.T": 2})
    solo, ens = EnsembleICL([a]), EnsembleICL([b, a])
    for (name, p_solo), (_, p_ens) in zip(solo.state_dict().items(), ens.state_dict().items(), strict=True):
        assert torch.equal(p_ens[1], p_solo[0]), name
        assert not torch.equal(p_ens[0], p_solo[0]), name


def test_initial_scales_follow_the_code():
    model = EnsembleICL([RunConfig()])
    assert model.wqkv[0].std().item() == pytest.approx(1 / 128**0.5, rel=0.05)
    assert model.label_emb.std().item() == pytest.approx(1 / 128**0.5, rel=0.1)
    assert model.mlp_w[0].abs().max().item() <= 1 / 128**0.5
    assert [w.shape[1:] for w in model.mlp_w] == [(128, 128), (128, 128), (128, 32)]
