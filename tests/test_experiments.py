import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import small
from icmeta.analysis.phases import paper_transitions
from icmeta.analysis.run import run_summary
from icmeta.errors import ConfigError
from icmeta.settings.experiments import cells, check, format_value, run_configs, train_groups
from icmeta.task.data import TaskSampler, load_eval_sets, make_eval_sets, save_eval_sets
from icmeta.training.train import train


def _config(**blocks):
    return {"seeds": [0, 1], "defaults": {"task": {"K": 16, "L": 8}}, "experiments": blocks}


def test_cells_are_the_grid_product_in_written_order():
    config = _config(g={"axes": {"T": [1, 2], "eps": [0, 0.5]}, "set": {"optim.steps": 700}})
    grid = cells(config, "g")
    assert [c.path for c in grid] == ["T~1/eps~0.0", "T~1/eps~0.5", "T~2/eps~0.0", "T~2/eps~0.5"]
    assert grid[1].axis_values == {"T": 1, "eps": 0.5}
    runs = run_configs(config, grid[3])
    assert [r.seed for r in runs] == [0, 1]
    assert runs[0].task.T == 2 and runs[0].task.eps == 0.5 and runs[0].task.K == 16
    assert runs[0].optim.steps == 700


def test_tied_fields_follow_their_axis_without_entering_the_path():
    config = _config(g={"axes": {"K": [8, 16]}, "tie": {"L": "K"}, "set": {"T": 2}})
    grid = cells(config, "g")
    assert [c.path for c in grid] == ["K~8", "K~16"]
    assert grid[1].axis_values == {"K": 16}
    assert [(r.task.K, r.task.L) for c in grid for r in run_configs(config, c)[:1]] == [(8, 8), (16, 16)]


def test_the_clamp_axis_gives_each_cell_its_named_interventions():
    config = _config(g={"axes": {"clamp": ["none", "no_l2"]}})
    config["clamps"] = {"no_l2": [{"kind": "ablate", "layer": 2, "end": 500}]}
    grid = cells(config, "g")
    assert [c.path for c in grid] == ["clamp~none", "clamp~no_l2"]
    plain, clamped = (run_configs(config, c)[0] for c in grid)
    assert plain.interventions == () and "interventions" not in plain.to_dict()
    assert clamped.interventions[0].kind == "ablate" and clamped.interventions[0].end == 500
    config["experiments"]["g"]["axes"]["clamp"] = ["typo"]
    with pytest.raises(ConfigError, match="no clamp named 'typo'"):
        check(config)
    config["clamps"]["bad"] = [{"kind": "ablate", "layer": 9}]
    config["experiments"]["g"]["axes"]["clamp"] = ["bad"]
    with pytest.raises(ConfigError, match=r"cell clamp~bad: interventions\[0\]\.layer = 9"):
        check(config)


def _paths(groups):
    return [[c.path for c in g] for g in groups]


def test_cells_that_can_share_a_model_are_packed_in_grid_order():
    config = _config(g={"axes": {"T": [1, 2, 3], "eps": [0, 0.5]}})
    assert _paths(train_groups(config, "g", 4)) == [
        ["T~1/eps~0.0", "T~1/eps~0.5", "T~2/eps~0.0", "T~2/eps~0.5"],
        ["T~3/eps~0.0", "T~3/eps~0.5"],
    ]
    assert _paths(train_groups(config, "g", 1)) == [[c.path] for c in cells(config, "g")]


def test_cells_of_different_shapes_never_share_a_group():
    # K changes the embedding's shape; eps is a data value. Each group holds one K only.
    config = _config(g={"axes": {"K": [8, 16], "eps": [0, 0.5, 1.0]}, "set": {"T": 2}})
    assert _paths(train_groups(config, "g", 4)) == [
        ["K~8/eps~0.0", "K~8/eps~0.5", "K~8/eps~1.0"],
        ["K~16/eps~0.0", "K~16/eps~0.5", "K~16/eps~1.0"],
    ]
    heads = _config(g={"axes": {"heads": [1, 2]}})
    assert _paths(train_groups(heads, "g", 8)) == [["heads~1"], ["heads~2"]]


