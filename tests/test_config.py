import pytest
import yaml

from icmeta.config import ConfigError, RunConfig, check_ensemble


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
