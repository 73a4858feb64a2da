"""Drawing a published block again from its archive: the same bytes as its publish from the runs,
figures the archive cannot feed kept and named, and nothing written when the phases have moved."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import small
from icmeta.errors import DamagedRunFile
from icmeta.figures import draw, tables_of
from icmeta.steps.publish import PROVENANCE, RunsStamp, publish_block
from icmeta.steps.reanalysis import MAPS
from icmeta.steps.redraw import redraw_block
from icmeta.steps.summary import summarise_run
from icmeta.steps.tables import aggregate
from icmeta.training.train import train

TITLE = "a tiny block"
FIGURES = ("learning_curves", "final_accuracy", "attention_maps")
SEEDS = (0, 1)


@pytest.fixture(scope="module")
def runs_made(tmp_path_factory) -> tuple[Path, dict]:
    """Two seeds of one cell trained for real, summarised and stacked as the workflow does, and each
    figure drawn from the stacked tables: what `publish` copies."""
    root = tmp_path_factory.mktemp("redraw")
    configs = [small(seed=s, **{"optim.steps": 200, "task.T": 2}) for s in SEEDS]
    dirs = [root / "T~2" / f"seed~{s}" for s in SEEDS]
    train(configs, dirs, root / "state.pt")
    run = configs[0].to_dict()
    run.pop("seed")
    cells = [{"path": "T~2", "axes": {"T": 2}, "run": run}]
    for seed, d in zip(SEEDS, dirs, strict=True):
        outs = (d / "summary.csv", d / "phases.csv", d / "maps.csv.gz")
        summarise_run(d / "metrics.csv", d / "attention.npz", run, seed, {}, *outs)
    tables = root / "tables"
    paths = {t: tables / f"{t}.csv" for t in ("runs", "phases")} | {
        "metrics": tables / "metrics.csv.gz",
        "phase_maps": tables / "phase_maps.csv.gz",
    }
    aggregate(
        "b",
        cells,
        list(SEEDS),
        *([d / f for d in dirs] for f in ("metrics.csv", "summary.csv", "phases.csv", "maps.csv.gz")),
        paths["metrics"],
        paths["runs"],
        paths["phases"],
        paths["phase_maps"],
    )
    for name in FIGURES:
        out = root / "figures" / name
        given = {t: paths[t] for t in tables_of(name)}
        draw(name, given, ["T"], TITLE, f"{out}.png", f"{out}.pdf", f"{out}.csv")
    return root, {"cells": cells, "paths": paths}


def _publish(runs_made, out: Path, maps: bool = True) -> None:
    root, made = runs_made
    paths = made["paths"]
    publish_block(
        "b",
        ["T"],
        [root / "figures" / f"{name}.png" for name in FIGURES],
        paths["runs"],
        paths["phases"],
        paths["metrics"],
        paths["phase_maps"] if maps else None,
        RunsStamp("0123abcd", len(SEEDS)),
        {},
        root,
        out,
        made["cells"],
        list(SEEDS),
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_redraw_gives_back_the_published_block_byte_for_byte(runs_made, tmp_path):
    block = tmp_path / "b"
    _publish(runs_made, block)
    published = _tree(block)
    assert MAPS in published
    # A figure damaged after its publish is drawn again, not copied back.
    (block / "figures" / "final_accuracy.png").write_bytes(b"not a figure")
    (block / "runs.csv").write_text("damaged\n")
    redraw_block(block, TITLE, runs_made[0], tmp_path / "redrawn.yaml")
    assert _tree(block) == published
    assert yaml.safe_load((tmp_path / "redrawn.yaml").read_text()) == {"drawn": sorted(FIGURES), "kept": []}


def test_figures_whose_maps_were_not_archived_are_kept_and_named(runs_made, tmp_path):
    block = tmp_path / "b"
    _publish(runs_made, block, maps=False)
    assert not (block / MAPS).exists()
    before = (block / "figures" / "attention_maps.png").read_bytes()
    (block / "figures" / "learning_curves.png").write_bytes(b"old drawing")
    redraw_block(block, TITLE, runs_made[0], tmp_path / "redrawn.yaml")
    stamp = yaml.safe_load((block / PROVENANCE).read_text())
    assert stamp["kept_figures"] == ["figures/attention_maps.png"]
    assert (block / "figures" / "attention_maps.png").read_bytes() == before
    assert (block / "figures" / "learning_curves.png").read_bytes() != b"old drawing"
    for name, digest in stamp["files"].items():
        assert hashlib.sha256((block / name).read_bytes()).hexdigest() == digest
    assert MAPS not in stamp["files"] and not (block / MAPS).exists()
    assert yaml.safe_load((tmp_path / "redrawn.yaml").read_text())["kept"] == ["figures/attention_maps.png"]


@pytest.mark.parametrize(
    ("maps", "map_figure"),
    [(True, True), (False, True), (True, False)],
    ids=["maps archived", "map figures kept", "maps archived without a map figure"],
)
def test_phases_that_moved_stop_the_redraw_before_anything_is_written(runs_made, tmp_path, maps, map_figure):
    """The maps are means over the published phases, drawn from the archive or kept as drawn; other
    phases would mislabel them, and an archive that kept them beside other phases would mislabel a
    map figure drawn from it later."""
    block = tmp_path / "b"
    _publish(runs_made, block, maps=maps)
    if not map_figure:
        (block / "figures" / "attention_maps.png").unlink()
    phases = pd.read_csv(block / "phases.csv")
    moved = {"experiment": "b", "cell": "T~2", "T": 2, "seed": 0, "phase": 1, "plateau_start": 100}
    phases = pd.concat([phases, pd.DataFrame([moved | {"plateau_end": 200}])], ignore_index=True)
    phases.to_csv(block / "phases.csv", index=False)
    before = _tree(block)
    with pytest.raises(DamagedRunFile, match="other phases"):
        redraw_block(block, TITLE, runs_made[0], tmp_path / "redrawn.yaml")
    assert _tree(block) == before and not (tmp_path / "redrawn.yaml").exists()


def test_a_redraw_that_fails_half_way_leaves_the_published_block_as_it_was(runs_made, tmp_path, monkeypatch):
    from icmeta.steps import publish

    block = tmp_path / "b"
    _publish(runs_made, block)
    (block / "figures" / "learning_curves.png").write_bytes(b"old drawing")
    before = _tree(block)

    def broken(*args, **kwargs):
        raise RuntimeError("the detector sweep failed")

    monkeypatch.setattr(publish, "sweep_phases", broken)
    with pytest.raises(RuntimeError, match="sweep failed"):
        redraw_block(block, TITLE, runs_made[0], tmp_path / "redrawn.yaml")
    assert _tree(block) == before and not (tmp_path / "redrawn.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"], "no staging folder left behind"


def test_a_block_whose_publish_did_not_finish_is_named(runs_made, tmp_path):
    block = tmp_path / "b"
    _publish(runs_made, block)
    (block / PROVENANCE).unlink()
    with pytest.raises(DamagedRunFile, match="publish did not finish"):
        redraw_block(block, TITLE, runs_made[0], tmp_path / "redrawn.yaml")
