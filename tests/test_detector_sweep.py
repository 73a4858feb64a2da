"""Re-detecting a run's phases under neighbouring detector settings, on curves whose plateaus are known."""

import numpy as np
import pandas as pd

from icmeta.analysis.behaviour import LABEL_PRIOR
from icmeta.analysis.phases import PlateauDetector, chance_level, detect_phases
from icmeta.analysis.run import BehaviourReader
from icmeta.block.detector_sweep import DEFAULT, detector_settings, sweep_phases
from icmeta.network.circuits import METRICS

STEPS = np.arange(0, 100_001, 100)


def _history(seed: int, short_end: int) -> pd.DataFrame:
    """Chance, then 1/3 from step 2k to `short_end`, then 1.0: a 1/T plateau of a chosen length."""
    acc = np.where(STEPS < 2_000, 0.03, np.where(short_end > STEPS, 1 / 3, 1.0))
    acc = acc + np.random.default_rng(seed).normal(0, 0.005, len(STEPS))
    return pd.DataFrame({"cell": "T~3", "seed": seed, "step": STEPS, "acc": acc})


_READER = BehaviourReader(N=4, n=2048, ncc=1 / 3, scc=0.8, z=3.0)


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
    sweep = sweep_phases(metrics, runs, ["cell", "seed"], detector, lambda run: _READER)
    levels = sweep.groupby(["setting", "seed"])["plateau_acc"].apply(lambda a: a.round(3).tolist())
    for _, run in runs.iterrows():
        assert levels[(DEFAULT, run["seed"])] == run["published"]
        assert len(run["published"]) == 2  # 1/3, then 1.0: the chance start is not a phase
    # 0.24 decades at least: seed 0's 0.18-decade plateau is gone, seed 1's stays.
    assert len(levels[("min_decades ×2", 0)]) == 1 and len(levels[("min_decades ×2", 1)]) == 2


def test_every_setting_labels_its_plateaus_by_behaviour_so_the_label_prior_stage_stays_apart():
    """A run that first answers with the most frequent labels (0.10, random context labels change
    nothing), then rests at 1/3 and ends at 1.0: under every setting the 0.10 plateau is the label
    prior, the 1/3 one the NCC, as the published phases label them."""
    acc = np.where(STEPS < 4_000, 0.10, np.where(STEPS < 20_000, 1 / 3, 1.0))
    acc = acc + np.random.default_rng(0).normal(0, 0.002, len(STEPS))
    full = STEPS % 1000 == 0  # the contrasts are measured at full evaluations only
    metrics = pd.DataFrame({"cell": "T~3", "seed": 0, "step": STEPS, "acc": acc})
    for column in ("rla_acc", "rand_label_acc", "all_pairs_broken_acc"):
        metrics[column] = np.where(full, acc, np.nan)
    runs = pd.DataFrame([{"cell": "T~3", "seed": 0, "chance_acc": 0.05}])
    sweep = sweep_phases(metrics, runs, ["cell", "seed"], PlateauDetector(), lambda run: _READER)
    for setting, phases in sweep.groupby("setting"):
        labels = dict(zip(phases["plateau_acc"].round(1), phases["circuit_behaviour"], strict=True))
        assert labels[0.1] == LABEL_PRIOR and labels[0.3] == "NCC", setting
