"""Re-detecting a run's phases under neighbouring detector settings, on curves whose plateaus are known."""

import numpy as np
import pandas as pd

from icmeta.analysis.phases import PlateauDetector, chance_level, detect_phases
from icmeta.block.detector_sweep import DEFAULT, detector_settings, sweep_phases
from icmeta.network.circuits import METRICS

STEPS = np.arange(0, 100_001, 100)


def _history(seed: int, short_end: int) -> pd.DataFrame:
    """Chance, then 1/3 from step 2k to `short_end`, then 1.0: a 1/T plateau of a chosen length."""
    acc = np.where(STEPS < 2_000, 0.03, np.where(short_end > STEPS, 1 / 3, 1.0))
    acc = acc + np.random.default_rng(seed).normal(0, 0.005, len(STEPS))
    return pd.DataFrame({"cell": "T~3", "seed": seed, "step": STEPS, "acc": acc})


def test_settings_halve_and_double_one_parameter_at_a_time():
    settings = detector_settings(PlateauDetector())
    assert settings[DEFAULT] == PlateauDetector() and len(settings) == 7
    assert settings["min_jump ×2"].min_jump == 0.1 and settings["min_jump ×2"].flat_slope == 0.02
    assert settings["flat_slope ×0.5"].flat_slope == 0.01


def test_default_setting_gives_the_published_phases_and_a_longer_minimum_drops_a_short_plateau():
    # Seed 0 rests at 1/3 for a factor 1.5 in steps (0.18 decades), seed 1 for a factor 5.
    metrics = pd.concat([_history(0, 3_000), _history(1, 10_000)], ignore_index=True)
    detector = PlateauDetector()
    runs = []
    for seed, history in metrics.groupby("seed"):
        chance = chance_level(float(history["acc"].iloc[0]), 32, detector)
        runs.append({"cell": "T~3", "seed": seed, "chance_acc": chance})
        attention = {f"{name}_L{layer}H1": 0.0 for name in METRICS for layer in (1, 2)}
        published = detect_phases(history.assign(**attention), N=4, L=32, detector=detector)
        runs[-1]["published"] = published["plateau_acc"].round(3).tolist()
    runs = pd.DataFrame(runs)
    sweep = sweep_phases(metrics, runs, ["cell", "seed"], detector)
    levels = sweep.groupby(["setting", "seed"])["plateau_acc"].apply(lambda a: a.round(3).tolist())
    for _, run in runs.iterrows():
        assert levels[(DEFAULT, run["seed"])] == run["published"]
        assert len(run["published"]) == 2  # 1/3, then 1.0: the chance start is not a phase
    # 0.24 decades at least: seed 0's 0.18-decade plateau is gone, seed 1's stays.
    assert len(levels[("min_decades ×2", 0)]) == 1 and len(levels[("min_decades ×2", 1)]) == 2
