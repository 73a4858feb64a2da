"""Every figure draws a non-empty image, and writes the table it plotted, from small fixture tables."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from icmeta.figures import NAMES, describe, draw, tables_of

STEPS = np.arange(0, 3001, 100)


def _run_tables(T, eps, seed, heads, rng):
    """One run's rows of each experiment table: a curve with a plateau at 1/T, then a rise."""
    ident = {"T": T, "eps": eps, "seed": seed}
    acc = np.where(STEPS < 1000, 1 / T, np.minimum(1.0, 1 / T + (STEPS - 1000) / 1500)) + rng.normal(
        0, 0.01, len(STEPS)
    )
    metrics = pd.DataFrame({**ident, "step": STEPS, "acc": acc, "loss": 3 * (1 - acc), "rla_acc": 0.8 * acc})
    for t in range(1, T + 1):
        metrics[f"acc_task{t}"] = np.clip(acc + rng.normal(0, 0.05, len(STEPS)), 0, 1)
    for name in ("bigram", "label_attn", "chunk"):
        for layer in (1, 2):
            for head in range(1, heads + 1):
                metrics[f"{name}_L{layer}H{head}"] = rng.uniform(0, 1, len(STEPS))
    phases = pd.DataFrame(
        {**ident, "phase": [1, 2], "start_step": [100, 1000], "plateau_start": [300, 2500],
         "plateau_end": [1000, 3000], "plateau_acc": [1 / T, 1.0], "circuit": ["NCC", "FCC"]}
    )  # fmt: skip
    run = {**ident, "final_acc": acc[-1], "late_acc": acc[-3:].mean(), "n_phases": 2,
           "n_transitions": 3, "transition_steps": "1000;1200;1500", "paper_dt": 100, "step_acc_0.9": 2400,
           "paper_threshold": 0.025, "ncc_prediction": 1 / T, "scc_prediction": 0.8, "step_acc_0.5": 1200,
           "circuit_prediction": 1 / T if eps == 0.0 else np.nan, "ncc_dwell": 700 * seed,
           "clamp_switches": "1500" if seed == 0 else np.nan}  # fmt: skip
    for c in ("ncc", "scc", "fcc", "phase1", "phase2"):
        seen = rng.random() < 0.7
        run[f"{c}_onset"] = float(rng.integers(100, 10**5)) if seen else np.nan
        run[f"{c}_acc"] = 1 / T + rng.normal(0, 0.02) if seen else np.nan
    S = 9
    maps = pd.DataFrame(
        [
            {
                **ident,
                "when": when,
                "layer": layer,
                "head": head,
                "row": r,
                "col": c,
                "weight": 1.0 / (r + 1) if c <= r else 0.0,
            }
            for when in ("phase 1 (NCC)", "final step")
            for layer in (1, 2)
            for head in range(1, heads + 1)
            for r in range(S)
            for c in range(S)
        ]
    )
    return {"metrics": metrics, "phases": phases, "runs": pd.DataFrame([run]), "phase_maps": maps}


def _write_tables(path: Path, axes, heads=1) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    parts = [
        _run_tables(T, eps, seed, heads, rng)
        for T in (1, 3)
        for eps in ((0.0, 0.5) if "eps" in axes else (0.0,))
        for seed in (0, 1)
    ]
    out = {}
    for name in ("metrics", "phases", "runs", "phase_maps"):
        table = pd.concat([p[name] for p in parts], ignore_index=True)
        if "eps" not in axes:
            table = table.drop(columns="eps")
        out[name] = path / f"{name}.csv"
        table.to_csv(out[name], index=False)
    return out


@pytest.mark.parametrize("figure", NAMES)
@pytest.mark.parametrize("axes", [("T", "eps"), ("T",)])
def test_figure_draws_from_fixture_tables(tmp_path, figure, axes):
    tables = _write_tables(tmp_path, axes)
    out = {ext: tmp_path / f"{figure}.{ext}" for ext in ("png", "pdf", "csv")}
    if figure == "phase_diagram" and len(axes) == 1:
        with pytest.raises(ValueError, match="two axes"):
            draw(figure, tables, axes, "t", out["png"], out["pdf"], out["csv"])
        return
    draw(figure, tables, axes, "fixture", out["png"], out["pdf"], out["csv"])
    image = np.asarray(Image.open(out["png"]).convert("L"))
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert image.std() > 10, "the image is blank"
    assert out["pdf"].read_bytes().startswith(b"%PDF")
    assert len(pd.read_csv(out["csv"])) > 0


def test_per_head_figures_get_a_row_per_head(tmp_path):
    tables = _write_tables(tmp_path, ("T",), heads=2)
    draw("circuit_metrics", tables, ("T",), "t", tmp_path / "a.png", tmp_path / "a.pdf", tmp_path / "a.csv")
    plotted = pd.read_csv(tmp_path / "a.csv")
    assert sorted(plotted["head"].unique()) == [1, 2]
    assert set(plotted["metric"]) == {"bigram", "label_attn", "chunk"}


