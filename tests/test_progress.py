"""`icmeta progress` reads runs still training from their saved states, without touching them;
`icmeta hours` reads how long the jobs ran from their logs."""

import math

import torch

from conftest import small
from icmeta.cli import main
from icmeta.steps import ATTEMPT_HEADER
from icmeta.task.data import save_eval_sets
from icmeta.training.train import Trainer


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
            f"  member {e}: acc {last['acc']:.3f}  RLA {full['rla_acc']:.3f}  patterns "  # no eval sets
        )
        assert len(out[1 + e].split("patterns ")[1].split(" / ")) == 2  # one pattern per layer
    assert (cell / ".train_state-abc.pt").read_bytes() == before  # read, not changed
    assert not (cell / "seed~0").exists()

    # a cut state beside it is named in one line, and the whole one is still reported
    cut = tmp_path / "results" / "block" / "T~4" / ".train_state-def.pt"
    cut.parent.mkdir()
    cut.write_bytes(before[: len(before) // 2])
    assert main(["progress", str(tmp_path / "results")]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == f"{cell}  step 60"
    assert captured.err.strip().splitlines() == [
        f"icmeta: {cut} cannot be read (RuntimeError): a running job rewrites it at its next save; a "
        "stopped one cannot resume from it, so remove it to retrain that job from step 0"
    ]


def test_progress_names_each_member_by_its_run_also_in_a_job_of_several_cells(tmp_path, capsys):
    """A grouped job keeps one state under its first cell for runs across the grid; each member is
    named by the run whose evaluation sets carry its configuration hash, wherever it lies."""
    block = tmp_path / "results" / "block"
    cells = {"T~1": 1, "T~3": 3}
    cfgs, runs = [], []
    for name, T in cells.items():
        for s in (0, 1):
            cfgs.append(small(seed=s, **{"task.T": T, "optim.eval_size": 16}))
            runs.append(block / name / f"seed~{s}")
    for cfg, run in zip(cfgs[:3], runs[:3], strict=True):  # the last run's sets are not there
        save_eval_sets(cfg, run / "eval_sets.pt")
    same = tmp_path / "results" / "other" / "T~3" / "seed~0"  # another block, one configuration
    save_eval_sets(cfgs[2], same / "eval_sets.pt")
    trainer = Trainer(cfgs, runs, block / "T~1" / ".train_state-abc.pt")
    trainer.record_eval()
    trainer.save_state()

    assert main(["progress", str(tmp_path / "results")]) == 0
    names = [line.split(":")[0].strip() for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == ["T~1/seed~0", "T~1/seed~1", "T~3/seed~0", "member 3"]


def test_progress_without_runs_in_progress_says_so(tmp_path, capsys):
    assert main(["progress", str(tmp_path)]) == 1
    assert "no training in progress" in capsys.readouterr().err


def test_hours_sum_each_attempts_own_stretch_and_skip_the_gap_between(tmp_path, capsys):
    """A job stopped at 10:05 and resumed the next day counts 5 + 2 minutes, not a day."""
    log = tmp_path / "logs" / "grid" / "T~1" / "eps~0.1.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        f"{ATTEMPT_HEADER}1: started 2026-01-01 10:00:00 +0000 =====\n"
        "2026-01-01 10:00:00,100 icmeta.training.train INFO training path: CPU\n"
        "a traceback line without a timestamp\n"
        "2026-01-01 10:05:00,900 icmeta.training.train INFO step 100/200\n"
        f"{ATTEMPT_HEADER}2: started 2026-01-02 09:00:00 +0000 =====\n"
        "2026-01-02 09:00:00,000 icmeta.training.train INFO resumed at step 100\n"
        "2026-01-02 09:02:00,000 icmeta.training.train INFO step 200/200\n"
    )
    other = tmp_path / "logs" / "main" / "T~3.log"
    other.parent.mkdir(parents=True)
    other.write_text("2026-01-01 10:00:00,0 x\n2026-01-01 11:30:00,0 y\n")  # no headers: one attempt

    assert main(["hours", str(tmp_path / "logs")]) == 0
    out = capsys.readouterr().out.splitlines()
    by_name = {line.split()[0]: line.split() for line in out if line.strip()}
    assert by_name["grid/T~1/eps~0.1.log"][1:3] == ["0.12", "h"]  # 7 min
    assert by_name["grid/T~1/eps~0.1.log"][3] == "(2"
    assert by_name["grid"][1] == "0.12" and by_name["main"][1] == "1.50"
    assert by_name["all"][1] == "1.62"


def test_hours_without_a_log_directory_names_it(tmp_path, capsys):
    assert main(["hours", str(tmp_path / "missing")]) == 2
    assert "no log directory" in capsys.readouterr().err
