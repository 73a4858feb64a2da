"""Train-time interventions: forced patterns are the attention used, blocked positions get none,
clamped query/key parameters do not learn until the window ends, ablation removes a head."""

import pytest
import torch

from conftest import small
from icmeta.errors import ConfigError
from icmeta.layout import pattern, positions
from icmeta.network.model import AttentionControl, EnsembleICL, _ablated, _every_row, _query_row
from icmeta.network.schedule import Schedule
from icmeta.rng import stream_keys
from icmeta.settings.config import RunConfig
from icmeta.task.data import TaskSampler
from icmeta.training.train import Trainer


def _with(*specs, **changes) -> RunConfig:
    """The default run (with dotted `changes`) carrying the given intervention specifications."""
    return RunConfig.from_dict({**RunConfig().replace(**changes).to_dict(), "interventions": list(specs)})


def _tokens(cfg: RunConfig, n: int = 32):
    sampler = TaskSampler([cfg])
    return sampler.sample(stream_keys(sampler.seeds, 1, 0), n)


def _control(cfg: RunConfig, step: int = 0):
    schedule = Schedule([cfg.interventions], cfg.task.N, cfg.model.heads, torch.device("cpu"))
    schedule.apply(step)
    return schedule.control


def test_a_forced_pattern_is_exactly_the_attention_used():
    cfg = _with({"kind": "force", "layer": 1, "rows": "query", "pattern": "labels"})
    model = EnsembleICL([cfg])
    tok = model.embed(_tokens(cfg))
    _, pats = model(tok, _control(cfg), record=True)
    query_row = pats[0][0, :, 0, -1]  # (n, S) layer 1, the query's row
    assert torch.equal(query_row, pattern("labels", 4)[-1].expand_as(query_row))
    assert torch.allclose(query_row[0, 1:8:2], torch.full((4,), 0.25))
    _, free = model(tok, record=True)
    assert torch.equal(pats[0][..., :-1, :], free[0][..., :-1, :]), "other rows are untouched"


def test_blocked_positions_receive_zero_attention():
    cfg = _with({"kind": "block", "layer": 2, "rows": "query", "pattern": "labels"})
    model = EnsembleICL([cfg])
    _, pats = model(model.embed(_tokens(cfg)), _control(cfg), record=True)
    assert (pats[1][0, :, 0, -1, 1:8:2] == 0).all()
    assert torch.allclose(pats[1][0, :, 0, -1].sum(-1), torch.ones(32))


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "force", "layer": 2, "rows": "query", "pattern": "random", "seed": 3},
        {"kind": "block", "layer": 2, "rows": "query", "pattern": "labels"},
        {"kind": "scale", "layer": 2, "rows": "all", "pattern": "self", "strength": 0.5},
        {"kind": "ablate", "layer": 2, "ablation": "mean"},
        {"kind": "ablate", "layer": 1, "rows": "labels"},
    ],
)
def test_the_fast_query_path_applies_every_intervention_like_the_full_layer(spec):
    cfg = _with(spec, **{"model.heads": 2, "model.w_o": True, "model.d_qkv": 64})
    model = EnsembleICL([cfg])
    tok = model.embed(_tokens(cfg))
    control = _control(cfg)
    fast, _ = model(tok, control)
    full, _ = model(tok, control, record=True)
    plain, _ = model(tok)
    assert torch.allclose(fast, full, atol=1e-5)
    assert not torch.allclose(fast, plain, atol=1e-4), "the intervention changes the output"


def test_scaling_moves_attention_part_of_the_way():
    cfg = _with({"kind": "scale", "layer": 1, "rows": "all", "pattern": "self", "strength": 0.25})
    model = EnsembleICL([cfg])
    tok = model.embed(_tokens(cfg))
    _, scaled = model(tok, _control(cfg), record=True)
    _, free = model(tok, record=True)
    assert torch.allclose(scaled[0], 0.75 * free[0] + 0.25 * torch.eye(9), atol=1e-6)


