import re

import pytest
import yaml

from conftest import small
from icmeta.errors import ConfigError
from icmeta.settings.config import RunConfig, StopRule, check_ensemble
from icmeta.settings.experiments import check
from icmeta.training.train import train


def test_defaults_are_the_papers():
    c = RunConfig()
    t, m, o = c.task, c.model, c.optim
    assert (t.T, t.K, t.L, t.N, t.D, t.P, t.eps, t.p_B, t.B, t.alpha, t.beta) == (
        3,
        64,
        32,
        4,
        63,
        65,
        0.1,
        0.0,
        1,
        0.0,
        0.0,
    )
    assert (m.layers, m.heads, m.d_qkv, m.mlp_depth, m.mlp_width) == (2, 1, 128, 2, 128)
    assert (o.lr, o.batch, o.eval_every) == (0.01, 128, 100)


def test_hash_is_stable_and_content_based(tmp_path):
    a = RunConfig.from_dict({"task": {"T": 2}, "seed": 3})
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"seed": 3, "task": {"T": 2, "eps": 0.1}}))
    assert RunConfig.from_yaml(path).hash() == a.hash()
    assert a.hash() != a.replace(seed=4).hash()
    assert a.hash() != a.replace(**{"task.eps": 0.25}).hash()
    assert len(a.hash()) == 12


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"task": {"N": 4, "B": 3}}, "task.B"),  # N not a multiple of B
        ({"task": {"N": 4, "B": 8}}, "task.B"),  # B > N
        ({"task": {"K": 16, "L": 32, "base_labels": "balanced"}}, "task.L"),  # L > K for a bijection
        ({"task": {"eps": -0.1}}, "task.eps"),
        ({"task": {"p_B": 1.5}}, "task.p_B"),
        ({"task": {"p_B": -0.1}}, "task.p_B"),
        ({"task": {"positions": "rope"}}, "task.positions"),
        ({"task": {"task_map": "rotate"}}, "task.task_map"),
        ({"task": {"label_tokens": "onehot"}}, "task.label_tokens"),
        ({"task": {"Kay": 3}}, "task.Kay"),
        ({"tsak": {}}, "tsak"),
        ({"task": {"T": 0}}, "task.T"),
        ({"task": {"T": 2.5}}, "task.T"),
        ({"task": {"P": 4}}, "task.P"),
        ({"task": {"P": 8, "positions": "token"}}, "task.P"),
        ({"model": {"heads": 3}}, "model.d_qkv"),
        ({"model": {"d_qkv": 64}}, "model.d_qkv"),  # no W_O: heads write into the residual
        ({"model": {"circuit": "xyz"}}, "model.circuit"),
        ({"model": {"w_o": "yes"}}, "model.w_o"),
        ({"optim": {"lr": 0}}, "optim.lr"),
        ({"optim": {"batch": 0}}, "optim.batch"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_values_name_the_field(data, field):
    with pytest.raises(ConfigError, match=f"'{field}'") as err:
        RunConfig.from_dict(data)
    assert "invalid" in str(err.value)


def test_yaml_ints_are_accepted_for_floats():
    assert RunConfig.from_dict({"task": {"eps": 1}}).task.eps == 1.0


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.from_yaml(tmp_path / "nope.yaml")


def test_ensemble_compatibility():
    base = RunConfig()
    check_ensemble([base, base.replace(seed=1, **{"task.T": 2, "task.eps": 0.5, "task.beta": 1.0})])
    with pytest.raises(ConfigError, match=r"task\.K"):
        check_ensemble([base, base.replace(**{"task.K": 32})])
    with pytest.raises(ConfigError, match=r"optim\.lr"):
        check_ensemble([base, base.replace(**{"optim.lr": 0.1})])


# Configs that once passed validation and then crashed mid-run or trained on NaN/garbage; each must
# now stop at construction with a message naming the field and what to change.
K_TOO_SMALL = r"'task\.K' = 2 is invalid: each sequence draws N/B = 2 distinct context classes plus one"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # p_B = 1 still draws the outside query class (torch.where evaluates both branches).
        ({"task": {"T": 2, "K": 2, "L": 32, "N": 4, "B": 2, "p_B": 1.0}}, K_TOO_SMALL),
        ({"task": {"K": 2, "N": 4, "B": 2, "p_B": 0.5, "p_B_semantics": "code"}}, K_TOO_SMALL),
        ({"task": {"T": 2, "K": 2, "L": 32, "N": 4, "B": 2, "p_B": 0.25}}, r"at least N/B \+ 1 = 3"),
        ({"task": {"alpha": float("inf")}}, r"'task\.alpha' = inf is invalid: must be a finite number"),
        ({"task": {"alpha": float("nan")}}, r"'task\.alpha' = nan is invalid: must be a finite number"),
        ({"task": {"beta": float("inf")}}, r"'task\.beta' = inf is invalid: must be a finite number"),
        ({"task": {"eps": float("nan")}}, r"'task\.eps' = nan is invalid: must be a finite number"),
        ({"task": {"p_B": float("nan")}}, r"'task\.p_B' = nan is invalid: must be a finite number"),
        ({"optim": {"lr": float("inf")}}, r"'optim\.lr' = inf is invalid: must be a finite number"),
        ({"task": {"eps": 1e20}}, r"'task\.eps' = 1e\+20 is invalid: .*every item becomes 0"),
        ({"optim": {"eval_size": 2}}, r"'optim\.eval_size' = 2 is invalid: .*at least task\.T = 3"),
    ],
)
def test_configs_that_would_crash_or_train_on_garbage_are_refused(data, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(data)


@pytest.mark.parametrize(
    "task",
    [
        {"T": 2, "K": 3, "L": 32, "N": 4, "B": 2, "p_B": 0.25},  # K = N/B + 1 < N + 1
        {"T": 2, "K": 3, "L": 32, "N": 4, "B": 2, "p_B": 1.0},
        {"T": 2, "K": 3, "L": 32, "N": 4, "B": 2, "p_B": 0.5, "p_B_semantics": "code"},
        {"T": 2, "K": 2, "L": 2, "N": 4, "B": 4, "p_B": 0.5, "alpha": 1.0},  # one context class
    ],
)
def test_the_fewest_classes_allowed_train(tmp_path, task):
    """K = N/B + 1 is enough: the sampler draws no more classes than that when K is so small."""
    changes = {f"task.{k}": v for k, v in task.items()}
    cfg = small(**{"optim.steps": 10, "optim.eval_every": 5, "optim.eval_size": 32, **changes})
    frame = train([cfg], [tmp_path / "run"], tmp_path / "state.pt", device="cpu")[0]
    assert frame["loss"].notna().all() and frame["step"].tolist() == [0, 5, 10]


def test_edge_values_that_work_stay_valid():
    """Only broken values are refused: large finite Zipf exponents and noise still sample fine."""
    RunConfig.from_dict({"task": {"alpha": 1e300, "beta": 1e300, "eps": 1e19}})
    RunConfig.from_dict({"task": {"T": 3}, "optim": {"eval_size": 3}})


@pytest.mark.parametrize(
    ("block", "message"),
    [
        # The cell T~1 would train T = 3 under the path that says T = 1.
        ({"axes": {"T": [1, 2], "task.T": [3]}}, r"axes\.task\.T: 'task\.T' is already the axis 'T'"),
        ({"axes": {"K": [8]}, "tie": {"L": "K", "task.L": "K"}}, r"'task\.L' is already tied"),
        (
            {"axes": {"K": [8]}, "set": {"T": 1, "task.T": 2}},
            r"set\.task\.T: 'task\.T' is already set as 'T'",
        ),
    ],
)
def test_a_grid_that_sets_one_field_twice_is_refused(block, message):
    with pytest.raises(ConfigError, match=message):
        check({"seeds": [0], "defaults": {}, "experiments": {"x": block}})


@pytest.mark.parametrize(
    "stop, message",
    [
        ({"acc": 0.0, "hold": 10}, "must be in (0, 1]"),
        ({"acc": 1.5, "hold": 10}, "optim.stop.acc"),
        ({"acc": 0.99, "hold": -1}, "optim.stop.hold"),
        ({"acc": 0.99}, "mapping {acc"),
        ({"acc": 0.99, "hold": 10, "patience": 3}, "mapping {acc"),
        ({"acc": 0.99, "hold": 10, "hold_decades": -0.1}, "optim.stop.hold_decades"),
        ({"hold": 10, "hold_decades": 0.1}, "mapping {acc"),
        (0.99, "mapping {acc"),
    ],
)
def test_bad_convergence_stops_are_refused(stop, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        RunConfig.from_dict({"optim": {"stop": stop}})


def test_stop_rule_needs_the_whole_hold_at_or_above_the_level():
    rule = StopRule(acc=0.9, hold=200)
    evals = [(0, 0.1), (100, 0.95), (200, 0.92), (300, 0.97)]
    assert not rule.reached(evals[:3])  # 100..200 holds but the hold reaches back to step 0
    assert rule.reached(evals)  # 100, 200, 300 all >= 0.9
    assert not rule.reached([*evals[:2], (200, 0.89), (300, 0.97)])
    assert StopRule(acc=0.9, hold=0).reached([(0, 0.1), (100, 0.9)])
    assert not rule.reached([])
    assert RunConfig.from_dict({"optim": {"stop": {"acc": 1, "hold": 5}}}).optim.stop == StopRule(1.0, 5)


def test_a_hold_in_decades_grows_with_the_step():
    rule = StopRule(acc=0.9, hold=100, hold_decades=0.5)  # at step s, held since min(s - 100, s / 3.16)
    evals = [(s, 0.1 if s <= 300 else 0.95) for s in range(0, 1400, 100)]
    reached = [s for s in range(100, 1400, 100) if rule.reached([e for e in evals if e[0] <= s])]
    assert reached[0] == 1300  # 1300 / 3.16 = 411 >= 400, the first step held; 1200 / 3.16 = 379
    assert StopRule(acc=0.9, hold=100).reached([e for e in evals if e[0] <= 500])


def test_a_zero_hold_in_decades_keeps_the_hash_of_a_rule_without_one():
    def cfg(stop):
        return RunConfig.from_dict({"optim": {"stop": stop}})

    plain = cfg({"acc": 0.99, "hold": 30000})
    assert cfg({"acc": 0.99, "hold": 30000, "hold_decades": 0}).hash() == plain.hash()
    assert "hold_decades" not in plain.to_dict()["optim"]["stop"]
    grown = cfg({"acc": 0.99, "hold": 30000, "hold_decades": 0.15})
    assert grown.hash() != plain.hash() and grown.to_dict()["optim"]["stop"]["hold_decades"] == 0.15
    assert RunConfig.from_dict(grown.to_dict()).hash() == grown.hash()
