import itertools

import numpy as np
import pandas as pd
import pytest

from icmeta.analysis.phases import (
    PlateauDetector,
    circuit_label,
    detect_phases,
    dominant_patterns,
    plateaus,
    uniform_baselines,
)
from icmeta.analysis.run import analyse_run
from icmeta.settings.config import RunConfig

STEPS = np.arange(0, 200_001, 100)


def _curve(levels, boundaries, width=0.0, noise=0.0, seed=0):
    """Accuracy stepping through `levels` at `boundaries` (steps), each rise a logistic of `width` steps."""
    acc = np.full(len(STEPS), levels[0], dtype=float)
    for (lo, hi), at in zip(itertools.pairwise(levels), boundaries, strict=True):
        if width:
            acc += (hi - lo) / (1 + np.exp(-(STEPS - at) / (width / 8)))
        else:
            acc += (hi - lo) * (at <= STEPS)
    return acc + np.random.default_rng(seed).normal(0, noise, len(STEPS))


def _levels(found):
    return [round(p.level, 2) for p in found]


def test_sharp_three_phases():
    acc = _curve([0.03, 0.34, 0.75, 1.0], [8_000, 30_000, 100_000])
    found = plateaus(STEPS, acc)
    assert _levels(found) == [0.03, 0.34, 0.75, 1.0]
    assert found[1].start == 8_000 and found[1].end == 29_900
    assert found[2].start == 30_000 and found[3].start == 100_000


def test_slow_thousand_step_transitions_are_found_but_the_paper_rule_misses_them():
    from icmeta.analysis.phases import paper_transitions

    acc = _curve([0.03, 0.34, 0.75, 1.0], [8_000, 30_000, 100_000], width=6_000)
    found = plateaus(STEPS, acc)
    assert [p.level for p in found] == pytest.approx([0.03, 0.34, 0.75, 1.0], abs=0.02)
    assert found[1].start > 8_000 and found[1].end < 30_000
    assert paper_transitions(pd.DataFrame({"step": STEPS, "acc": acc})) == []


def test_noisy_curve_keeps_three_phases_where_the_paper_rule_sees_dozens():
    from icmeta.analysis.phases import paper_transitions

    acc = _curve([0.03, 0.34, 0.75, 1.0], [8_000, 30_000, 100_000], noise=0.015)
    found = plateaus(STEPS, acc)
    assert _levels(found) == pytest.approx([0.03, 0.34, 0.75, 1.0], abs=0.01)
    for plateau, start in zip(found[1:], (8_000, 30_000, 100_000), strict=True):
        assert start <= plateau.start <= 1.1 * start
    assert len(paper_transitions(pd.DataFrame({"step": STEPS, "acc": acc}))) > 10


@pytest.mark.parametrize("seed", range(3))
def test_a_short_one_over_t_passage_is_a_phase(seed):
    # As at the paper's lr 0.01: the 1/T plateau lasts only 10.5k..16k steps, a factor 1.5 in steps.
    acc = _curve([0.04, 0.34, 0.82], [10_000, 16_500], width=1_500, noise=0.01, seed=seed)
    found = plateaus(STEPS, acc)
    assert _levels(found) == pytest.approx([0.04, 0.34, 0.82], abs=0.01)
    assert 10_000 <= found[1].start <= 11_000 and 15_500 <= found[1].end <= 16_500


def test_one_phase_and_a_run_that_ends_mid_rise():
    one = plateaus(STEPS, _curve([0.03, 1.0], [5_000], noise=0.01))
    assert _levels(one) == pytest.approx([0.03, 1.0], abs=0.01)
    # On the 1/T plateau until 20k, then a steady climb in log-step that never levels off.
    climb = np.clip(0.34 + 0.56 * np.log10(np.maximum(STEPS, 1) / 20_000), 0.34, 1.0)
    acc = np.where(STEPS < 5_000, 0.03, climb)
    found = plateaus(STEPS, acc)
    assert _levels(found) == [0.03, 0.34] and 20_000 <= found[1].end <= 23_000  # within min_jump/2


def test_detector_rejects_nonsense_parameters():
    with pytest.raises(ValueError, match=r"'analysis.plateaus.min_jump' = 0 is invalid: must be > 0"):
        PlateauDetector(min_jump=0)


def _metrics(acc, l1, l2, N=4):
    """A metrics table whose attention follows the named dominant pattern per layer."""
    base = uniform_baselines(N)
    frame = pd.DataFrame({"step": STEPS, "acc": acc})
    for layer, pattern in ((1, l1), (2, l2)):
        for name in ("bigram", "label_attn", "chunk"):
            frame[f"{name}_L{layer}H1"] = 0.9 if name == pattern else base[name]
    return frame


