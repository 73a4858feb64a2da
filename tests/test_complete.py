"""A finished run's files are read only when complete: a cut or emptied file is named, never read
as a shorter run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from icmeta.analysis.complete import read_attention, read_metrics, read_summary
from icmeta.errors import DamagedRunFile
from icmeta.settings.config import RunConfig
from icmeta.steps.summary import summarise_run

RUN = RunConfig.from_dict({"optim": {"steps": 300, "eval_every": 50}})


def _metrics(tmp_path, steps=range(0, 301, 50), acc=None):
    steps = list(steps)
    acc = acc if acc is not None else np.linspace(0.1, 0.9, len(steps))
    frame = pd.DataFrame({"step": steps, "acc": acc, "loss": 1 - np.asarray(acc), "rla_acc": 0.5})
    path = tmp_path / "metrics.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_whole_history_is_read_as_written(tmp_path):
    assert read_metrics(_metrics(tmp_path), RUN)["step"].tolist() == list(range(0, 301, 50))


def test_a_history_cut_to_its_first_rows_is_damaged_unless_its_stop_explains_the_end(tmp_path):
    cut = _metrics(tmp_path, range(0, 151, 50))
    with pytest.raises(
        DamagedRunFile, match=r"metrics.csv is damaged: it ends at step 150, the run trains to 300"
    ):
        read_metrics(cut, RUN)
    stopped = RUN.replace(**{"optim.stop": {"acc": 0.9, "hold": 50}})
    with pytest.raises(DamagedRunFile, match="does not end it there"):
        read_metrics(cut, stopped)  # accuracy 0.1 ... 0.9 never held 0.9 for 50 steps
    held = _metrics(tmp_path, range(0, 151, 50), acc=[0.1, 0.5, 0.95, 0.96])
    assert len(read_metrics(held, stopped)) == 4  # a stop the rule explains: a finished run


def test_a_history_cut_mid_line_or_with_a_gap_or_empty_is_damaged(tmp_path):
    path = _metrics(tmp_path)
    text = path.read_text()
    path.write_text(text[: len(text) - 12])  # the last row loses its secondary columns
    with pytest.raises(DamagedRunFile, match="its last line is cut short"):
        read_metrics(path, RUN)
    path.write_text(",\n".join(text.rsplit(",0.5\n", 1)))  # the last line without a value step 0 has
    with pytest.raises(DamagedRunFile, match="its row of step 300 is incomplete"):
        read_metrics(path, RUN)
    gap = _metrics(tmp_path, [0, 50, 150, 200, 250, 300])
    with pytest.raises(DamagedRunFile, match="not every 50 steps"):
        read_metrics(gap, RUN)
    path.write_text("")
    with pytest.raises(DamagedRunFile, match="cannot be read as a table"):
        read_metrics(path, RUN)
    with pytest.raises(DamagedRunFile, match="does not exist"):
        read_metrics(tmp_path / "none.csv", RUN)


def test_a_summary_is_one_row_with_its_measurements(tmp_path):
    path = tmp_path / "summary.csv"
    pd.DataFrame([{"end_step": 300, "final_acc": 0.9, "final_loss": 0.1, "n_phases": 2}]).to_csv(
        path, index=False
    )
    assert read_summary(path)["end_step"].tolist() == [300]
    pd.DataFrame([{"end_step": 300, "final_acc": 0.9}]).to_csv(path, index=False)
    with pytest.raises(DamagedRunFile, match="lacks final_loss, n_phases"):
        read_summary(path)


def _attention(tmp_path, steps=range(0, 301, 50)):
    path = tmp_path / "attention.npz"
    steps = np.asarray(list(steps))
    np.savez_compressed(path, steps=steps, maps=np.full((len(steps), 2, 1, 9, 9), 1 / 9, np.float32))
    return path


def test_attention_maps_are_one_per_evaluation_and_a_cut_file_is_damaged(tmp_path):
    steps = np.arange(0, 301, 50)
    found, maps = read_attention(_attention(tmp_path), steps)
    assert found.tolist() == steps.tolist() and maps.shape == (7, 2, 1, 9, 9)
    with pytest.raises(DamagedRunFile, match="its 4 map steps are not the run's 7 evaluations"):
        read_attention(_attention(tmp_path, range(0, 151, 50)), steps)
    path = _attention(tmp_path)
    path.write_bytes(path.read_bytes()[:300])  # a copy cut short
    with pytest.raises(
        DamagedRunFile, match=r"attention.npz is damaged: it cannot be read as the run's maps"
    ):
        read_attention(path, steps)
    with pytest.raises(DamagedRunFile, match="does not exist"):
        read_attention(tmp_path / "none.npz", steps)


@pytest.mark.parametrize("damaged", ["metrics.csv", "attention.npz"])
def test_summarising_a_damaged_run_removes_the_file_so_the_workflow_makes_it_again(tmp_path, damaged):
    metrics = _metrics(tmp_path, range(0, 151, 50) if damaged == "metrics.csv" else range(0, 301, 50))
    attention = _attention(tmp_path)
    if damaged == "attention.npz":
        attention.write_bytes(attention.read_bytes()[:300])
    outs = [tmp_path / name for name in ("summary.csv", "phases.csv", "maps.csv")]
    with pytest.raises(
        DamagedRunFile, match="it was removed, so the next `snakemake` writes the run's files again"
    ):
        summarise_run(metrics, attention, RUN.to_dict(), 0, {}, *outs)
    assert not (tmp_path / damaged).exists() and not any(p.exists() for p in outs)
