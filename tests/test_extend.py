"""A run's step cap is not its identity: a longer cap continues a finished run, a finished state
writes lost run files again, and a damaged or unwritable state is named with the fix."""

import errno
import logging

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import small
from icmeta.errors import ConfigError, DamagedRunFile
from icmeta.training import state as training_state
from icmeta.training.train import Trainer, train

# full_eval_every does not divide the first cap, so its last row measured sets a longer run does not
# measure there; 2 checkpoints per decade put none at step 200.
BASE = {"optim.eval_every": 20, "optim.full_eval_every": 60, "optim.checkpoints_per_decade": 2}


def _runs(tmp_path, name, steps, seeds=(0, 1)):
    configs = [small(seed=s, **BASE, **{"optim.steps": steps}) for s in seeds]
    dirs = [tmp_path / name / f"seed~{s}" for s in seeds]
    return configs, dirs, tmp_path / name / "state.pt"


def _assert_same_runs(a, b):
    pd.testing.assert_frame_equal(
        pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv"), check_exact=True
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(a / "train_steps.csv.gz"), pd.read_csv(b / "train_steps.csv.gz"), check_exact=True
    )
    for key in ("steps", "maps"):
        assert np.array_equal(np.load(a / "attention.npz")[key], np.load(b / "attention.npz")[key])
    names = sorted(p.name for p in (a / "checkpoints").iterdir())
    assert names == sorted(p.name for p in (b / "checkpoints").iterdir())
    last_a = torch.load(a / "checkpoints" / names[-1], weights_only=False)
    last_b = torch.load(b / "checkpoints" / names[-1], weights_only=False)
    assert last_a["config_hash"] == last_b["config_hash"]
    assert all(torch.equal(last_a["params"][k], last_b["params"][k]) for k in last_b["params"])


def test_the_step_cap_is_not_part_of_a_runs_identity():
    assert small(**{"optim.steps": 200}).hash() == small(**{"optim.steps": 400}).hash()
    assert small(**{"optim.steps": 200}).hash() != small(**{"optim.steps": 200, "optim.lr": 0.02}).hash()
    assert small(**{"optim.steps": 200}).to_dict()["optim"]["steps"] == 200  # still recorded
    # A cap off the evaluation grid would end a run on an evaluation a longer run does not make.
    with pytest.raises(ConfigError, match=r"must be a multiple of optim\.eval_every = 20"):
        small(**{"optim.steps": 210})


def test_a_raised_cap_continues_a_finished_run_bit_for_bit(tmp_path, caplog):
    configs, dirs, state = _runs(tmp_path, "extended", 200)
    train(configs, dirs, state)
    assert "step_0000200.pt" in {p.name for p in (dirs[0] / "checkpoints").iterdir()}
    configs, _, _ = _runs(tmp_path, "extended", 400)
    with caplog.at_level(logging.INFO, logger="icmeta.training.train"):
        train(configs, dirs, state)
    assert f"extending from {state}: step 200 to the new cap 400" in caplog.text

    straight, straight_dirs, straight_state = _runs(tmp_path, "straight", 400)
    train(straight, straight_dirs, straight_state)
    for a, b in zip(dirs, straight_dirs, strict=True):
        _assert_same_runs(a, b)
    row = pd.read_csv(dirs[0] / "metrics.csv").set_index("step")
    assert np.isnan(row.loc[200, "rla_acc"]) and not np.isnan(row.loc[240, "rla_acc"])


def test_a_finished_state_writes_lost_run_files_again_without_training(tmp_path, caplog, monkeypatch):
    configs, dirs, state = _runs(tmp_path, "run", 200, seeds=(0,))
    train(configs, dirs, state)
    kept = tmp_path / "kept"
    dirs[0].rename(kept)

    def no_training(self):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(Trainer, "advance", no_training)
    with caplog.at_level(logging.INFO, logger="icmeta.training.train"):
        train(configs, dirs, state)
    assert f"resumed from {state} at step 200" in caplog.text
    _assert_same_runs(dirs[0], kept)


def test_a_lowered_cap_is_refused_and_keeps_the_trained_state(tmp_path):
    """A cap below a saved state is refused with the fix, and the state is left as it was: a cap
    lowered by mistake must not cost the steps trained so far. Deleting the state trains anew."""
    configs, dirs, state = _runs(tmp_path, "run", 400, seeds=(0,))
    train(configs, dirs, state)
    saved = state.read_bytes()
    configs, _, _ = _runs(tmp_path, "run", 200, seeds=(0,))
    with pytest.raises(RuntimeError, match=r"at step 400, past the step cap 200.*Raise optim\.steps"):
        train(configs, dirs, state)
    assert state.read_bytes() == saved
    state.unlink()
    state.with_name(f"{state.name}.prev").unlink(missing_ok=True)
    train(configs, dirs, state)
    straight, straight_dirs, straight_state = _runs(tmp_path, "straight", 200, seeds=(0,))
    train(straight, straight_dirs, straight_state)
    _assert_same_runs(dirs[0], straight_dirs[0])


def _saved_twice(tmp_path):
    configs, dirs, state = _runs(tmp_path, "run", 200, seeds=(0,))
    trainer = Trainer(configs, dirs, state)
    trainer.record_eval()
    trainer.save_state()
    for _ in range(20):
        trainer.advance()
    trainer.record_eval()
    trainer.save_state()
    return configs, dirs, state


def test_a_damaged_state_resumes_from_the_one_before_it(tmp_path, caplog):
    configs, dirs, state = _saved_twice(tmp_path)
    assert torch.load(training_state.previous(state), weights_only=False)["step"] == 0
    state.write_bytes(state.read_bytes()[:500])  # a copy cut short
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(configs, dirs, state)
        assert trainer.load_state() and trainer.step == 0
    assert f"training state {state}" in caplog.text and "damaged" in caplog.text


def test_a_damaged_state_with_none_before_it_is_named_with_the_fix(tmp_path):
    configs, dirs, state = _saved_twice(tmp_path)
    for path in (state, training_state.previous(state)):
        path.write_bytes(b"not a state")
    with pytest.raises(
        DamagedRunFile, match=r"Delete .*state\.pt and .*state\.pt\.prev to train these runs again"
    ):
        Trainer(configs, dirs, state).run()


def test_a_full_disk_while_saving_is_named_and_keeps_the_last_state(tmp_path, monkeypatch):
    configs, dirs, state = _saved_twice(tmp_path)
    before = state.read_bytes()

    class FullDisk:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("icmeta.io.open", FullDisk, raising=False)
    trainer = Trainer(configs, dirs, state)
    trainer.load_state()
    with pytest.raises(
        training_state.DiskFull, match=r"no space left on the device while saving .* at step 20"
    ):
        trainer.save_state()
    assert state.read_bytes() == before
    assert not list(state.parent.glob(".*.tmp")) and not state.with_name("state.pt.new").exists()
