import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import small
from icmeta.settings.config import RunConfig
from icmeta.training.device import resolve_device
from icmeta.training.evaluation import TRAINING_COLUMNS, metric_columns
from icmeta.training.train import Trainer, checkpoint_steps, train


def test_outputs_and_columns(tmp_path):
    cfg = small()
    frames = train([cfg], [tmp_path / "run"], tmp_path / "state.pt")
    run = tmp_path / "run"
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(metrics.columns) == metric_columns(cfg)
    assert metrics["step"].tolist() == [0, 20, 40, 60]
    assert np.allclose(metrics["acc"], frames[0]["acc"])
    steps = pd.read_csv(run / "train_steps.csv.gz")
    assert steps["step"].tolist() == list(range(1, 61))
    assert metrics["train_loss"].iloc[1] == pytest.approx(steps["loss"].iloc[:20].mean(), rel=1e-5)
    att = np.load(run / "attention.npz")
    assert att["maps"].shape == (4, 2, 1, 9, 9) and att["steps"].tolist() == [0, 20, 40, 60]
    assert np.allclose(att["maps"].sum(-1), 1, atol=1e-5)
    assert metrics["bigram_L1H1"].iloc[-1] == pytest.approx(att["maps"][-1, 0, 0, 8, 8], abs=1e-6)
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts[0] == "step_0000000.pt" and ckpts[-1] == "step_0000060.pt"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["hash"] == cfg.hash()
    assert torch.load(tmp_path / "state.pt", weights_only=False)["finished"]
    assert not list(run.glob(".*.tmp"))


def test_an_evaluation_fills_exactly_the_listed_columns(tmp_path):
    """A metric listed in icmeta.training.evaluation but not computed (or computed but not listed)
    fails here."""
    configs = [small(**{"task.T": 2}), small(seed=1, **{"task.T": 4})]  # per-task columns differ
    trainer = Trainer(configs, [tmp_path / "a", tmp_path / "b"], tmp_path / "state.pt", device="cpu")
    rows, maps = trainer.evaluate()
    for cfg, row in zip(configs, rows, strict=True):
        assert set(row) == set(metric_columns(cfg)) - set(TRAINING_COLUMNS)
    assert maps.shape == (2, 2, 1, 9, 9)


def test_log_spaced_checkpoints_do_not_move_with_the_cap():
    steps = sorted(checkpoint_steps(200_000, 9))
    assert steps[0] == 0 and steps[-1] == 200_000 and 40 <= len(steps) <= 52
    ratios = np.diff(np.log(steps[10:-1]))
    assert ratios.std() < 0.1 * ratios.mean() + 1e-9
    shorter = checkpoint_steps(20_000, 9)
    assert shorter - {20_000} == {s for s in steps if s <= 20_000} - {20_000}
    assert checkpoint_steps(500, 0) == {0, 500}


def test_same_seed_same_metrics(tmp_path):
    a = train([small()], [tmp_path / "a"], tmp_path / "sa.pt")[0]
    b = train([small()], [tmp_path / "b"], tmp_path / "sb.pt")[0]
    pd.testing.assert_frame_equal(a, b)
    c = train([small(seed=1)], [tmp_path / "c"], tmp_path / "sc.pt")[0]
    assert not np.allclose(a["loss"], c["loss"])


def test_ensemble_member_matches_solo_run(tmp_path):
    steps = {"optim.steps": 300, "optim.eval_every": 100}
    solo = small(seed=4, **steps, **{"task.T": 2})
    others = [small(seed=s, **steps, **{"task.eps": 0.5, "task.B": 2, "task.p_B": 0.3}) for s in (1, 2)]
    alone = train([solo], [tmp_path / "solo"], tmp_path / "s1.pt")[0]
    together = train([others[0], solo, others[1]], [tmp_path / f"e{i}" for i in range(3)], tmp_path / "s2.pt")
    cols = [c for c in alone.columns if c != "step"]
    got, want = together[1][cols].to_numpy(), alone[cols].to_numpy()
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) < 1e-5
    assert "acc_task3" not in together[1].columns and "acc_task3" in together[0].columns


