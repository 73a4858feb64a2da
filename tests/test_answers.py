"""`icmeta answers`: a finished run's checkpoints loaded back, measured on the run's own held-out set."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from conftest import small
from icmeta.analysis.answers import answer_profile, checkpoint_steps, prior_accuracy
from icmeta.cli import main
from icmeta.training.train import train


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("answers")
    train([small(**{"optim.lr": 0.3})], [root / "run"], root / "state.pt")
    return root / "run"


@pytest.fixture(scope="module")
def profile(run) -> pd.DataFrame:
    return answer_profile(run)


def test_loaded_checkpoints_answer_as_the_run_measured_them_in_training(run, profile):
    """Checkpoints loaded back have the accuracy metrics.csv recorded at their step."""
    assert profile["step"].tolist() == checkpoint_steps(run) and profile["step"].iloc[-1] == 60
    metrics = pd.read_csv(run / "metrics.csv").set_index("step")
    for step in (0, 60):
        row = profile.set_index("step").loc[step]
        assert row["acc"] == pytest.approx(metrics.loc[step, "acc"], abs=1e-9)
        assert row["rand_label_acc"] == pytest.approx(metrics.loc[step, "rand_label_acc"], abs=1e-9)


def test_a_network_cannot_beat_the_most_frequent_labels_it_confines_itself_to(profile):
    """k distinct answers are right at most on the queries whose label is among them."""
    assert (profile["acc"] <= profile["prior_acc"] + 1e-12).all()
    assert ((profile["answers"] == 1) == (profile["top_answer_share"] == 1.0)).all()
    assert profile["acc"].iloc[-1] > profile["acc"].iloc[0]  # it trained


def test_prior_accuracy_is_the_share_of_the_most_frequent_labels():
    targets = torch.tensor([2, 0, 0, 1, 0, 2])
    assert prior_accuracy(targets, 1) == pytest.approx(3 / 6)
    assert prior_accuracy(targets, 2) == pytest.approx(5 / 6)
    assert prior_accuracy(targets, 9) == pytest.approx(1.0)


def test_a_run_with_another_configuration_recorded_is_refused(run, tmp_path):
    """config.yaml whose fields no longer hash to what the run recorded: the checkpoints would be read
    into a network of another meaning."""
    copy = tmp_path / "run"
    copy.mkdir()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["task"]["eps"] = 0.5
    (copy / "config.yaml").write_text(yaml.safe_dump(saved))
    with pytest.raises(RuntimeError, match="retrain it"):
        answer_profile(copy)


def test_the_command_prints_the_table_and_names_a_missing_run(run, tmp_path, capsys):
    assert main(["answers", str(run), "--steps", "0", "60"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["step", "acc", "answers", "top_answer_share", "prior_acc", "rand_label_acc"]
    assert [line.split()[0] for line in lines[1:]] == ["0", "60"]
    assert main(["answers", str(tmp_path / "nowhere")]) == 2
    assert "config.yaml is missing" in capsys.readouterr().err
    assert main(["answers", str(run), "--steps", "7"]) == 2
    assert "no checkpoint at step 7; its checkpoints are at 0, " in capsys.readouterr().err


def test_an_empty_config_or_a_cut_checkpoint_is_named_as_damaged(run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "config.yaml").write_text("")
    assert main(["answers", str(copy)]) == 2
    assert (
        f"{copy / 'config.yaml'} is damaged: it holds no run configuration with its hash"
        in capsys.readouterr().err
    )
    shutil.copy(run / "config.yaml", copy / "config.yaml")
    checkpoint = sorted((copy / "checkpoints").glob("*.pt"))[-1]
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    assert main(["answers", str(copy)]) == 2
    assert f"{checkpoint} is damaged: it cannot be read" in capsys.readouterr().err
