"""Every figure draws a non-empty image, and writes the table it plotted, from a small fixture."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from icmeta.figures import NAMES, draw


def _runs_and_metrics():
    rng = np.random.default_rng(0)
    runs, metrics = [], []
    for T in (1, 3):
        for eps in (0.0, 0.5):
            for seed in (0, 1):
                run = {"T": T, "eps": eps, "seed": seed, "final_acc": rng.uniform(0.3, 1.0)}
                run |= {"n_phases": int(rng.integers(1, 4)), "n_transitions": int(rng.integers(0, 9))}
                run |= {"ncc_prediction": 1 / T, "scc_prediction": 0.8}
                for c in ("ncc", "scc", "fcc"):
                    seen = rng.random() < 0.7
                    run[f"{c}_onset"] = float(rng.integers(100, 10**5)) if seen else np.nan
                    run[f"{c}_acc"] = 1 / T + rng.normal(0, 0.02) if seen else np.nan
                runs.append(run)
                steps = np.arange(0, 1001, 100)
                acc = np.clip(np.linspace(0.05, run["final_acc"], len(steps)), 0, 1)
                metrics.append(pd.DataFrame({"T": T, "eps": eps, "seed": seed, "step": steps, "acc": acc}))
    return pd.DataFrame(runs), pd.concat(metrics)


@pytest.mark.parametrize("figure", NAMES)
@pytest.mark.parametrize("axes", [("T", "eps"), ("T",)])
def test_figure_draws_from_a_fixture_table(tmp_path, figure, axes):
    runs, metrics = _runs_and_metrics()
    source = metrics if figure == "learning_curves" else runs
    if len(axes) == 1:
        source = source[source["eps"] == 0.0].drop(columns="eps")
    source.to_csv(tmp_path / "in.csv", index=False)
    out = {ext: tmp_path / f"{figure}.{ext}" for ext in ("png", "pdf", "csv")}
    if figure == "phase_diagram" and len(axes) == 1:
        with pytest.raises(ValueError, match="two axes"):
            draw(figure, tmp_path / "in.csv", axes, "t", out["png"], out["pdf"], out["csv"])
        return
    draw(figure, tmp_path / "in.csv", axes, "fixture", out["png"], out["pdf"], out["csv"])
    image = np.asarray(Image.open(out["png"]).convert("L"))
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert image.std() > 10, "the image is blank"
    assert out["pdf"].read_bytes().startswith(b"%PDF")
    assert len(pd.read_csv(out["csv"])) > 0


def test_unknown_figure_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown figure 'fig99'"):
        draw("fig99", tmp_path / "x.csv", ("T",), "t", "a.png", "a.pdf", "a.csv")