def test_zero_ablation_equals_a_head_without_values():
    cfg = _with({"kind": "ablate", "layer": 1})
    model = EnsembleICL([cfg])
    tok = model.embed(_tokens(cfg))
    ablated, _ = model(tok, _control(cfg))
    with torch.no_grad():
        model.wqkv[0][..., 2 * model.dq :] = 0  # layer 1 writes nothing
    silent, _ = model(tok)
    assert torch.allclose(ablated, silent, atol=1e-6)


def test_mean_ablation_of_identical_sequences_changes_nothing():
    cfg = _with({"kind": "ablate", "layer": 1, "ablation": "mean"})
    model = EnsembleICL([cfg])
    tok = model.embed(_tokens(cfg, 1)).expand(1, 8, -1, -1).contiguous()
    ablated, _ = model(tok, _control(cfg))
    plain, _ = model(tok)
    assert torch.allclose(ablated, plain, atol=1e-6)


def test_mean_ablation_replaces_only_the_chosen_head_and_rows_by_their_batch_mean():
    heads = torch.randn(2, 5, 2, 9, 3)  # (E, n, H, S, dh)
    keep, mean = torch.ones(2, 1, 2, 9, 1), torch.zeros(2, 1, 2, 9, 1)
    keep[0, 0, 1, -1] = 0.0  # member 0, head 2, the query row
    mean[0, 0, 1, -1] = 1.0
    expected = heads.clone()
    expected[0, :, 1, -1] = heads[0, :, 1, -1].mean(0)
    control = AttentionControl(ablate={0: (keep, mean)})
    assert torch.allclose(_ablated(heads, 0, control, _every_row), expected)
    # the query-only path applies the same description to the query's row alone
    assert torch.allclose(_ablated(heads[..., -1, :], 0, control, _query_row), expected[..., -1, :])


def test_a_mean_ablated_member_sees_its_own_batch_and_no_other_member():
    ablated = _with({"kind": "ablate", "layer": 1, "head": 1, "ablation": "mean"}, **{"model.heads": 2})
    free = ablated.replace(seed=1, interventions=())
    model = EnsembleICL([ablated, free])
    schedule = Schedule([ablated.interventions, ()], 4, 2, torch.device("cpu"))
    schedule.apply(0)
    sampler = TaskSampler([ablated, free])
    tok = model.embed(sampler.sample(stream_keys(sampler.seeds, 1, 0), 8))  # (2, 8, S, D)
    base, _ = model(tok, schedule.control)
    shuffled, _ = model(tok[:, [0, 3, 1, 2, 7, 6, 5, 4]], schedule.control)
    assert torch.allclose(shuffled[:, 0], base[:, 0], atol=1e-6), "a batch mean ignores the order"
    others = tok.clone()
    others[0, 1:] = tok[0, 1:].flip(-1)  # member 0's other sequences change
    changed, _ = model(others, schedule.control)
    assert not torch.allclose(changed[0, 0], base[0, 0], atol=1e-5), "the mean is over member 0's batch"
    others = tok.clone()
    others[1, 1:] = tok[1, 1:].flip(-1)  # only member 1's batch changes
    changed, _ = model(others, schedule.control)
    assert torch.allclose(changed[0], base[0], atol=1e-6), "no member's mean leaks into another"


def _evaluated_after_training(runs: list[RunConfig], tmp_path, steps: int = 10) -> list[dict[str, float]]:
    trainer = Trainer(runs, [tmp_path / f"m{i}" for i in range(len(runs))], tmp_path / "s.pt", device="cpu")
    for _ in range(steps):
        trainer.advance()
    trainer._sync_interventions()
    return trainer.evaluate()[0]