def test_a_group_size_below_one_is_refused():
    with pytest.raises(ConfigError, match="cells_per_job"):
        train_groups(_config(g={"axes": {"T": [1]}}), "g", 0)


def test_a_run_table_column_named_like_the_runs_identity_is_refused(tmp_path):
    """A measured column named like an axis would be overwritten or renamed in the block's tables;
    the steps name measurements apart from config fields, and the stacking says so if one does not."""
    from icmeta.steps.tables import with_run_columns

    phases = pd.DataFrame({"phase": [1], "circuit": ["NCC"]})
    cells_ = [{"path": "circuit~scc", "axes": {"circuit": "scc"}}]
    with pytest.raises(ValueError, match=r"named like the run's identity \(circuit\)"):
        with_run_columns([phases], cells_, [0], "circuit_restricted")
    kept = with_run_columns([phases.rename(columns={"circuit": "circuit_attention"})], cells_, [0], "r")
    assert kept.columns.tolist() == ["experiment", "cell", "circuit", "seed", "phase", "circuit_attention"]


def test_values_format_stably_for_paths():
    assert [format_value(v) for v in (0.1, 1e-05, 3, True, "scc")] == ["0.1", "1e-05", "3", "true", "scc"]


@pytest.mark.parametrize(
    ("block", "fragment"),
    [
        ({"axes": {"colour": [1]}}, "unknown field 'colour'"),
        ({"axes": {"seed": [1]}}, "seeds are not an axis"),
        ({"axes": {"eps": [0.1, 0.10]}}, "repeated value"),
        ({"axes": {"positions": ["a/b"]}}, "cannot be part of a path"),
        ({"axes": {"B": [3]}}, "cell B~3: config field 'task.B'"),
        ({"axes": {}}, "at least one axis"),
        ({"axes": {"K": [8]}, "tie": {"L": "N"}}, "tie.L: 'N' is not an axis"),
        ({"axes": {"K": [8], "L": [8]}, "tie": {"L": "K"}}, "already an axis"),
    ],
)
def test_bad_blocks_name_the_key(block, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        check(_config(g=block))


def test_an_evaluation_cadence_the_paper_rule_cannot_read_is_refused():
    config = _config(g={"axes": {"T": [2]}, "set": {"eval_every": 250}})
    config["analysis"] = {"paper_rule": {"dt": 100, "threshold": 0.025}}
    with pytest.raises(ConfigError, match=r"paper_rule.dt = 100 is not a multiple of optim.eval_every = 250"):
        check(config)
    config["analysis"]["paper_rule"]["dt"] = 500
    check(config)
    config["experiments"]["g"]["set"]["eval_every"] = 50  # a finer cadence the rule subsamples
    config["analysis"]["paper_rule"]["dt"] = 100
    check(config)


def test_inactive_blocks_are_not_checked():
    check(_config(g={"axes": {"T": [2]}}, off={"active": False, "axes": {"B": [3]}}))


def test_only_runs_the_named_blocks_whatever_their_active_flag():
    from icmeta.settings.experiments import active_experiments

    config = _config(a={"axes": {"T": [2]}}, b={"active": False, "axes": {"T": [1]}}, c={"axes": {"T": [3]}})
    assert active_experiments(config) == ["a", "c"]
    assert active_experiments({**config, "only": ["b", "a"]}) == ["a", "b"]
    with pytest.raises(ConfigError, match="only: no experiment block named zz"):
        active_experiments({**config, "only": ["zz"]})


def test_only_also_decides_whether_the_probe_runs():
    from icmeta.settings.experiments import active_experiments, probe_active

    config = {**_config(a={"axes": {"T": [2]}}), "probe": {"active": True}}
    assert probe_active(config)
    assert not probe_active({**config, "only": ["a"]})
    assert probe_active({**config, "only": ["a", "probe"]})
    assert active_experiments({**config, "only": ["a", "probe"]}) == ["a"]
    assert not probe_active({**config, "probe": {"active": False}})


def _metrics(acc, every=100):
    steps = np.arange(len(acc)) * every
    return pd.DataFrame({"step": steps, "acc": acc})


def test_paper_rule_finds_each_jump_once():
    acc = [0.05] * 10 + [0.2, 0.34] + [0.34] * 10 + [0.5, 0.75] + [0.75] * 5 + [1.0] * 3
    assert paper_transitions(_metrics(acc)) == [1000, 2200, 2900]


def test_paper_rule_misses_slow_rises_and_ignores_finer_evals():
    slow = np.linspace(0.0, 1.0, 101)  # 0.01 per 100 steps: below the 0.025 threshold
    assert paper_transitions(_metrics(slow)) == []
    fine = _metrics(np.repeat([0.1, 0.5], 20), every=10)  # jump between steps 190 and 200
    assert paper_transitions(fine) == [200]


def test_run_summary_reads_final_values_and_circuits():
    m = _metrics([0.1, 0.5, 0.95]).assign(loss=[2.0, 1.0, 0.1], rla_acc=[0.1, 0.3, 0.6])
    m = m.assign(bigram_L1H1=[0.9, 0.5, 0.2], bigram_L1H2=[0.9, 0.5, 0.4], label_attn_L2H1=0.7)
    s = run_summary(m, paper_transitions(m))
    assert (
        s["final_acc"] == 0.95 and s["step_acc_0.9"] == 200 and s["n_transitions"] == 1
    )  # one jump spanning two evals
    assert s["final_bigram_L1"] == pytest.approx(0.3) and s["final_label_attn_L2"] == 0.7
    assert s["step_acc_0.5"] == 100


def test_steps_near_a_level_count_each_evaluation_until_the_next():
    from icmeta.analysis.run import steps_near

    m = pd.DataFrame({"step": [0, 100, 300, 400, 1000], "acc": [0.05, 0.33, 0.36, 0.5, 0.34]})
    assert steps_near(m, 1 / 3, 0.05) == 200 + 100  # 100..300 and 300..400; the last has no length
    assert steps_near(m, 0.9, 0.05) == 0


def test_saved_eval_sets_train_exactly_like_internal_ones(tmp_path):
    cfgs = [small(seed=3), small(seed=5, **{"task.eps": 0.5})]
    for i, c in enumerate(cfgs):
        save_eval_sets(c, tmp_path / f"e{i}.pt")
    sets = load_eval_sets([tmp_path / "e0.pt", tmp_path / "e1.pt"], cfgs, torch.device("cpu"))
    direct = make_eval_sets(TaskSampler(cfgs, torch.device("cpu")), cfgs[0].optim.eval_size)
    for name in direct:
        assert torch.equal(sets[name].items, direct[name].items)
        assert torch.equal(sets[name].labels, direct[name].labels)
    a = train(cfgs, [tmp_path / "a0", tmp_path / "a1"], tmp_path / "sa.pt", eval_sets=sets)
    b = train(cfgs, [tmp_path / "b0", tmp_path / "b1"], tmp_path / "sb.pt")
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)


def test_eval_sets_of_other_settings_are_refused(tmp_path):
    save_eval_sets(small(), tmp_path / "e.pt")
    with pytest.raises(RuntimeError, match="regenerate"):
        load_eval_sets([tmp_path / "e.pt"], [small(**{"task.eps": 0.3})], torch.device("cpu"))


def test_checkpoints_appear_only_when_the_run_finishes(tmp_path):
    cfg = small()
    train([cfg], [tmp_path / "run"], tmp_path / "state.pt")
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["hash"] == cfg.hash()
    published = sorted((tmp_path / "run" / "checkpoints").glob("step_*.pt"))
    assert len(published) >= 3
    # kept staged too, as the same files, for a longer cap to continue from
    staged = sorted((tmp_path / "state.pt.checkpoints" / "member0").glob("step_*.pt"))
    assert [p.name for p in staged] == [p.name for p in published]
    assert all(a.stat().st_ino == b.stat().st_ino for a, b in zip(staged, published, strict=True))
