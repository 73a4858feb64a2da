"""`snakemake publish` on a finished tiny grid: exactly the declared files, copies of what the workflow
made, thinned curves, a stamp, and the same bytes when published again."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

import figure_fixtures as fx
from icmeta.figures import NAMES
from icmeta.steps.publish import code_commit, thin_curves
from snakemake_runs import REPO, TINY, planned_jobs, snakemake, write_config

# The summary columns the per-cell table reads, for a runs table built by hand without phases.
SUMMARY = {
    "circuits_behaviour": "",
    "final_circuit_behaviour": "",
    "n_phases": 0,
    "n_transitions": 0,
    "ncc_prediction": 1 / 3,
    "scc_prediction": 0.8,
    "stopped": False,
}
SUMMARY |= {f"{c}_{k}": np.nan for c in ("ncc", "scc", "fcc") for k in ("acc", "onset")}
SUMMARY |= {"step_acc_0.95": -1}


def _summarised(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.assign(**{k: v for k, v in SUMMARY.items() if k not in runs.columns})


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_publish_copies_exactly_the_declared_files_and_reproduces_them(finished_grid, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(finished_grid.work, work, symlinks=True)
    plan = planned_jobs(work, finished_grid.config, "--cores", "1", "publish")
    assert plan == {"publish_grid": 1, "publish": 1}
    snakemake(work, finished_grid.config, "--cores", "1", "publish")  # after --configfile's values
    out = work / "docs" / "results" / "grid"
    published = _tree(out)
    figures = ["learning_curves", "final_accuracy", "phase_diagram", "phase_sequences"] + [
        f for f in yaml.safe_load(finished_grid.config.read_text())["experiments"]["grid"]["figures"]
    ]
    assert set(figures) <= set(NAMES)
    declared = {"PROVENANCE.yaml", "runs.csv", "phases.csv", "curves.csv", "runs.md", "detector_sweep.csv"}
    declared |= {"history.csv.gz", "archive.yaml", "phase_maps.csv.gz"}
    declared |= {f"figures/{name}.png" for name in figures}
    assert set(published) == declared
    assert list((work / "docs").iterdir()) == [work / "docs" / "results"]  # nothing else written
    tables, made = work / "results" / "grid" / "tables", work / "results" / "grid" / "figures"
    for name in ("runs.csv", "phases.csv"):
        assert published[name] == (tables / name).read_bytes()
    for name in figures:
        assert published[f"figures/{name}.png"] == (made / f"{name}.png").read_bytes()
    stamp = yaml.safe_load(published["PROVENANCE.yaml"])
    assert stamp["block"] == "grid" and stamp["runs"] == 8
    assert stamp["code_commit"] == code_commit(REPO) and stamp["code_commit"]
    for name, digest in stamp["files"].items():
        assert hashlib.sha256(published[name]).hexdigest() == digest
    assert set(stamp["files"]) == declared - {"PROVENANCE.yaml"}

    snakemake(work, finished_grid.config, "--forcerun", "publish_grid", "--cores", "1", "publish")
    assert _tree(out) == published  # byte for byte

    # Drawn again from the archive alone, without results/: the same bytes, every figure drawn.
    shutil.rmtree(work / "results")
    redraw_jobs = planned_jobs(work, finished_grid.config, "--cores", "1", "redraw")
    assert redraw_jobs == {"redraw_grid": 1, "redraw": 1}
    snakemake(work, finished_grid.config, "--cores", "1", "redraw")
    redrawn = yaml.safe_load((out / "redrawn.yaml").read_bytes())
    assert redrawn == {"drawn": sorted(figures), "kept": []}
    assert {k: v for k, v in _tree(out).items() if k != "redrawn.yaml"} == published
    assert planned_jobs(work, finished_grid.config, "--cores", "1", "redraw") == {}  # up to date

    # The archive alone gives the tables back, and a published table that the analysis does not give
    # is told apart.
    from icmeta.steps.reanalysis import differences, reanalyse

    assert differences(out) == []
    runs, _ = reanalyse(out, {"plateaus": {"chance_margin": 0.9}})  # every plateau counts as chance
    assert runs["n_phases"].eq(0).all() and pd.read_csv(out / "runs.csv")["n_phases"].gt(0).any()
    edited = pd.read_csv(out / "runs.csv")
    edited.loc[0, "final_acc"] += 0.01
    edited.to_csv(out / "runs.csv", index=False)
    assert differences(out) == ["runs.csv: column final_acc differs"]


def test_thinned_curves_keep_the_ends_and_a_few_points_per_decade():
    steps = np.arange(0, 100_001, 100)
    metrics = pd.DataFrame(
        {"T": 3, "seed": 0, "step": steps, "acc": steps / steps.max(), "loss": 1.0, "rla_acc": 0.5}
        | {f"bigram_L{layer}H1": 0.1 * layer for layer in (1, 2)}
    )
    thin = thin_curves(metrics, ["T"], per_decade=10)
    kept = thin["step"].tolist()
    assert kept[0] == 0 and kept[-1] == 100_000 and kept == sorted(set(kept))
    assert 25 <= len(kept) <= 32  # 3 decades from 100 at 10 per decade, and the ends
    assert np.allclose(thin["acc"], thin["step"] / 100_000)  # the rows kept, not resampled values
    assert thin["bigram_L2"].eq(0.2).all() and "bigram_L1H1" not in thin.columns


def test_runs_page_rows_come_from_the_tables():
    from icmeta.block.report import runs_markdown

    runs = pd.DataFrame(
        {"cell": "T~3", "T": [3, 3], "seed": [0, 1], "end_step": [150_000, 61_200], "stopped": [False, True]}
        | {"final_acc": [0.8591, 0.996], "final_rla_acc": [0.86, 0.55], "scc_prediction": [0.8763, 0.846]}
        | {"step_acc_0.3": [10_500, 9_800], "step_acc_0.6": [29_000, 20_100], "step_acc_0.95": [-1, 31_200]}
    )
    layer = {f"L{k}_{m}": [0.1 * k] * 3 for k in (1, 2) for m in ("bigram", "label_attn", "chunk")}
    phases = pd.DataFrame(
        {
            "cell": "T~3",
            "T": 3,
            "seed": [1, 0, 0],
            "phase": [1, 2, 1],
            "plateau_start": [9_000, 60_000, 10_500],
        }
        | {"plateau_end": [15_000, 99_900, 20_500], "plateau_acc": [0.34, 0.851, 0.334]}
        | {"circuit_behaviour": ["NCC", "SCC", "NCC"], "circuit_attention": ["NCC", "NCC", "NCC"]}
        | {"L1_pattern": "bigram", "L2_pattern": "bigram"}
        | {"L2_label_share": [0.5, 0.99, 0.48], "L2_top_pair": [1, 4, 2], "L2_pair_focus": [0.3, 0.45, 0.27]}
        | layer
    )
    page = runs_markdown(_summarised(runs), phases, ["T"], "grid")
    cell, *lines = [line for line in page.splitlines() if line.startswith("| 3 |")]
    # the cell's row: the two seeds pooled, one of them at 0.95 (the summaries name no phase)
    assert cell == "| 3 | no phase | 2/2 | – | 0.859–0.996 | 31.2k (1/2) |"
    assert lines[0] == (
        "| 3 | 0 | 150.0k | 0.859 | 0.860 | 0.876 | 10.5k | 29.0k | – | NCC 0.33 → SCC (Tab. 1: NCC) 0.85"
        " | – | – |"
    )
    assert (
        lines[1]
        == "| 3 | 1 | 61.2k (stopped) | 0.996 | 0.550 | 0.846 | 9.8k | 20.1k | 31.2k | NCC 0.34 | – | – |"
    )
    # the phase rows follow the runs, each run's phases in order; a layer without per-pair columns shows –
    assert [line.split(" | ")[2] for line in lines[2:]] == ["1", "2", "1"]
    assert lines[3].endswith(
        "| 60.0k–99.9k | 0.851 | SCC | NCC | bigram: B 0.10, LA 0.10, CE 0.10; labels –, pair – (–) |"
        " bigram: B 0.20, LA 0.20, CE 0.20; labels 0.99, pair 4 (0.45) |"
    )


def test_runs_page_gives_the_final_circuit_and_the_steps_in_each_regime(tmp_path):
    """A restricted block's page: the phases' behavioural labels beside Tab. 1's where they differ, the
    final circuit with the pairs it reads, and the steps per regime in the order the run entered them."""
    from icmeta.block.report import runs_markdown

    runs = pd.DataFrame(
        {"cell": "circuit~fcc", "circuit": ["fcc"], "seed": [0], "end_step": [1000], "final_acc": [0.9]}
    )
    runs = runs.assign(final_rla_acc=0.5, **{f"step_acc_{x}": -1 for x in ("0.3", "0.6", "0.95")})
    regimes = {"steps_label_prior": 300, "first_label_prior": 0, "steps_NCC": 200, "first_NCC": 300}
    regimes |= {"steps_FCC": 500, "first_FCC": 500, "steps_SCC": 0, "first_SCC": -1}
    runs = runs.assign(final_circuit_behaviour="FCC[1]", **regimes)
    layer = {f"L1_{m}": 0.5 for m in ("bigram", "label_attn", "chunk")} | {"L1_pattern": "bigram"}
    phases = pd.DataFrame({"cell": "circuit~fcc", "circuit": "fcc", "seed": 0, "phase": [1, 2]})
    phases = phases.assign(plateau_start=[10, 500])
    phases = phases.assign(
        plateau_end=[400, 1000],
        plateau_acc=[0.33, 0.9],
        circuit_behaviour=["", "FCC[1]"],  # the first unread: its plateau had no full evaluation
        circuit_attention=["NCC", "FCC1"],
        **layer,
    )
    phases.to_csv(tmp_path / "phases.csv", index=False)  # an empty label comes back as NaN
    phases = pd.read_csv(tmp_path / "phases.csv")
    lines = [
        line
        for line in runs_markdown(_summarised(runs), phases, ["circuit"], "r").splitlines()
        if line.startswith("| fcc")
    ]
    assert lines[1].endswith(
        "| – (Tab. 1: NCC) 0.33 → FCC[1] 0.90 | FCC[1] | label prior 300, NCC 200, FCC 500 |"
    )
    assert [line.split(" | ")[5:7] for line in lines[2:]] == [["–", "NCC"], ["FCC[1]", "FCC1"]]


def test_runs_page_gives_each_cell_the_sequence_most_seeds_share_and_what_the_others_did():
    """The fixture's cells (T, ε) = (2, 0.5) and (4, 0.5): seeds' sequences (NSF, NF, N) and (NSF, NSF,
    NS); plateaus 1/T + 0.01 c, 0.6 + 0.05 c, 0.8 + 0.02 c for cell c, seed offsets +0.03, -0.01,
    -0.02; the last evaluation 0.04 above the third plateau."""
    from icmeta.block.report import cells_table

    lines = cells_table(fx.experiment_tables(["T", "eps"])["runs"], ["T", "eps"]).splitlines()
    assert (
        lines[0] == "| T | eps | phases of most seeds | seeds | the other seeds | final acc | acc ≥ 0.95 at |"
    )
    rows = {tuple(line.split(" | ")[:2]): line for line in lines[2:]}
    assert len(rows) == 4
    # a tie of three different sequences goes to seed 0's, whose levels are then its own
    assert (
        rows[("| 2", "0.5")]
        == "| 2 | 0.5 | NCC 0.54 → SCC 0.68 → FCC 0.85 | 1/3 | NCC → FCC (1); NCC (1) | 0.840–0.890 | never |"
    )
    # seeds 0 and 1 share NCC → SCC → FCC: the levels are their medians (offset +0.01)
    assert (
        rows[("| 4", "0.5")]
        == "| 4 | 0.5 | NCC 0.29 → SCC 0.76 → FCC 0.87 | 2/3 | NCC → SCC (1) | 0.880–0.930 | never |"
    )


def test_claims_target_measures_the_published_blocks(finished_grid, tmp_path):
    from icmeta.block.claims import CLAIMS

    work = tmp_path / "work"
    shutil.copytree(finished_grid.work, work, symlinks=True)
    tables = work / "results" / "grid" / "tables"
    published = work / "docs" / "results"

    def publish(block: str, *names: str) -> None:  # the tiny grid stands in for each block
        (published / block).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(tables / name, published / block / name)

    def claim_rows() -> list[str]:
        snakemake(work, finished_grid.config, "--cores", "1", "claims")
        lines = (published / "claims.md").read_text().splitlines()
        return lines[2 : lines.index("")]

    for block in ("main", "phase_diagram", "classes_K"):
        publish(block, "runs.csv", "phases.csv")
        (published / block / "PROVENANCE.yaml").write_text(f"block: {block}\n")
    publish("heads", "runs.csv")  # publishing stopped before phases.csv and PROVENANCE.yaml
    rows = claim_rows()
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == [c.paper for c in CLAIMS]
    # The T = 1 claim reads its own block, which is not published here.
    assert "block `single_task` not published" in rows[1] and "**not tested**" in rows[1]
    heads = [claim.block for claim in CLAIMS].index("heads")
    assert "block `heads` not published" in rows[heads]
    assert rows[heads].endswith("| **not tested** | – | – |")
    assert planned_jobs(work, finished_grid.config, "claims") == {}
    # Its publishing finishes: the claims re-run. The grid has no heads axis, and the claim says so.
    publish("heads", "phases.csv")
    (published / "heads" / "PROVENANCE.yaml").write_text("block: heads\n")
    assert planned_jobs(work, finished_grid.config, "claims") == {"claims": 1}
    assert "| phases per run: 1 head –; 2 heads – |" in claim_rows()[heads]
    # Editing a published table re-runs them: its content, not its date, is tracked, also where
    # Snakemake keeps no record of the last claims (a fresh clone with claims.md in it).
    shutil.rmtree(work / ".snakemake" / "metadata")
    assert planned_jobs(work, finished_grid.config, "claims") == {}
    runs = published / "main" / "runs.csv"
    runs.write_text(runs.read_text() + "\n")
    assert planned_jobs(work, finished_grid.config, "claims") == {"claims": 1}


def test_thinned_curves_keep_a_full_evaluation_per_decade_bin_when_they_are_sparse():
    steps = np.arange(0, 100_001, 100)
    full = steps % 1000 == 0  # optim.full_eval_every = 1000
    metrics = pd.DataFrame(
        {"T": 3, "seed": 0, "step": steps, "acc": 0.5, "loss": 1.0, "rla_acc": np.where(full, 0.4, np.nan)}
    )
    thin = thin_curves(metrics, ["T"], per_decade=10)
    bins = np.floor(np.log10(np.maximum(steps, 1)) * 10 + 1e-9)
    with_full = set(bins[full])
    kept_full = thin.dropna(subset=["rla_acc"])["step"].to_numpy()
    assert set(np.floor(np.log10(np.maximum(kept_full, 1)) * 10 + 1e-9)) == with_full
    assert len(kept_full) == len(with_full)  # one per bin: the first full evaluation in it
    assert thin["step"].iloc[-1] == 100_000 and not np.isnan(thin["rla_acc"].iloc[-1])


@pytest.mark.workflow
def test_a_block_whose_axes_are_named_like_measurements_keeps_both_apart(tmp_path):
    """Axes `circuit` (model.circuit) and `steps` (optim.steps) beside the measured circuit labels and
    the step each run ended at, through training, the tables, every figure, the runs page and the
    claims' reading of a block."""
    from icmeta.block.claims import Runs

    grid = yaml.safe_load(TINY.read_text())["experiments"]["grid"]
    block = {"axes": {"circuit": ["none", "ncc"], "steps": [150, 300]}, "figures": grid["figures"]}
    config = write_config(tmp_path / "c.yaml", seeds=[0], experiments={"named": block})
    work = tmp_path / "work"
    snakemake(work, config, "--cores", "2", "publish")
    out = work / "docs" / "results" / "named"
    runs, phases = pd.read_csv(out / "runs.csv"), pd.read_csv(out / "phases.csv")
    assert runs[["circuit", "steps"]].values.tolist() == [
        ["none", 150],
        ["none", 300],
        ["ncc", 150],
        ["ncc", 300],
    ]
    assert runs["end_step"].tolist() == [150, 300, 150, 300]  # where each run ended: its own cap
    assert runs["model_circuit"].tolist() == runs["circuit"].tolist()
    assert set(phases["circuit"]) <= {"none", "ncc"} and "circuit_behaviour" in phases.columns
    for _, run in runs.iterrows():
        mine = Runs(runs, phases).phases_of(run)
        assert (mine["cell"] == run["cell"]).all() and mine["phase"].is_monotonic_increasing
    page = (out / "runs.md").read_text()
    assert "| ncc | 150 | 0 | 150 |" in page and "| none | 300 | 0 | 300 |" in page
    drawn = {p.stem for p in (out / "figures").glob("*.png")}
    assert drawn == {
        "learning_curves",
        "final_accuracy",
        "phase_diagram",
        "phase_sequences",
        *grid["figures"],
    }
