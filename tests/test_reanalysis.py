"""Every published block that carries an archive is what the current analysis code computes from it."""

from pathlib import Path

import pytest

from icmeta.steps.reanalysis import ARCHIVE, differences

ROOT = Path(__file__).resolve().parents[1]
ARCHIVED = sorted(p.parent.name for p in (ROOT / "docs" / "results").glob(f"*/{ARCHIVE}"))


@pytest.mark.parametrize("block", ARCHIVED)
def test_a_published_block_is_what_its_archive_gives_today(block):
    assert differences(ROOT / "docs" / "results" / block) == []


def test_an_archive_gives_back_each_runs_summary_and_phases_exactly(tmp_path):
    """Two seeds of one small cell, trained for real: their archive is all that `reanalyse` reads."""
    import pandas as pd

    from conftest import small
    from icmeta.analysis.run import analyse_run
    from icmeta.steps.reanalysis import reanalyse, write_archive
    from icmeta.training.train import train

    configs = [small(seed=s, **{"optim.steps": 200, "task.T": 2}) for s in (0, 1)]
    dirs = [tmp_path / f"seed~{s}" for s in (0, 1)]
    train(configs, dirs, tmp_path / "state.pt")
    run = configs[0].to_dict()
    run.pop("seed")
    cell = {"path": "T~2", "axes": {"T": 2}, "run": run}
    metrics = [pd.read_csv(d / "metrics.csv") for d in dirs]
    history = pd.concat(
        [m.assign(experiment="b", cell="T~2", T=2, seed=s)[["experiment", "cell", "T", "seed", *m.columns]]
         for s, m in enumerate(metrics)],
        ignore_index=True,
    )  # fmt: skip
    # A metric no run measures (a layer's label focus where its query is masked from the labels) is
    # kept, empty, as in the runs' own files; one filled only in another cell would be dropped.
    history["label_focus_L2H1"] = float("nan")
    block = tmp_path / "b"
    block.mkdir()
    first = [p.read_bytes() for p in write_archive(block, history, [cell], [0, 1], {})]
    assert [p.read_bytes() for p in write_archive(block, history, [cell], [0, 1], {})] == first
    runs, phases = reanalyse(block)
    assert "final_label_focus_L2" in runs and runs["final_label_focus_L2"].isna().all()
    for seed, m in enumerate(metrics):
        m["label_focus_L2H1"] = float("nan")
        summary, found = analyse_run(m, {**run, "seed": seed}, {})
        got = runs[runs["seed"] == seed].iloc[0]
        assert got["final_acc"] == summary["final_acc"] and got["n_phases"] == summary["n_phases"]
        assert phases[phases["seed"] == seed]["plateau_acc"].tolist() == found["plateau_acc"].tolist()


def test_an_archive_takes_the_workflows_ordered_mappings_as_plain_data(tmp_path):
    """Snakemake hands its config over as ordered mappings, which YAML cannot write as they are."""
    from collections import OrderedDict

    import pandas as pd
    import yaml

    from icmeta.steps.reanalysis import ARCHIVE, write_archive

    cell = OrderedDict(path="T~2", axes=OrderedDict(T=2), run=OrderedDict(optim=OrderedDict(lr=0.1)))
    write_archive(
        tmp_path, pd.DataFrame({"step": [0]}), [cell], [0], OrderedDict(paper_rule=OrderedDict(dt=100))
    )
    saved = yaml.safe_load((tmp_path / ARCHIVE).read_text())
    assert saved == {
        "seeds": [0],
        "analysis": {"paper_rule": {"dt": 100}},
        "cells": [dict(cell, axes={"T": 2}, run={"optim": {"lr": 0.1}})],
    }
