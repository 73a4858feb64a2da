"""`icmeta progress` reads runs still training from their saved states, without touching them."""

import math

import torch

from conftest import small
from icmeta.cli import main
from icmeta.train import Trainer


def test_progress_reports_the_saved_step_and_each_members_latest_numbers(tmp_path, capsys):
    cfgs = [small(seed=s, **{"optim.steps": 200, "optim.full_eval_every": 40}) for s in (0, 1)]
    cell = tmp_path / "results" / "block" / "T~3"
    trainer = Trainer(cfgs, [cell / "seed~0", cell / "seed~1"], cell / ".train_state-abc.pt")
    trainer.record_eval()
    for _ in range(3):
        for _ in range(20):
            trainer.advance()
        trainer.record_eval()  # at 20, 40, 60: only 40 evaluates the RLA set
    trainer.save_state()
    before = (cell / ".train_state-abc.pt").read_bytes()

    assert main(["progress", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{cell}  step 60"
    rows = torch.load(cell / ".train_state-abc.pt", weights_only=False)["rows"]
    for e in (0, 1):
        last, full = rows[e][-1], rows[e][-2]
        assert math.isnan(last["rla_acc"]) and full["step"] == 40
        assert out[1 + e].startswith(
            f"  member {e}: acc {last['acc']:.3f}  RLA {full['rla_acc']:.3f}  patterns "
        )
        assert len(out[1 + e].split("patterns ")[1].split(" / ")) == 2  # one pattern per layer
    assert (cell / ".train_state-abc.pt").read_bytes() == before  # read, not changed
    assert not (cell / "seed~0").exists()


def test_progress_without_runs_in_progress_says_so(tmp_path, capsys):
    assert main(["progress", str(tmp_path)]) == 1
    assert "no training in progress" in capsys.readouterr().err