def test_mean_ablation_at_evaluation_does_not_depend_on_companions_or_chunking(tmp_path, monkeypatch):
    """Evaluation runs in chunks of EVAL_CHUNK_SEQUENCES[device] // E sequences per member; a mean
    over a chunk would make a run's numbers depend on its companions and on the device."""
    layers = [{"kind": "ablate", "layer": 1, "ablation": "mean"}]
    layers.append({"kind": "ablate", "layer": 2, "rows": "query", "ablation": "mean"})

    def run(seed: int, *specs: dict) -> RunConfig:
        return RunConfig.from_dict(
            {**small(seed=seed, **{"optim.eval_size": 256}).to_dict(), "interventions": specs}
        )

    chunks = {"cpu": 10**6, "cuda": 10**6}  # the whole set in one chunk: the plain whole-set mean
    monkeypatch.setattr("icmeta.training.evaluation.EVAL_CHUNK_SEQUENCES", chunks)
    reference = _evaluated_after_training([run(0, *layers)], tmp_path / "ref")[0]
    monkeypatch.setattr("icmeta.training.evaluation.EVAL_CHUNK_SEQUENCES", {"cpu": 512, "cuda": 16384})
    alone = _evaluated_after_training([run(0, *layers)], tmp_path / "alone")[0]
    companions = [run(1, *layers), run(0, *layers), run(2)]  # another seed ablated alike, one without
    together = _evaluated_after_training(companions, tmp_path / "three")[1]  # 170 per chunk: 2
    monkeypatch.setattr("icmeta.training.evaluation.EVAL_CHUNK_SEQUENCES", {"cpu": 100, "cuda": 100})
    small_chunks = _evaluated_after_training(companions, tmp_path / "small")[1]  # 33 per chunk: 8
    for name, got in (("alone", alone), ("in an ensemble of 3", together), ("in small chunks", small_chunks)):
        for key, want in reference.items():
            if "acc" in key:
                assert got[key] == want, f"{key} {name}: {got[key]} != {want}"
            else:
                assert got[key] == pytest.approx(want, abs=1e-6, nan_ok=True), f"{key} {name}"


def test_an_intervention_on_one_head_leaves_the_others_alone():
    cfg = _with(
        {"kind": "force", "layer": 1, "head": 2, "rows": "all", "pattern": "self"}, **{"model.heads": 2}
    )
    model = EnsembleICL([cfg])
    tok = model.embed(_tokens(cfg))
    _, pats = model(tok, _control(cfg), record=True)
    _, free = model(tok, record=True)
    assert torch.equal(pats[0][:, :, 0], free[0][:, :, 0])
    assert torch.equal(pats[0][:, :, 1], torch.eye(9).expand_as(pats[0][:, :, 1]))


def test_the_schedule_rewrites_its_tensors_in_place_so_a_captured_graph_follows():
    cfg = _with(
        {"kind": "block", "layer": 2, "rows": "query", "pattern": "labels", "end": 10},
        {"kind": "force", "layer": 1, "rows": "labels", "pattern": "own_item", "start": 5},
        {"kind": "ablate", "layer": 2, "ablation": "mean", "start": 3, "end": 8},
    )
    schedule = Schedule([cfg.interventions], 4, 1, torch.device("cpu"))
    c = schedule.control
    tensors = [*c.allowed.values(), *(t for pair in [*c.override.values(), *c.ablate.values()] for t in pair)]
    pointers = [t.data_ptr() for t in tensors]
    seen = []
    for step in range(12):
        schedule.apply(step)
        assert [t.data_ptr() for t in tensors] == pointers
        seen.append(
            (bool(c.allowed[1].all()), bool(c.override[0][1].any()), bool((c.ablate[1][0] == 0).any()))
        )
    assert seen[0] == (False, False, False) and seen[4] == (False, False, True)
    assert seen[9] == (False, True, False) and seen[11] == (True, True, False)


def _qk(trainer: Trainer, layer: int) -> torch.Tensor:
    return trainer.model.wqkv[layer][..., : 2 * trainer.model.dq].detach().clone()


def test_clamped_query_key_weights_do_not_learn_until_the_window_ends(tmp_path):
    clamp = {"kind": "force", "layer": 1, "rows": "all", "pattern": "self", "end": 30}
    free = small()
    cfg = RunConfig.from_dict({**free.to_dict(), "interventions": [clamp]})
    trainer = Trainer([cfg, free], [tmp_path / "a", tmp_path / "b"], tmp_path / "state.pt", device="cpu")
    start = _qk(trainer, 0)
    for _ in range(30):
        trainer.advance()
    during = _qk(trainer, 0)
    assert torch.equal(during[0], start[0]), "no gradient reaches a fully clamped head"
    assert not torch.equal(during[1], start[1]), "the unclamped member learns"
    trainer.advance()  # step 30: the first outside [0, 30)
    assert not torch.equal(_qk(trainer, 0)[0], during[0]), "learning resumes right after the window"