@pytest.mark.parametrize(
    ("l1", "l2", "label"),
    [
        ("bigram", "bigram", "NCC"),
        ("label_attn", "bigram", "SCC"),
        ("chunk", "label_attn", "FCC"),
        ("chunk", "bigram", "unlabelled"),
    ],
)
def test_circuit_labels_follow_table_1(l1, l2, label):
    m = _metrics(np.full(len(STEPS), 0.5), l1, l2)
    assert dominant_patterns(m, 4, 0.25) == [l1, l2]
    assert circuit_label([l1, l2], acc=0.5) == label


@pytest.mark.parametrize(
    ("patterns", "acc", "label"),
    [
        (["bigram", "bigram"], 0.35, "NCC"),  # at 1/T: an NCC
        (["bigram", "bigram"], 0.998, "unlabelled"),  # an NCC cannot be right 100 % of the time
        (["label_attn", "bigram"], 0.80, "SCC"),  # within tolerance of the bound
        (["label_attn", "bigram"], 0.95, "unlabelled"),  # beyond the label-multiset bound
        (["chunk", "label_attn"], 1.0, "FCC"),  # the FCC has no ceiling
    ],
)
def test_a_label_must_be_able_to_give_the_plateau_accuracy(patterns, acc, label):
    assert circuit_label(patterns, acc, ceilings={"NCC": 1 / 3, "SCC": 0.78}, tolerance=0.05) == label


def test_detect_phases_does_not_call_a_perfect_bigram_phase_an_ncc():
    acc = _curve([0.03, 0.33, 1.0], [8_000, 50_000], noise=0.005)
    frame = _metrics(acc, "bigram", "bigram")
    assert detect_phases(frame, N=4, L=32)["circuit"].tolist() == ["NCC", "NCC"]
    phases = detect_phases(frame, N=4, L=32, ceilings={"NCC": 1 / 3})
    assert phases["circuit"].tolist() == ["NCC", "unlabelled"]
    assert phases[["L1_pattern", "L2_pattern"]].iloc[1].tolist() == ["bigram", "bigram"]


def _with_pairs(frame, layer, pair_attention, N=4):
    """Per-pair query columns of one layer: query -> (x_k, l_k) split evenly between item and label."""
    for k in range(1, N + 1):
        for name in ("q_label", "q_item"):
            frame[f"{name}{k}_L{layer}H1"] = pair_attention[k - 1] / 2
    return frame


@pytest.mark.parametrize(
    ("layer2_pairs", "label"),
    [
        ([0.6, 0.05, 0.05, 0.05], "FCC1"),  # the first pair: focus 0.8
        ([0.05, 0.05, 0.3, 0.05], "FCC1"),  # any one pair: focus 0.67
        ([0.15, 0.15, 0.15, 0.15], "unlabelled"),  # every pair alike: focus 0.25
        ([0.1, 0.02, 0.02, 0.02], "unlabelled"),  # focused, but on less than uniform attention (2/9)
    ],
)
def test_a_phase_above_every_ceiling_that_reads_one_pair_is_fcc1(layer2_pairs, label):
    acc = _curve([0.03, 0.33, 1.0], [8_000, 50_000], noise=0.005)
    frame = _with_pairs(_with_pairs(_metrics(acc, "bigram", "bigram"), 1, [0.1] * 4), 2, layer2_pairs)
    phases = detect_phases(frame, N=4, L=32, ceilings={"NCC": 1 / 3, "SCC": 0.8}, pair_focus=0.5)
    assert phases["circuit"].tolist() == ["NCC", label]
    assert phases["L2_top_pair"].iloc[1] == int(np.argmax(layer2_pairs)) + 1
    assert phases["L2_pair_focus"].iloc[1] == pytest.approx(max(layer2_pairs) / sum(layer2_pairs))
    assert phases["L2_label_share"].iloc[1] == pytest.approx(0.5)  # each pair split evenly


def test_label_share_sees_label_reading_that_label_attention_scores_below_uniform():
    # The query keeps 0.7 on itself and gives 0.27 to the labels, 0.03 to the items: Label Attention
    # (0.27) lies below its uniform value 4/9, yet nine tenths of the context attention is on labels.
    acc = _curve([0.03, 0.33], [8_000], noise=0.005)
    frame = _metrics(acc, "bigram", "bigram")
    for k in range(1, 5):
        frame[f"q_label{k}_L2H1"], frame[f"q_item{k}_L2H1"] = 0.27 / 4, 0.03 / 4
        frame[f"q_label{k}_L1H1"], frame[f"q_item{k}_L1H1"] = 0.01, 0.03
    phases = detect_phases(frame, N=4, L=32)
    assert phases[["L1_label_share", "L2_label_share"]].iloc[0].tolist() == pytest.approx([0.25, 0.9])