def test_plateau_table_compares_measured_with_predicted(tmp_path):
    from icmeta.figures.plateau_predictions import plateau_table

    runs = pd.DataFrame(
        {
            "K": [8, 8, 16],
            "seed": [0, 1, 0],
            "late_acc": [0.78, 0.80, 0.62],
            "circuit_prediction": [0.786, 0.786, 0.633],
            "scc_prediction": [0.7, 0.7, 0.6],
        }
    )
    table = plateau_table(runs, ["K"])
    assert table["measured"].tolist() == pytest.approx([0.79, 0.62])
    assert table["gap"].tolist() == pytest.approx([0.79 - 0.786, 0.62 - 0.633])
    assert table["seeds"].tolist() == [2, 1]


def test_onset_table_measures_shifts_against_the_reference_setting():
    from icmeta.figures.onset_shifts import onset_table, onsets_long

    runs = pd.DataFrame(
        {
            "clamp": ["none", "none", "none", "a", "a", "a"],
            "seed": [0, 1, 2, 0, 1, 2],
            "phase1_onset": [100, 200, 300, np.nan, np.nan, np.nan],
            "phase2_onset": [1000, 1200, 1400, 500, 700, np.nan],
            "scc_onset": [np.nan] * 6,
            "step_acc_0.9": [2000, 2100, 2200, 900, -1, -1],
            "ncc_dwell": [3000, 3400, 2600, 0, 0, 100],
        }
    )
    table = onset_table(onsets_long(runs[::-1], "clamp"), "clamp").set_index(["clamp", "onset"])
    assert "scc_onset" not in table.index.get_level_values("onset"), "no run reached it: no panel"
    a2 = table.loc[("a", "phase2_onset")]
    assert a2["median"] == 700, "the unreached seed counts as latest, not as absent"
    assert a2["shift_vs_reference"] == 700 - 1200, "the reference is 'none' wherever it stands"
    assert (a2["paired_shift"], a2["pairs"]) == (-500, 2)  # 500 - 1000 and 700 - 1200
    assert a2[["seeds", "runs"]].tolist() == [2, 3]
    assert table.loc[("a", "step_acc_0.9"), "seeds"] == 1, "-1 means never reached"
    assert np.isnan(table.loc[("a", "step_acc_0.9"), "median"]), "most seeds never got there"
    assert table.loc[("a", "phase1_onset"), "seeds"] == 0
    assert table.loc[("none", "phase1_onset"), "shift_vs_reference"] == 0
    dwell = table.loc[("a", "ncc_dwell")]
    assert (dwell["median"], dwell["shift_vs_reference"], dwell["paired_shift"]) == (0, -3000, -3000)


def test_clamp_curves_compare_each_cell_with_its_reference(tmp_path):
    tables = _write_tables(tmp_path, ("T", "eps"))
    out = [tmp_path / f"c.{ext}" for ext in ("png", "pdf", "csv")]
    draw("clamp_curves", tables, ("T", "eps"), "t", *out)
    plotted = pd.read_csv(out[2])
    metrics = pd.read_csv(tables["metrics"])
    for (cell, curve), part in plotted[plotted["quantity"] == "acc"].groupby(["cell", "curve"]):
        T, eps = (float(v.split("=")[1]) for v in cell.split(", "))
        source = metrics[(metrics["T"] == (1 if curve == "reference" else T)) & (metrics["eps"] == eps)]
        expected = source[source["step"] > 0].groupby("step")["acc"].mean()
        assert part.set_index("step")["value"].to_numpy() == pytest.approx(expected.to_numpy())
    assert {"bigram_L1", "label_attn_L2", "chunk_L1"} <= set(plotted["quantity"])
    from icmeta.figures.clamp_curves import _switches

    runs = pd.DataFrame({"clamp_switches": ["1500", np.nan, "200;1500", 40.0]})
    assert _switches(runs) == [40, 200, 1500]


def test_delta_acc_reads_the_paper_grid():
    from icmeta.figures.delta_acc import delta_acc

    run = pd.DataFrame({"step": [0, 50, 100, 150, 200], "acc": [0.1, 0.9, 0.2, 0.9, 0.5]})
    curve = delta_acc(run, 100)
    assert curve["step"].tolist() == [0, 100, 200]
    assert curve["delta_acc"].tolist()[:2] == pytest.approx([0.1, 0.3])
    assert np.isnan(curve["delta_acc"].iloc[-1])


def test_every_figure_has_a_caption_and_the_schema_knows_it():
    schema = yaml.safe_load(Path("workflow/schemas/config.schema.yaml").read_text())
    block = schema["properties"]["experiments"]["additionalProperties"]["properties"]
    assert block["figures"]["items"]["enum"] == list(NAMES)
    for name in NAMES:
        assert "Reproduces" in describe(name) and len(describe(name)) > 80
        assert set(tables_of(name)) <= {"metrics", "runs", "phases", "phase_maps"}


def test_unknown_figure_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown figure 'fig99'"):
        draw("fig99", {}, ("T",), "t", "a.png", "a.pdf", "a.csv")