def test_a_member_without_clamps_trains_as_it_would_alone(tmp_path):
    free = small()
    clamped = RunConfig.from_dict(
        {
            **free.to_dict(),
            "interventions": [{"kind": "block", "layer": 2, "rows": "query", "pattern": "labels"}],
        }
    )
    pair = Trainer([clamped, free], [tmp_path / "a", tmp_path / "b"], tmp_path / "s1.pt", device="cpu")
    alone = Trainer([free], [tmp_path / "c"], tmp_path / "s2.pt", device="cpu")
    for _ in range(20):
        pair.advance()
        alone.advance()
    for p, q in zip(pair.params, alone.params, strict=True):
        assert torch.allclose(p[1], q[0], atol=1e-5)
    changed = [
        not torch.allclose(p[0], q[0], atol=1e-6) for p, q in zip(pair.params, alone.params, strict=True)
    ]
    assert any(changed), "the clamped member trains differently"


def test_runs_without_interventions_keep_their_hash():
    assert "interventions" not in RunConfig().to_dict()
    cfg = _with({"kind": "ablate", "layer": 2})
    assert cfg.hash() != RunConfig().hash()
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "force", "layer": 3, "rows": "query", "pattern": "labels"}, "layer = 3"),
        ({"kind": "force", "layer": 1, "head": 2, "rows": "query", "pattern": "labels"}, "head = 2"),
        ({"kind": "force", "layer": 1, "rows": "nothing", "pattern": "labels"}, "rows = 'nothing'"),
        ({"kind": "force", "layer": 1, "rows": "items", "pattern": "labels"}, "no labels position"),
        ({"kind": "force", "layer": 1, "rows": "query", "pattern": "own_item"}, "only for label rows"),
        ({"kind": "block", "layer": 1, "rows": "items", "pattern": "self"}, "nothing to attend to"),
        ({"kind": "scale", "layer": 1, "pattern": "self", "strength": 1.5}, "strength"),
        ({"kind": "ablate", "layer": 1, "start": 200_000}, "start = 200000"),
        ({"kind": "ablate", "layer": 1, "start": 10, "end": 5}, "end = 5"),
        ({"kind": "ablate", "layer": 1, "end": 300_000}, "end = 300000"),
        ({"kind": "clamp", "layer": 1}, "kind = 'clamp'"),
        ({"kind": "ablate", "layer": 1, "colour": 1}, "unknown key 'colour'"),
        ({"kind": "force", "layer": 1, "rows": "query", "pattern": "self", "strength": 0.3}, "only scale"),
        ({"kind": "ablate", "layer": 1, "pattern": "labels"}, "pattern is invalid for kind 'ablate'"),
        ({"kind": "block", "layer": 1, "rows": "query", "pattern": "self", "ablation": "mean"}, "ablation"),
        ({"kind": "force", "layer": 1, "rows": "query", "pattern": "self", "seed": 2}, "only the random"),
        ({"kind": "scale", "layer": 1, "pattern": "self", "strength": "0.3"}, "must be a number"),
        ("block_L2_query_labels", "is a mapping such as"),
        # Seeds torch.Generator cannot take failed at the first training step.
        ({"kind": "force", "layer": 1, "rows": "query", "pattern": "random", "seed": 2**70}, "seed = 1180"),
        ({"kind": "force", "layer": 1, "rows": "query", "pattern": "random", "seed": 1.5}, "seed = 1.5"),
        # YAML `true` counted as 1 and clamped layer 1 (or step 1) silently.
        ({"kind": "ablate", "layer": True}, "layer = True is invalid"),
        ({"kind": "ablate", "layer": 1, "head": True}, "head = True is invalid"),
        ({"kind": "ablate", "layer": 1, "start": True}, "start = True is invalid"),
    ],
)
def test_invalid_specifications_are_refused_with_the_field_named(spec, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        _with(spec)


@pytest.mark.parametrize(
    ("specs", "changes"),
    [
        (  # each leaves label rows something (items, themselves); together, nothing
            [
                {"kind": "block", "layer": 1, "rows": "labels", "pattern": "self"},
                {"kind": "block", "layer": 1, "rows": "labels", "pattern": "items", "start": 50, "end": 100},
            ],
            {},
        ),
        ([{"kind": "block", "layer": 2, "rows": "query", "pattern": "self"}], {"model.circuit": "ncc"}),
    ],
)
def test_blocks_that_together_leave_a_row_nothing_to_attend_to_are_refused(specs, changes):
    with pytest.raises(ConfigError, match="nothing to attend to from step"):
        _with(*specs, **changes)


def test_blocks_that_never_overlap_in_time_are_accepted():
    _with(
        {"kind": "block", "layer": 1, "rows": "labels", "pattern": "self", "end": 50},
        {"kind": "block", "layer": 1, "rows": "labels", "pattern": "items", "start": 50},
    )


def test_an_integer_strength_is_the_same_run_as_its_float():
    spec = {"kind": "scale", "layer": 1, "pattern": "self"}
    assert _with({**spec, "strength": 1}).hash() == _with({**spec, "strength": 1.0}).hash()


def test_clamp_switches_are_the_window_edges_inside_the_run():
    from icmeta.analysis.run import clamp_switches

    cfg = _with(
        {"kind": "block", "layer": 2, "rows": "query", "pattern": "labels", "end": 50},
        {"kind": "ablate", "layer": 1, "start": 20, "end": RunConfig().optim.steps},  # the run's end
    )
    assert clamp_switches(cfg) == [20, 50]
    assert clamp_switches(RunConfig()) == []


def test_position_sets():
    assert positions("own_item", 2).nonzero().tolist() == [[1, 0], [3, 2]]
    assert positions("labels", 2)[4].tolist() == [False, True, False, True, False]
    assert torch.allclose(pattern("random", 2, seed=1).sum(-1), torch.ones(5))


@pytest.mark.parametrize(
    ("spec", "circuit"),
    [
        ({"kind": "force", "layer": 2, "rows": "query", "pattern": "labels"}, "ncc"),
        ({"kind": "scale", "layer": 2, "rows": "query", "pattern": "labels", "strength": 0.5}, "ncc"),
        ({"kind": "force", "layer": 1, "rows": "all", "pattern": "random"}, "scc"),
        ({"kind": "force", "layer": 1, "rows": "query", "pattern": "items"}, "fcc"),
    ],
)
def test_forcing_attention_the_circuit_mask_forbids_is_refused(spec, circuit):
    """Force and scale act after the softmax: they would break the run's circuit restriction."""
    with pytest.raises(
        ConfigError, match=rf"interventions\[0\]\.pattern = .* model\.circuit = '{circuit}' forbids"
    ):
        _with(spec, **{"model.circuit": circuit})


@pytest.mark.parametrize(
    ("spec", "circuit"),
    [
        ({"kind": "force", "layer": 1, "rows": "all", "pattern": "self"}, "ncc"),
        ({"kind": "force", "layer": 1, "rows": "query", "pattern": "labels"}, "scc"),
        ({"kind": "scale", "layer": 1, "rows": "labels", "pattern": "own_item", "strength": 0.5}, "fcc"),
        ({"kind": "force", "layer": 2, "rows": "query", "pattern": "labels"}, "fcc"),
    ],
)
def test_patterns_inside_the_circuit_mask_are_accepted(spec, circuit):
    _with(spec, **{"model.circuit": circuit})


@pytest.mark.parametrize("field", ["batch", "eval_size"])
def test_mean_ablation_over_a_single_sequence_is_refused(field):
    """The mean of one sequence's head output is that output: nothing would be ablated."""
    spec = {"kind": "ablate", "layer": 1, "ablation": "mean"}
    changes = {f"optim.{field}": 1, "task.T": 1}
    with pytest.raises(
        ConfigError, match=rf"'optim\.{field}' = 1 is invalid: interventions\[0\] mean-ablates"
    ):
        _with(spec, **changes)
    _with({**spec, "ablation": "zero"}, **changes)