def _cli(tmp_path, out, seeds=("0", "1")):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {"optim": {"steps": 400, "eval_every": 20, "eval_size": 128, "checkpoints_per_decade": 3}}
        )
    )
    return [
        sys.executable,
        "-m",
        "icmeta.cli",
        "train",
        "--config",
        str(cfg),
        "--out",
        str(out),
        "--seeds",
        *seeds,
        "--state-every",
        "0",
        "--threads",
        "1",
    ]


def _wait_for_state(path, proc, min_step):
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, "training finished before it could be interrupted"
        if path.exists():
            try:
                if torch.load(path, weights_only=False)["step"] >= min_step:
                    return
            except Exception:
                pass
        time.sleep(0.05)
    raise AssertionError("no training state appeared")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_killed_training_resumes_to_identical_metrics(tmp_path, how):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ref = tmp_path / "ref"
    subprocess.run(_cli(tmp_path, ref), check=True, env=env, capture_output=True)

    out = tmp_path / "killed"
    proc = subprocess.Popen(_cli(tmp_path, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _wait_for_state(out / "train_state.pt", proc, 100)
    proc.send_signal(getattr(signal, how))
    proc.wait(timeout=60)
    assert proc.returncode == (75 if how == "SIGTERM" else -signal.SIGKILL)
    assert not (out / "seed~0" / "metrics.csv").exists()  # nothing that looks finished
    step_at_stop = torch.load(out / "train_state.pt", weights_only=False)["step"]
    assert 100 <= step_at_stop < 400

    done = subprocess.run(_cli(tmp_path, out), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resumed from {out / 'train_state.pt'} at step {step_at_stop}" in done.stderr
    for seed in ("seed~0", "seed~1"):
        pd.testing.assert_frame_equal(
            pd.read_csv(out / seed / "metrics.csv"), pd.read_csv(ref / seed / "metrics.csv")
        )
        pd.testing.assert_frame_equal(
            pd.read_csv(out / seed / "train_steps.csv.gz"), pd.read_csv(ref / seed / "train_steps.csv.gz")
        )
        assert np.array_equal(
            np.load(out / seed / "attention.npz")["maps"], np.load(ref / seed / "attention.npz")["maps"]
        )
        # Checkpoints written before the interruption survived it (they wait beside the state).
        names = sorted(p.name for p in (out / seed / "checkpoints").glob("*.pt"))
        assert names == sorted(p.name for p in (ref / seed / "checkpoints").glob("*.pt"))
        early_out = torch.load(out / seed / "checkpoints" / names[1])["params"]
        early_ref = torch.load(ref / seed / "checkpoints" / names[1])["params"]
        assert all(torch.equal(early_out[k], early_ref[k]) for k in early_ref)


def test_state_of_other_configuration_is_refused(tmp_path):
    trainer = Trainer([small()], [tmp_path / "a"], tmp_path / "state.pt")
    trainer.save_state()
    other = Trainer([small(seed=1)], [tmp_path / "a"], tmp_path / "state.pt")
    with pytest.raises(RuntimeError, match="delete it"):
        other.run()


def test_cuda_request_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_cli_reports_bad_config(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"task": {"N": 4, "B": 3}}))
    res = subprocess.run(
        [sys.executable, "-m", "icmeta.cli", "train", "--config", str(cfg), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "task.B" in res.stderr


@pytest.mark.slow
def test_short_training_really_learns(tmp_path):
    cfg = RunConfig().replace(
        **{
            "task.K": 32,
            "optim.steps": 3000,
            "optim.lr": 0.1,
            "optim.eval_every": 500,
            "optim.eval_size": 512,
            "optim.checkpoints_per_decade": 0,
        }
    )
    metrics = train([cfg], [tmp_path / "run"], tmp_path / "state.pt")[0]
    assert metrics["acc"].iloc[0] < 0.1
    assert metrics["acc"].iloc[-1] > 0.5  # well above 1/T = 0.33


def _expected_stop(metrics: pd.DataFrame, acc: float, hold: int, decades: float = 0.0) -> int | None:
    """The first evaluation step s whose accuracy and that of every evaluation back to the last one at
    or before min(s - hold, s / 10**decades) are >= acc; None where the run has no such step."""
    steps, accs = metrics["step"].tolist(), metrics["acc"].tolist()
    for s in steps:
        since = min(s - hold, s / 10**decades)
        if since < steps[0]:
            continue
        first = max(t for t in steps if t <= since)
        if min(a for t, a in zip(steps, accs, strict=True) if first <= t <= s) >= acc:
            return s
    return None


def _solo_runs(tmp_path: Path, base: dict) -> dict[int, pd.DataFrame]:
    solo = {}
    for seed in (0, 1):
        train([small(seed=seed, **base)], [tmp_path / f"solo{seed}"], tmp_path / f"s{seed}.pt")
        solo[seed] = pd.read_csv(tmp_path / f"solo{seed}" / "metrics.csv")
    return solo


STOP_BASE = {
    "optim.steps": 400,
    "optim.eval_every": 20,
    "optim.eval_size": 128,
    "optim.lr": 0.05,
    "task.T": 1,
}


def _check_stopped_at(tmp_path: Path, rule: dict, solo: dict, expected: dict) -> None:
    """An ensemble of seeds 0 and 1 under `rule` ends each member at its expected step (the cap where
    None) with the solo run's numbers up to there."""
    cfgs = [small(seed=seed, **STOP_BASE, **rule) for seed in (0, 1)]
    train(cfgs, [tmp_path / "ens0", tmp_path / "ens1"], tmp_path / "ens.pt")
    for seed in (0, 1):
        run = tmp_path / f"ens{seed}"
        end = expected[seed] if expected[seed] is not None else 400
        got = pd.read_csv(run / "metrics.csv")
        want = solo[seed][solo[seed]["step"] <= end].reset_index(drop=True)
        # Ends at the stop; before it, the numbers of the solo run (to float rounding, as any ensemble)
        assert got["step"].tolist() == want["step"].tolist()
        assert np.allclose(got.to_numpy(), want.to_numpy(), atol=1e-5, equal_nan=True)
        assert pd.read_csv(run / "train_steps.csv.gz")["step"].iloc[-1] == end
        assert np.load(run / "attention.npz")["steps"][-1] == end
        last = sorted((run / "checkpoints").iterdir())[-1]
        assert last.name == f"step_{end:07d}.pt"
        assert torch.load(last, weights_only=False)["step"] == end


def test_convergence_stop_ends_each_member_at_its_own_step_and_leaves_the_others_alone(tmp_path):
    solo = _solo_runs(tmp_path, STOP_BASE)
    hold = 40
    # The highest level seed 0 holds for 40 steps before the cap, so that it stops well before it.
    levels = sorted(set(solo[0]["acc"]), reverse=True)
    level = next(a for a in levels if (_expected_stop(solo[0], a, hold) or 400) < 400)
    expected = {seed: _expected_stop(solo[seed], level, hold) for seed in (0, 1)}
    assert expected[0] is not None and expected[0] < 400
    _check_stopped_at(tmp_path, {"optim.stop": {"acc": level, "hold": hold}}, solo, expected)


def test_a_hold_in_decades_of_log_step_stops_where_the_step_hold_alone_would_not(tmp_path):
    solo = _solo_runs(tmp_path, STOP_BASE)
    hold, decades = 20, 0.3  # at step s, the level is held since s / 2
    # A level seed 0 meets by both rules before the cap, and later by the one in decades.
    level = next(
        a
        for a in sorted(set(solo[0]["acc"]), reverse=True)
        if (_expected_stop(solo[0], a, hold, decades) or 400) < 400
        and _expected_stop(solo[0], a, hold) < _expected_stop(solo[0], a, hold, decades)
    )
    expected = {seed: _expected_stop(solo[seed], level, hold, decades) for seed in (0, 1)}
    rule = {"optim.stop": {"acc": level, "hold": hold, "hold_decades": decades}}
    _check_stopped_at(tmp_path, rule, solo, expected)


def test_a_stop_that_never_fires_trains_bit_for_bit_like_no_stop(tmp_path):
    plain = small()
    never = small(**{"optim.stop": {"acc": 1.0, "hold": 10**6}})
    assert plain.hash() != never.hash() and "stop" not in plain.to_dict()["optim"]
    train([plain], [tmp_path / "plain"], tmp_path / "a.pt")
    train([never], [tmp_path / "never"], tmp_path / "b.pt")
    a, b = (pd.read_csv(tmp_path / d / "metrics.csv") for d in ("plain", "never"))
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_a_stopped_member_stays_frozen_through_a_resume(tmp_path):
    base = {"optim.steps": 200, "optim.eval_every": 20, "optim.eval_size": 128, "optim.lr": 0.05}
    any_accuracy = {"optim.stop": {"acc": 1e-9, "hold": 40}}  # seed 0 holds it; seed 1 has no stop
    cfgs = [small(seed=0, **base, **any_accuracy), small(seed=1, **base)]
    dirs = [tmp_path / "a", tmp_path / "b"]
    trainer = Trainer(cfgs, dirs, tmp_path / "state.pt")
    trainer.record_eval()
    while trainer.step < 60:
        trainer.advance()
        if trainer.step % 20 == 0:
            trainer.record_eval()
    assert trainer.history.stopped_at == [40, None]
    frozen = trainer.model.member_state(0)
    trainer.save_state()
    resumed = Trainer(cfgs, dirs, tmp_path / "state.pt")
    resumed.run()
    assert resumed.running.tolist() == [0.0, 1.0]
    assert all(torch.equal(v, resumed.model.member_state(0)[k]) for k, v in frozen.items())
    assert pd.read_csv(dirs[0] / "metrics.csv")["step"].tolist() == [0, 20, 40]
    assert pd.read_csv(dirs[1] / "metrics.csv")["step"].iloc[-1] == 200


def test_id_only_evaluations_leave_the_secondary_columns_empty_and_change_nothing_else(tmp_path):
    from icmeta.training.evaluation import secondary_columns

    base = {"optim.steps": 100, "task.T": 2}
    every = small(**base)
    sparse = small(**base, **{"optim.full_eval_every": 40})
    assert "full_eval_every" not in every.to_dict()["optim"] and every.hash() != sparse.hash()
    train([every], [tmp_path / "every"], tmp_path / "a.pt")
    train([sparse], [tmp_path / "sparse"], tmp_path / "b.pt")
    a, b = (pd.read_csv(tmp_path / d / "metrics.csv") for d in ("every", "sparse"))
    secondary = secondary_columns(every)
    assert {"acc_task2", "broken_pair4_acc", "only_pair1_acc", "all_pairs_broken_acc"} <= set(secondary)
    full = b["step"].isin([0, 40, 80, 100])  # multiples of 40, and the end
    assert b.loc[full, secondary].notna().all().all() and b.loc[~full, secondary].isna().all().all()
    assert b.loc[~full, "step"].tolist() == [20, 60]
    rest = [c for c in a.columns if c not in secondary]
    pd.testing.assert_frame_equal(a[rest], b[rest], check_exact=True)  # training and the id set alike
    pd.testing.assert_frame_equal(a.loc[full, secondary], b.loc[full, secondary], check_exact=True)


def test_a_run_stopped_at_an_id_only_evaluation_ends_on_a_complete_row(tmp_path):
    stop = {"optim.stop": {"acc": 1e-9, "hold": 20}}  # met at step 20, an id-only evaluation
    plain = small(**stop)
    sparse = small(**stop, **{"optim.full_eval_every": 40})
    train([plain], [tmp_path / "plain"], tmp_path / "a.pt")
    train([sparse], [tmp_path / "sparse"], tmp_path / "b.pt")
    a, b = (pd.read_csv(tmp_path / d / "metrics.csv") for d in ("plain", "sparse"))
    assert b["step"].tolist() == [0, 20] and b.notna().iloc[-1].drop(list(TRAINING_COLUMNS)).all()
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_full_evaluations_must_fall_on_evaluation_steps():
    from icmeta.errors import ConfigError

    with pytest.raises(ConfigError, match=r"multiple of optim\.eval_every = 20"):
        small(**{"optim.full_eval_every": 30})