def test_a_one_pair_reader_below_a_ceiling_keeps_its_table_1_label():
    acc = _curve([0.03, 0.33], [8_000], noise=0.005)  # the NCC level: one pair is not needed for it
    frame = _with_pairs(_with_pairs(_metrics(acc, "bigram", "bigram"), 1, [0.1] * 4), 2, [0.6, 0, 0, 0])
    assert detect_phases(frame, N=4, L=32, ceilings={"NCC": 1 / 3})["circuit"].tolist() == ["NCC"]


def test_ncc_prediction_is_the_most_frequent_tasks_share():
    from icmeta.settings.config import RunConfig
    from icmeta.task.theory import ncc_prediction

    assert ncc_prediction(RunConfig()) == pytest.approx(1 / 3)
    zipf = RunConfig().replace(**{"task.beta": 1.0})
    assert ncc_prediction(zipf) == pytest.approx(1 / (1 + 1 / 2 + 1 / 3))


def test_uniform_attention_has_no_dominant_pattern():
    m = _metrics(np.full(len(STEPS), 0.5), "none", "none")
    assert dominant_patterns(m, 4, 0.25) == ["none", "none"]


def test_detect_phases_labels_each_plateau_from_its_own_metrics():
    acc = _curve([0.03, 0.34, 0.75, 1.0], [8_000, 30_000, 100_000], noise=0.01)
    parts = [
        _metrics(acc, "none", "none"),
        _metrics(acc, "bigram", "bigram"),
        _metrics(acc, "label_attn", "bigram"),
        _metrics(acc, "chunk", "label_attn"),
    ]
    bounds = [0, 8_000, 30_000, 100_000, 10**9]
    frame = pd.concat(
        [p[(p["step"] >= a) & (p["step"] < b)] for p, a, b in zip(parts, bounds, bounds[1:], strict=False)]
    )
    phases = detect_phases(frame, N=4, L=32)
    assert phases["circuit"].tolist() == ["NCC", "SCC", "FCC"]
    assert phases["phase"].tolist() == [1, 2, 3]
    assert phases["plateau_acc"].tolist() == pytest.approx([0.34, 0.75, 1.0], abs=0.01)
    assert phases["start_step"].tolist()[0] < 8_000 <= phases["plateau_start"].tolist()[0]


def test_the_untrained_start_is_not_a_phase_even_above_one_over_L():
    # An untrained network whose label prior gives 9 % (not 1/L = 3 %), then one jump to 100 %.
    acc = _curve([0.09, 1.0], [5_000])
    phases = detect_phases(_metrics(acc, "bigram", "bigram"), N=4, L=32)
    assert phases["plateau_acc"].tolist() == [1.0]
    assert phases["start_step"].tolist() == [4_900]


def test_scc_bound_reproduces_the_papers_formula_in_the_controlled_setting():
    from icmeta.settings.config import RunConfig
    from icmeta.task.theory import scc_bound, scc_theory_accuracy

    for K in (8, 16):
        cfg = RunConfig().replace(**{"task.K": K, "task.L": K, "task.T": 2, "task.base_labels": "balanced"})
        assert scc_bound(cfg) == pytest.approx(scc_theory_accuracy(K), abs=0.01)


def test_scc_bound_of_the_default_task_is_well_above_the_ncc():
    from icmeta.settings.config import RunConfig
    from icmeta.task.theory import scc_bound, scc_bound_supported

    bound = scc_bound(RunConfig(seed=3))
    assert 1 / 3 + 0.3 < bound < 0.95
    assert not scc_bound_supported(RunConfig().replace(**{"task.p_B": 0.5}))


def test_pair_count_reads_n_from_the_per_pair_columns():
    from icmeta.analysis.phases import pair_count

    assert pair_count([f"q_label{k}_L1H1" for k in (1, 2, 3)] + ["q_label5_L1H1", "acc"]) == 3
    assert pair_count(["acc", "bigram_L1H1"]) == 0


@pytest.mark.filterwarnings("error")  # 0/0 would warn, and leave a run's summary full of warnings
def test_a_query_masked_off_the_pairs_has_no_pair_shares():
    from icmeta.analysis.phases import pair_readings

    frame = pd.DataFrame({f"{name}{k}_L1H1": [0.0, 0.0] for name in ("q_label", "q_item") for k in (1, 2)})
    (reading,) = pair_readings(frame, N=2)
    assert np.isnan(reading.focus) and np.isnan(reading.label_share) and reading.top_attention == 0


def test_a_run_analysed_without_its_seed_is_refused():
    """The seed sets the task maps the SCC's bound is computed on; a default would pass silently."""
    run = RunConfig().to_dict()
    run.pop("seed")
    with pytest.raises(ValueError, match="seed"):
        analyse_run(pd.DataFrame(), run, {})
