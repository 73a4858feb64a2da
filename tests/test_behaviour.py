"""The behavioural circuit labels on contrasts whose circuit is known by construction."""

import math

import pandas as pd
import pytest

from icmeta.analysis.behaviour import (
    Contrasts,
    base_circuit,
    base_sequence,
    circuit_name,
    label,
    noise_tolerance,
    read_circuit,
    read_rows,
    time_in_regimes,
)

N_EVAL = 2048


def read(c: Contrasts, scc: float | None = 0.85) -> str:
    return label(read_circuit(c, N_EVAL, 1 / 3, scc, 3.0))


def test_the_tolerance_is_the_sets_binomial_noise():
    assert noise_tolerance(0.5, 0.5, 2048) == pytest.approx(3 * math.sqrt(0.5 / 2048))
    assert noise_tolerance(1.0, 1.0, 2048) == 0.0
    assert noise_tolerance(0.5, 0.5, 8192) == pytest.approx(noise_tolerance(0.5, 0.5, 2048) / 2)


@pytest.mark.parametrize(
    ("contrasts", "expected"),
    [
        (Contrasts(0.34, 0.34, 0.34, 0.34, (0.34,) * 4, (0.34,) * 4), "NCC"),  # context-free at 1/T
        (Contrasts(0.10, 0.10, 0.10, 0.10), "label prior"),  # context-free below 1/T
        (Contrasts(0.80, 0.80, 0.34, 0.80, (0.80,) * 4, (0.80,) * 4), "SCC"),  # multiset only
        (Contrasts(0.95, 0.95, 0.34, 0.95), "mixed"),  # no pairing, yet above the SCC bound
        (Contrasts(0.80, 0.80, 0.34, 0.50), "mixed"),  # reads the items, not their pairing
        (Contrasts(0.34, 0.34, 0.60, 0.34), "mixed"),  # random labels help
        # reads pair 1 alone: breaking it hurts, it alone suffices
        (Contrasts(1.0, 0.6, 0.34, 0.45, (0.45, 1.0, 1.0, 1.0), (1.0, 0.45, 0.45, 0.45)), "FCC[1]"),
        # reads every pair redundantly: no single break hurts, each pair alone suffices
        (Contrasts(1.0, 0.6, 0.34, 0.45, (1.0,) * 4, (0.9,) * 4), "FCC[1,2,3,4]"),
        (Contrasts(1.0, 0.6, 0.34), "FCC"),  # pairing used, pairs not measured
        (Contrasts(0.5, math.nan, math.nan), ""),  # an id-only evaluation
    ],
)
def test_each_circuit_gets_its_signature(contrasts, expected):
    assert read(contrasts) == expected


def test_a_difference_within_the_noise_is_no_difference():
    tol = noise_tolerance(0.8, 0.8, N_EVAL)
    assert read(Contrasts(0.8, 0.8 - 0.9 * tol, 0.34, 0.8)) == "SCC"
    assert read(Contrasts(0.8, 0.8 - 1.1 * tol, 0.34, 0.8)) == "FCC"


def test_readings_over_a_run_give_the_time_in_each_regime():
    metrics = pd.DataFrame(
        {"step": [0, 100, 200, 300], "acc": [0.05, 0.34, 0.8, 0.99], "rla_acc": [0.05, 0.34, 0.8, 0.6]}
        | {"rand_label_acc": [0.05, 0.34, 0.34, 0.34], "all_pairs_broken_acc": [0.05, 0.34, 0.8, 0.45]}
    )
    readings = read_rows(metrics, 4, N_EVAL, 1 / 3, 0.85, 3.0)
    assert readings["circuit"].tolist() == ["label prior", "NCC", "SCC", "FCC"]
    times = time_in_regimes(readings, last_step=1000)
    assert times["steps_NCC"] == 100 and times["steps_FCC"] == 700 and times["first_SCC"] == 200
    assert times["steps_mixed"] == 0 and times["first_mixed"] == -1


def test_tables_show_tab1_only_where_it_names_another_circuit():
    assert circuit_name("FCC[1]", "FCC1") == "FCC[1]"
    assert circuit_name("SCC", "unlabelled") == "SCC (Tab. 1: unlabelled)"
    assert base_sequence("NCC>FCC[1,2]>") == "NCC>FCC>?"


@pytest.mark.slow
@pytest.mark.parametrize("circuit", ["ncc", "scc", "fcc"])
def test_networks_restricted_to_one_circuit_are_read_as_that_circuit_in_every_seed(circuit, tmp_path):
    """Ground truth: attention masked to one circuit from initialisation (`model.circuit`), three
    seeds trained as one ensemble. The setting keeps every seed's label-multiset bound well below 1
    (T = 2 tasks over L = 8 labels: 0.72-0.79), so that a network restricted to the FCC, whose mask
    also lets it read the label multiset, has to use the pairing to beat the SCC; where the multiset
    identifies the task (bound 1), an FCC-restricted network may solve it as an SCC, and does."""
    from icmeta.analysis.run import analyse_run
    from icmeta.settings.config import RunConfig
    from icmeta.training.train import train

    settings: dict = {}  # the analysis defaults
    configs = [
        RunConfig.from_dict(
            {
                "seed": seed,
                "task": {"T": 2, "K": 32, "L": 8, "D": 16},
                "model": {"circuit": circuit, "d_qkv": 81},
                "optim": {
                    "lr": 0.2,
                    "steps": 2000,
                    "eval_every": 200,
                    "eval_size": 512,
                    "full_eval_every": 400,
                    "checkpoints_per_decade": 0,
                },
            }
        )
        for seed in range(3)
    ]
    histories = train(configs, [tmp_path / f"seed{c.seed}" for c in configs], tmp_path / "state.pt")
    read = [
        analyse_run(history, {**cfg.to_dict(), "seed": cfg.seed}, settings)[0]["final_circuit_behaviour"]
        for cfg, history in zip(configs, histories, strict=True)
    ]
    assert [base_circuit(label) for label in read] == [circuit.upper()] * 3, read
