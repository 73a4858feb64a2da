"""Every figure plots the values of fixture tables whose every number is known (tests/figure_fixtures.py):
its written table (CSV) and the curves, shading and maps on the figure are checked against them, so a
figure that reads the wrong column, seed or cell, or aggregates them wrongly, fails."""

import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import figure_fixtures as fx
from icmeta.block import cells
from icmeta.figures import NAMES, describe, draw, phase_diagram, tables_of
from icmeta.figures.lint import problems
from icmeta.figures.panels import running_median

MEAN_LW = 1.8  # the thick seed-mean line of `panels.mean_with_seeds`
SD = float(np.std(list(fx.SEED_OFFSET.values()), ddof=1))  # the seed spread of any fixture quantity
HEADS = {("T", "eps"): 1, ("T",): 2}  # the axes of the parametrised test, and the heads per layer
STEPS = fx.STEPS[1:]  # step 0 cannot be shown on a log-step axis


def _draw(figure, axes, tmp_path, monkeypatch, heads=1, title="fixture"):
    """Draw a figure from the fixture's CSV tables; returns the figure (kept before it is saved and
    closed) and the table it wrote."""
    from icmeta.figures import style

    tables = fx.write_tables(tmp_path, axes, heads)
    drawn = {}
    save = style.save_figure

    def keep(fig, *args):
        drawn["fig"] = fig
        save(fig, *args)

    monkeypatch.setattr(style, "save_figure", keep)
    out = {ext: tmp_path / f"{figure}.{ext}" for ext in ("png", "pdf", "csv")}
    draw(figure, tables, axes, title, out["png"], out["pdf"], out["csv"])
    image = np.asarray(Image.open(out["png"]).convert("L"))
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert image.std() > 10, "the image is blank"
    assert out["pdf"].read_bytes().startswith(b"%PDF")
    return drawn["fig"], pd.read_csv(out["csv"])


def _expected(table, axes, fn, *columns):
    """fn(cell, seed, step, *values of `columns`) for every row of a plotted table."""
    return np.array(
        [
            fn(fx.cell_of(r, axes), int(r["seed"]), int(r["step"]), *(r[c] for c in columns))
            for _, r in table.iterrows()
        ]
    )


def _seed_mean(fn, cell, *args):
    return np.array([np.mean([fn(cell, s, step, *args) for s in fx.SEEDS]) for step in STEPS])


def _assert_means(ax, expected):
    """The panel's thick seed-mean lines are exactly the expected curves (over STEPS); an empty line
    (a cell without the panel's column) draws nothing."""
    drawn = [line for line in ax.lines if line.get_linewidth() == MEAN_LW and len(line.get_xdata())]
    assert len(drawn) == len(expected)
    for line in drawn:
        assert np.array_equal(line.get_xdata(), STEPS)
    for curve in expected:
        smooth = running_median(pd.Series(curve)).to_numpy()
        assert any(np.allclose(line.get_ydata(), smooth) for line in drawn), "a seed mean is missing"


def _phase_spans(cell, seeds):
    """(start, end) per phase number: the median start of the rise and end of the plateau over the
    seeds where all have as many phases, else the first seed's own."""
    if len({len(fx.phase_rows(cell, s)) for s in seeds}) > 1:
        seeds = seeds[:1]
    rows = [p for s in seeds for p in fx.phase_rows(cell, s)]
    numbers = sorted({p["phase"] for p in rows})
    return [
        tuple(
            float(np.median([p[k] for p in rows if p["phase"] == n])) for k in ("start_step", "plateau_end")
        )
        for n in numbers
    ]


def _assert_shading(ax, cell, seeds=fx.SEEDS):
    spans = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
    assert np.array(spans).shape == np.array(_phase_spans(cell, seeds)).shape
    assert np.allclose(spans, _phase_spans(cell, seeds))


def test_phase_spans_are_seed_medians_only_where_the_seeds_have_as_many_phases():
    """Phase n of a seed with three plateaus is not phase n of a seed with two: medians over them
    would draw spans no run had, so then the lowest seed's own spans are shaded, and the panel says so."""
    import matplotlib.pyplot as plt

    from icmeta.figures.panels import phase_spans, shade_phases

    def rows(seed, spans):
        return [
            {"seed": seed, "phase": n, "start_step": a, "plateau_end": b} for n, (a, b) in enumerate(spans, 1)
        ]

    same = pd.DataFrame(rows(0, [(0, 10), (20, 40)]) + rows(1, [(0, 30), (40, 60)]))
    assert phase_spans(same) == [(1, 0, 20), (2, 30, 50)]
    differ = pd.DataFrame(rows(1, [(0, 10), (20, 40), (50, 90)]) + rows(0, [(0, 30), (60, 100)]))
    assert phase_spans(differ) == [(1, 0, 30), (2, 60, 100)]
    notes = []
    for phases in (same, differ):
        _, ax = plt.subplots()
        shade_phases(ax, phases)
        notes.append([t.get_text() for t in ax.texts if t.get_text().startswith("shaded")])
    assert notes == [[], ["shaded: seed 0's phases"]], "a panel says when it shades one seed's phases"


def test_the_label_prior_stage_is_shaded_grey_and_named_not_numbered_as_a_phase():
    """The untrained network's first stage answers with label frequencies, not with a circuit: it
    is no phase of the paper's, so its shading must not read as phase 1."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb

    from icmeta.figures.panels import PHASE_COLOURS, PRIOR_COLOUR, prior_phases, shade_phases

    phases = pd.DataFrame(
        {
            "seed": [0, 0, 1, 1],
            "phase": [1, 2, 1, 2],
            "start_step": [0, 3000, 0, 3500],
            "plateau_end": [2500, 9000, 3000, 9500],
            "circuit_behaviour": ["label prior", "NCC", "label prior", "NCC"],
        }
    )
    assert prior_phases(phases) == {1}
    assert prior_phases(phases.assign(circuit_behaviour=["label prior", "NCC", "NCC", "NCC"])) == set()
    assert prior_phases(phases.drop(columns="circuit_behaviour")) == set()  # older tables
    _, ax = plt.subplots()
    shade_phases(ax, phases, first_step=100)
    assert [t.get_text() for t in ax.texts] == ["prior", "1"]  # the first phase proper
    colours = [to_rgb(patch.get_facecolor()) for patch in ax.patches]
    assert colours == [to_rgb(PRIOR_COLOUR), to_rgb(PHASE_COLOURS[0])]  # phase 1's colour


def test_the_key_below_gathers_each_label_once_and_draws_none_without_labels():
    import matplotlib.pyplot as plt

    from icmeta.figures.panels import key_below

    fig, (a, b) = plt.subplots(1, 2)
    a.plot([0, 1], label="layer 1")
    b.plot([0, 1], label="layer 1")
    b.plot([1, 0], label="accuracy")
    key_below(fig, a, b)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["layer 1", "accuracy"]
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    key_below(fig, ax)
    assert fig.legends == []


def _assert_curves(plotted, axes, columns):
    """A table of every run's curves: exactly these columns, every seed, every step but 0, known values."""
    assert set(plotted.columns) == {*axes, "seed", "step", *columns}
    assert len(plotted) == len(fx.grid(axes)) * len(fx.SEEDS) * len(STEPS)
    assert sorted(plotted["step"].unique()) == STEPS.tolist()
    functions = {"acc": fx.acc, "loss": fx.loss, "rla_acc": fx.rla_acc}
    for column in columns:
        if column.startswith("acc_task"):
            task = int(column.removeprefix("acc_task"))
            want = _expected(plotted, axes, lambda c, s, t, task=task: fx.task_acc(c, s, t, task))
        else:
            want = _expected(plotted, axes, functions[column])
        assert np.allclose(plotted[column], want, equal_nan=True), column


# --- one check per figure: (plotted table, figure, axes, heads) ---------------------------------------


def check_learning_curves(plotted, fig, axes, heads):
    _assert_curves(plotted, axes, ["acc", "loss"])
    panel_values = fx.AXIS_VALUES[axes[0]] if len(axes) > 1 else [None]
    panels = _learning_curve_panels(fig, len(panel_values))
    for (acc, loss), value in zip(panels, panel_values, strict=True):
        cells = [c for c in fx.grid(axes) if value is None or c.values[axes[0]] == value]
        _assert_means(acc, [_seed_mean(fx.acc, c) for c in cells])
        _assert_means(loss, [_seed_mean(fx.loss, c) for c in cells])
        assert acc.get_xlim() == loss.get_xlim() == (STEPS[0], STEPS[-1]), "from the first evaluation"
    # the loss axis ends just above the largest seed mean, not at a single seed's spike
    top = max(_seed_mean(fx.loss, c).max() for c in fx.grid(axes))
    assert panels[0][1].get_ylim() == pytest.approx((0, 1.05 * top))
    # the seed mean is the cell's plateau: e.g. the last cell (T = 4) at 0.25 + 0.01 c, 0.6 + 0.05 c, ...
    last = fx.grid(axes)[-1]
    rows = plotted[[fx.cell_of(r, axes) == last for _, r in plotted.iterrows()]]
    c, means = last.index, rows.groupby("step")["acc"].mean()
    assert means[[500, 1500, 3000]].tolist() == pytest.approx(
        [0.25 + 0.01 * c, 0.6 + 0.05 * c, 0.84 + 0.02 * c]
    )


def _learning_curve_panels(fig, n):
    """(accuracy, loss) axes of each of the n panel values, read in rows of MAX_COLUMNS: the accuracy
    panel of value i in block row i // MAX_COLUMNS, column i % MAX_COLUMNS, its loss panel just below."""
    from icmeta.figures.learning_curves import MAX_COLUMNS

    at = {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start): ax for ax in fig.axes}
    assert len(at) == len(fig.axes) == 2 * n, "one accuracy and one loss panel per value, no empty slot"
    slots = [(2 * (i // MAX_COLUMNS), i % MAX_COLUMNS) for i in range(n)]
    return [(at[row, col], at[row + 1, col]) for row, col in slots]


def check_final_accuracy(plotted, fig, axes, heads):
    assert set(plotted.columns) == {*axes[:2], "mean", "std", "min", "max", "count"}
    for _, row in plotted.iterrows():
        cell = fx.cell_of(row, axes)
        assert row["mean"] == pytest.approx(fx.plateaus(cell)[2] + fx.LAST_BUMP), "the last evaluation"
        assert row["std"] == pytest.approx(SD)
        offsets = fx.SEED_OFFSET.values()
        assert (row["min"] - row["mean"], row["max"] - row["mean"]) == pytest.approx(
            (min(offsets), max(offsets))
        )
        if len(axes) >= 2:  # the heatmap writes the mean over the seeds' range
            note = f"{row['mean']:.2f}\n{row['min']:.2f}–{row['max']:.2f}"
            assert note in [text.get_text() for text in fig.axes[0].texts]
        assert row["count"] == len(fx.SEEDS)
    assert len(plotted) == len(fx.grid(axes))
    assert sorted(plotted["mean"]) == pytest.approx([0.84, 0.86, 0.88, 0.90][: len(plotted)])


# Per cell of the (T, eps) grid: cells 0..3 are (2, 0.0), (2, 0.5), (4, 0.0), (4, 0.5).
NAN = np.nan
PHASE_DIAGRAM = {
    "seeds": [3, 3, 3, 3],
    # seeds' sequences: (NF, NF, N), (NSF, NF, N), (NSF, NSF, N), (NSF, NSF, NS); a tie goes to seed 0
    "sequence": ["NCC>FCC", "NCC>SCC>FCC", "NCC>SCC>FCC", "NCC>SCC>FCC"],
    "agree": [2, 1, 2, 2],
    "others": ["NCC (1)", "NCC>FCC (1); NCC (1)", "NCC (1)", "NCC>SCC (1)"],
    # the last evaluation: third plateau 0.8 + 0.02 c, seed offsets +0.03 / -0.01 / -0.02, LAST_BUMP 0.04
    "final_min": [0.82, 0.84, 0.86, 0.88],
    "final_max": [0.87, 0.89, 0.91, 0.93],
    "final_median": [0.83, 0.85, 0.87, 0.89],
    "at_cap": [2, 2, 2, 2],  # seed 0's convergence stop ended it; seeds 1 and 2 reached the cap
    # plateau of the sequence's phase n, median over the agreeing seeds: e.g. cell 0's seeds 0 and 1
    # have offsets +0.03 and -0.01 (median +0.01) on 1/T = 0.5 and the FCC's 0.8
    "level1": [0.51, 0.54, 0.28, 0.29],
    "level2": [0.81, 0.68, 0.71, 0.76],
    "level3": [NAN, 0.85, 0.85, 0.87],
    "solved": [0, 0, 0, 0],  # no seed reaches 0.95 (the last evaluation tops out at 0.93)
    "solved_median": [NAN] * 4,
    "n_phases_mean": [5 / 3, 2, 7 / 3, 8 / 3],  # phases per seed (2, 2, 1), (3, 2, 1), (3, 3, 1), (3, 3, 2)
    "n_phases_sd": [np.std([2, 2, 1], ddof=1), 1, np.std([3, 3, 1], ddof=1), np.std([3, 3, 2], ddof=1)],
    "ncc_gap_mean": [0, 0.01, 0.02, 0.03],  # NCC plateau 1/T + 0.01 c against 1/T
    "ncc_gap_sd": [SD] * 4,
    "scc_gap_mean": [NAN, 0.05, 0.05, 0.06],  # 0.02 c + the offsets of the seeds below c
    "scc_gap_sd": [NAN, NAN, np.std([0.03, -0.01], ddof=1), SD],
    "ncc_gap_runs": [3, 3, 3, 3],
    "scc_gap_runs": [0, 1, 2, 3],
    "transitions_mean": [2, 3, 4, 5],
    "ncc_present": [1, 1, 1, 1],
    "scc_present": [0, 1 / 3, 2 / 3, 1],
    "fcc_present": [2 / 3] * 4,
    "ncc_onset_median": [200, 210, 220, 230],  # starts 100, 200, 500 (+ 10 c)
    "ncc_onset_iqr": [200] * 4,
    "scc_onset_median": [NAN, 1010, 1070, 1130],
    "scc_onset_iqr": [NAN, 0, 50, 200],
    "fcc_onset_median": [2050, 2060, 2070, 2080],
    "fcc_onset_iqr": [50] * 4,
}


def check_phase_diagram(plotted, fig, axes, heads):
    assert set(plotted.columns) == {"T", "eps", *PHASE_DIAGRAM}
    plotted = plotted.set_index(["T", "eps"])
    for column, values in PHASE_DIAGRAM.items():
        want = pd.Series(values, index=pd.MultiIndex.from_tuples([(2, 0.0), (2, 0.5), (4, 0.0), (4, 0.5)]))
        got = plotted[column].reindex(want.index)
        if isinstance(values[0], str):
            assert got.tolist() == want.tolist(), column
        else:
            assert np.allclose(got, want, equal_nan=True), column
    panels = {ax.get_title(): [t.get_text() for t in ax.texts] for ax in fig.axes if ax.get_title()}
    final = panels["final accuracy (seed median)"]
    assert sorted(final) == sorted(f"{m:.2f}\n2/3 at cap" for m in PHASE_DIAGRAM["final_median"])
    scc = panels["SCC plateau − the run's bound"]
    # one cell without an SCC plateau says so; the others give the mean gap and how many runs had one
    assert scc.count("none") == 1
    for mean, runs in zip(PHASE_DIAGRAM["scc_gap_mean"][1:], PHASE_DIAGRAM["scc_gap_runs"][1:], strict=True):
        assert f"{100 * mean:+.1f}" + ("" if runs == 3 else f"\n({runs}/3)") in scc
    ncc = panels["NCC plateau − 1/T"]
    assert sorted(ncc) == sorted(f"{100 * m:+.1f}" for m in PHASE_DIAGRAM["ncc_gap_mean"])


def check_phase_sequences(plotted, fig, axes, heads):
    """Every run's whole path in its cell's panel, its plateaus thick in their circuit's colour over
    exactly the plateau's steps, its end marked by how it ended, and the predictions drawn."""
    from icmeta.figures.style import circuit_colour

    path = plotted[plotted["kind"] == "path"]
    assert len(path) == len(fx.grid(axes)) * len(fx.SEEDS) * len(STEPS), "every seed's every evaluation"
    assert np.allclose(path["acc"], _expected(path, axes, fx.acc))
    panels = np.array(fig.axes).reshape(2, 2)  # rows T = 4, 2; columns eps = 0, 0.5
    for cell in fx.grid(axes):
        ax = panels[[4, 2].index(cell.values["T"]), [0.0, 0.5].index(cell.values["eps"])]
        thin = [line for line in ax.lines if line.get_linewidth() == 0.7]
        assert len(thin) == len(fx.SEEDS)
        for seed, line in zip(fx.SEEDS, thin, strict=True):
            assert np.allclose(line.get_ydata(), [fx.acc(cell, seed, s) for s in STEPS])
        thick = [line for line in ax.lines if line.get_linewidth() == 3.0]
        want = [p for seed in fx.SEEDS for p in fx.phase_rows(cell, seed)]
        assert len(thick) == len(want)
        for line, phase in zip(thick, want, strict=True):
            steps = line.get_xdata()
            assert steps.min() >= phase["plateau_start"] and steps.max() <= phase["plateau_end"]
            assert line.get_color() == circuit_colour(phase["circuit_behaviour"])
        final = [fx.acc(cell, seed, STEPS[-1]) for seed in fx.SEEDS]
        assert [t.get_text() for t in ax.texts] == [f"end {min(final):.2f}–{max(final):.2f}"]
        ends = [line for line in ax.lines if line.get_marker() in ("o", ">")]
        assert [line.get_marker() for line in ends] == ["o" if s == 0 else ">" for s in fx.SEEDS]
        flat = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() in ("--", ":"))
        bounds = [fx.scc_prediction(cell)] * len(fx.SEEDS)
        assert np.allclose(flat, sorted([1 / cell.T, *bounds]))
    assert problems(fig) == []


def check_overview(plotted, fig, axes, heads):
    assert set(plotted.columns) == {*axes, "seed", "step", "value", "panel", "layer", "metric"}
    acc = plotted[plotted["panel"] == "accuracy"]
    assert len(acc) == len(fx.grid(axes)) * len(fx.SEEDS) * len(STEPS), "every seed's accuracy"
    assert np.allclose(acc["value"], _expected(acc, axes, fx.acc))
    layer_metrics = plotted[plotted["panel"] == "circuit metrics"]
    assert set(layer_metrics["seed"]) == {0}, "the first seed's circuits"
    assert len(layer_metrics) == len(fx.grid(axes)) * len(fx.METRIC_BASE) * len(fx.LAYERS) * len(STEPS)

    def head_mean(cell, seed, step, name, layer):
        return np.mean([fx.metric(name, int(layer), h, cell, seed, step) for h in range(1, heads + 1)])

    assert np.allclose(layer_metrics["value"], _expected(layer_metrics, axes, head_mean, "metric", "layer"))
    accuracy = [ax for ax in fig.axes if ax.get_ylabel() == "held-out accuracy"]
    assert len(accuracy) == len(fx.grid(axes))
    for cell, ax in zip(fx.grid(axes), accuracy, strict=True):
        # every seed's own curve, the followed seed 0 drawn dark and thick
        drawn = [line for line in ax.lines if len(line.get_xdata())]
        assert len(drawn) == len(fx.SEEDS) + 2  # and the lines at 1/T and 0.75
        followed = [line for line in drawn if line.get_linewidth() == 1.5]
        assert len(followed) == 1 and np.allclose(
            followed[0].get_ydata(), [fx.acc(cell, 0, s) for s in STEPS]
        )
        flat = sorted(line.get_ydata()[0] for line in drawn if line.get_linestyle() in ("--", ":"))
        assert np.allclose(flat, [1 / cell.T, 0.75])
        # the followed seed's phases, then the band of the seeds' bounds
        *shading, band = ax.patches
        assert np.isclose(band.get_y() + band.get_height() / 2, fx.scc_prediction(cell))
        spans = [(p.get_x(), p.get_x() + p.get_width()) for p in shading]
        assert np.allclose(spans, _phase_spans(cell, [0])), "seed 0's phases, the ones its maps show"
    metric_panels = [ax for ax in fig.axes if ax.get_title() in {f"layer {layer}" for layer in fx.LAYERS}]
    assert len(metric_panels) == len(fx.LAYERS) * len(fx.grid(axes))
    maps = [ax for ax in fig.axes if ax.images]
    n_maps = sum(len(fx.whens(cell, 0)) for cell in fx.grid(axes)) * len(fx.LAYERS)
    assert len(maps) == n_maps
    expected = [
        np.mean([fx.attention_map(cell, 0, w, layer, h) for h in range(1, heads + 1)], axis=0)
        for cell in fx.grid(axes)
        for w in range(len(fx.whens(cell, 0)))
        for layer in fx.LAYERS
    ]
    shown = [np.asarray(ax.images[0].get_array()) for ax in maps]
    for want in expected:  # every phase's head-averaged map appears
        assert any(np.allclose(got, want) for got in shown)
    assert all(
        re.search(r"(q → pair \d: |q spreads over \d pairs \(top )\d+%\)?$", ax.get_title()) for ax in maps
    )


def check_accuracy_loss(plotted, fig, axes, heads):
    _assert_curves(plotted, axes, ["acc", "loss"])
    panels = np.array(fig.axes).reshape(-1, 2)
    for cell, (ax_acc, ax_loss) in zip(fx.grid(axes), panels, strict=True):
        _assert_means(ax_acc, [_seed_mean(fx.acc, cell)])
        _assert_means(ax_loss, [_seed_mean(fx.loss, cell)])
        _assert_shading(ax_acc, cell)
        _assert_shading(ax_loss, cell)


def check_attention_maps(plotted, fig, axes, heads):
    assert set(plotted["seed"]) == {0}, "maps of the first seed"
    when = plotted.apply(lambda r: fx.whens(fx.cell_of(r, axes), 0).index(r["when"]), axis=1)
    want = [
        fx.map_weight(fx.cell_of(r, axes), 0, w, r["layer"], r["head"], r["row"], r["col"])
        for w, (_, r) in zip(when, plotted.iterrows(), strict=True)
    ]
    assert np.allclose(plotted["weight"], want)
    rows = [(cell, w) for cell in fx.grid(axes) for w in range(len(fx.whens(cell, 0)))]
    assert len(plotted) == len(rows) * len(fx.LAYERS) * heads * fx.MAP_SIZE**2
    columns = [(layer, head) for layer in fx.LAYERS for head in range(1, heads + 1)]
    *maps, colour_bar = fig.axes  # one colour bar for every map, on the same 0..1 scale
    assert colour_bar.get_ylabel().startswith("attention weight") and colour_bar.get_ylim() == (0, 1)
    panels = np.array(maps).reshape(len(rows), len(columns))  # a block per cell and phase, in order
    for (cell, w), row in zip(rows, panels, strict=True):
        for (layer, head), ax in zip(columns, row, strict=True):
            block_title = f"{cell.label(axes)}, seed 0 · {fx.whens(cell, 0)[w]}"
            assert ax.get_figure(root=False).get_suptitle() == block_title
            shown = np.asarray(ax.images[0].get_array())
            expected = fx.attention_map(cell, 0, w, layer, head)
            assert np.allclose(shown, expected), (cell, w, layer, head)
            pairs = expected[-1, :-1].reshape(-1, 2).sum(1)  # the query's attention on pair 1, 2
            top, share = int(np.argmax(pairs)), pairs.max() / pairs.sum()
            reads = f"q → pair {top + 1}: {share:.0%} of pair attention"
            spread = f"q spreads over {len(pairs)} pairs (top {share:.0%})"
            assert ax.get_title().endswith(reads if share >= 1.5 / len(pairs) else spread)


def check_delta_acc(plotted, fig, axes, heads):
    assert set(plotted.columns) == {*axes, "seed", "step", "acc", "delta_acc"}
    assert set(plotted["seed"]) == {0}, "the first seed's run"
    dt = fx.PAPER_DT
    panels = [ax for ax in fig.axes if ax.get_title()]  # each with its ΔAcc twin, which has none
    assert len(fig.axes) == 2 * len(panels)
    for cell, ax in zip(fx.grid(axes), panels, strict=True):
        part = plotted[[fx.cell_of(r, axes) == cell for _, r in plotted.iterrows()]]
        assert part["step"].tolist() == list(range(dt, 3001, dt))
        assert np.allclose(part["acc"], [fx.acc(cell, 0, s) for s in part["step"]])
        ahead = [fx.acc(cell, 0, s + dt) if s + dt <= 3000 else np.nan for s in part["step"]]
        assert np.allclose(part["delta_acc"], np.array(ahead) - part["acc"].to_numpy(), equal_nan=True)
        p1, p2, p3 = fx.plateaus(cell)
        jumps = part.set_index("step")["delta_acc"]
        assert jumps[[800, 1800, 2800]].tolist() == pytest.approx([p2 - p1, p3 - p2, fx.LAST_BUMP])
        assert np.allclose(jumps.drop([800, 1800, 2800, 3000]), 0) and np.isnan(jumps[3000])
        marked = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"]
        assert marked == fx.transition_steps(cell, 0)
        plural = "" if len(marked) == 1 else "s"
        assert ax.get_title().endswith(f"seed 0: {len(marked)} paper-rule transition{plural}")
        _assert_shading(ax, cell, seeds=[0])
        (twin,) = [other for other in fig.axes if other is not ax and other.bbox.bounds == ax.bbox.bounds]
        (curve,) = [line for line in twin.lines if len(line.get_xdata()) > 2]
        assert np.allclose(curve.get_ydata(), part["delta_acc"], equal_nan=True)


def check_circuit_metrics(plotted, fig, axes, heads):
    assert set(plotted.columns) == {*axes, "seed", "step", "acc", "metric", "layer", "head", "value"}
    assert set(plotted["seed"]) == {0}, "the first seed's run"
    n_metrics = len(fx.MAP_METRIC_BASE)
    assert len(plotted) == len(fx.grid(axes)) * n_metrics * len(fx.LAYERS) * heads * len(STEPS)
    assert sorted(plotted["head"].unique()) == list(range(1, heads + 1))

    def of_column(cell, seed, step, name, layer, head):
        return fx.metric(name, layer, head, cell, seed, step)

    want = _expected(plotted, axes, of_column, "metric", "layer", "head")
    assert np.allclose(plotted["value"], want)
    assert np.allclose(plotted["acc"], _expected(plotted, axes, fx.acc))
    panels = np.array(fig.axes).reshape(-1, n_metrics)
    rows = [(cell, head) for cell in fx.grid(axes) for head in range(1, heads + 1)]
    for (cell, head), row in zip(rows, panels, strict=True):
        for name, ax in zip(fx.MAP_METRIC_BASE, row, strict=True):
            lines = {line.get_label(): line.get_ydata() for line in ax.lines}
            for layer in fx.LAYERS:
                assert np.allclose(
                    lines[f"layer {layer}"], [fx.metric(name, layer, head, cell, 0, s) for s in STEPS]
                )
            assert np.allclose(lines["accuracy"], [fx.acc(cell, 0, s) for s in STEPS])
            _assert_shading(ax, cell, seeds=[0])


def check_pair_attention(plotted, fig, axes, heads):
    assert set(plotted.columns) == {*axes, "seed", "step", "acc", "panel", "pair", "value"}
    assert set(plotted["seed"]) == {0}, "the first seed's run"

    def want(cell, panel, k, step):
        head_mean = lambda name, layer, k=k: np.mean(  # noqa: E731
            [fx.pair_metric(name, k, layer, h, cell, 0, step) for h in range(1, heads + 1)]
        )
        if panel == "layer 1: ℓk's attention on its own item xk":
            return head_mean("label_item", 1)
        # the pair's share of the query's attention on all pairs, as the attention maps quote it
        layer = int(panel.split(":")[0].removeprefix("layer "))
        pairs = range(1, fx.N_PAIRS + 1)
        on_pair = [head_mean("q_label", layer, j) + head_mean("q_item", layer, j) for j in pairs]
        return on_pair[k - 1] / sum(on_pair)

    expected = [want(fx.cell_of(r, axes), r["panel"], r["pair"], r["step"]) for _, r in plotted.iterrows()]
    assert np.allclose(plotted["value"], expected)
    panel_names = [f"layer {layer}: pair k's share of q's pair attention" for layer in fx.LAYERS]
    panel_names += ["layer 1: ℓk's attention on its own item xk"]
    assert list(dict.fromkeys(plotted["panel"])) == panel_names
    panels = np.array(fig.axes).reshape(len(fx.grid(axes)), len(panel_names))
    for cell, row in zip(fx.grid(axes), panels, strict=True):
        for name, ax in zip(panel_names, row, strict=True):
            lines = {line.get_label(): line.get_ydata() for line in ax.lines}
            for k in range(1, fx.N_PAIRS + 1):
                assert np.allclose(lines[f"pair {k}"], [want(cell, name, k, s) for s in STEPS])
            assert np.allclose(lines["accuracy"], [fx.acc(cell, 0, s) for s in STEPS])
            _assert_shading(ax, cell, seeds=[0])


def check_encoding_study(plotted, fig, axes, heads):
    assert set(plotted.columns) == {*axes, "seed", "kind", "circuit", "start", "end", "value"}
    left, right = fig.axes[:2]
    _assert_means(left, [_seed_mean(fx.acc, cell) for cell in fx.grid(axes)])
    runs = [(cell, seed) for cell in fx.grid(axes) for seed in fx.SEEDS]
    bars = iter(right.patches)
    for y, (cell, seed) in enumerate(runs):
        mine = plotted[[fx.cell_of(r, axes) == cell and r["seed"] == seed for _, r in plotted.iterrows()]]
        plateaus = mine[mine["kind"] == "plateau"]
        want = fx.phase_rows(cell, seed)
        assert plateaus["circuit"].tolist() == [p["circuit_behaviour"] for p in want]
        assert plateaus["start"].tolist() == [p["plateau_start"] for p in want]
        assert plateaus["end"].tolist() == [p["plateau_end"] for p in want]
        assert np.allclose(plateaus["value"], [p["plateau_acc"] for p in want])
        for p in want:  # drawn in order: a bar per plateau at the run's row
            bar = next(bars)
            assert bar.get_y() + bar.get_height() / 2 == pytest.approx(y)
            assert (bar.get_x(), bar.get_x() + bar.get_width()) == pytest.approx(
                (p["plateau_start"], p["plateau_end"])
            )
        for level in ("0.3", "0.6", "0.95"):
            step = mine.loc[mine["kind"] == f"reaches {level}", "start"].iloc[0]
            expected = fx.first_step_at(cell, seed, float(level))
            assert (np.isnan(step) and expected == -1) or step == expected
        rla = mine.loc[mine["kind"] == "final RLA", "value"].iloc[0]
        assert rla == pytest.approx(fx.rla_acc(cell, seed, 3000))
        assert f"RLA {rla:.2f}" in [t.get_text() for t in right.texts]
    assert len(right.get_yticklabels()) == len(runs)
    # each row's label in its setting's curve colour, and a rule between settings
    curve = {line.get_label(): line.get_color() for line in left.lines if line.get_linewidth() == MEAN_LW}
    for tick in right.get_yticklabels():
        assert tick.get_color() == curve[tick.get_text().rsplit(" · ", 1)[0]]
    rules = [line for line in right.lines if line.get_xdata()[0] == 0 and len(line.get_xdata()) == 2]
    assert len(rules) == len(fx.grid(axes)) - 1


def check_random_label(plotted, fig, axes, heads):
    _assert_curves(plotted, axes, ["acc", "rla_acc"])
    for cell, ax in zip(fx.grid(axes), fig.axes, strict=False):
        _assert_means(ax, [_seed_mean(fx.acc, cell), _seed_mean(fx.rla_acc, cell)])
        _assert_shading(ax, cell)
    # on the second plateau the random-label accuracy lies 0.1 below the held-out one
    mid = plotted[plotted["step"] == 1500]
    assert (mid["acc"] - mid["rla_acc"]).to_numpy() == pytest.approx(0.1)


def check_per_task(plotted, fig, axes, heads):
    tasks = range(1, max(fx.AXIS_VALUES["T"]) + 1)
    _assert_curves(plotted, axes, ["acc", *(f"acc_task{t}" for t in tasks)])
    assert plotted.loc[plotted["T"] == 2, "acc_task3"].isna().all(), "T = 2 has no task 3"
    *panels, key = fig.axes  # the panels wrap; the legend has the slot after the last one
    titles = [ax.get_title() for ax in panels]
    assert titles == ["average", *(f"task τ = {t}" for t in tasks)]
    assert not key.axison and [t.get_text() for t in key.get_legend().get_texts()] == [
        c.label(axes) for c in fx.grid(axes)
    ]
    _assert_means(panels[0], [_seed_mean(fx.acc, c) for c in fx.grid(axes)])
    for t, ax in zip(tasks, panels[1:], strict=True):
        cells = [c for c in fx.grid(axes) if t <= c.T]
        _assert_means(ax, [_seed_mean(lambda c, s, step, t=t: fx.task_acc(c, s, step, t), c) for c in cells])
    # the split of a T = 4 cell around its average: task 1 (the most frequent) highest
    four = plotted[plotted["T"] == 4]
    split = [(four[f"acc_task{t}"] - four["acc"]).mean() for t in tasks]
    assert split == pytest.approx([0.03, 0.01, -0.01, -0.03])


def check_plateau_predictions(plotted, fig, axes, heads):
    assert set(plotted.columns) == {*axes, "prediction", "measured", "measured_sd", "seeds", "gap"}
    assert len(plotted) == len(fx.grid(axes))
    for (_, row), cell in zip(plotted.iterrows(), fx.grid(axes), strict=True):
        assert fx.cell_of(row, axes) == cell
        predicted = fx.circuit_prediction(cell)
        predicted = fx.scc_prediction(cell) if np.isnan(predicted) else predicted
        measured = fx.plateaus(cell)[2] + fx.LAST_BUMP / 4  # the last tenth: 2700 .. 3000
        assert (row["prediction"], row["measured"]) == pytest.approx((predicted, measured))
        assert (row["measured_sd"], row["seeds"], row["gap"]) == pytest.approx((SD, 3, measured - predicted))
    ax = fig.axes[0]
    _assert_means(ax, [_seed_mean(fx.acc, c) for c in fx.grid(axes)])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    labels = [c.label(axes) for c in fx.grid(axes)]
    assert legend == [
        f"{label}: {m:.3f} ± {SD:.3f}, predicted {p:.3f}"
        for label, m, p in zip(labels, plotted["measured"], plotted["prediction"], strict=True)
    ]
    assert len(fig.axes) == 1 and not ax.tables  # the numbers are in the legend, readable
    dashed = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "--")
    assert dashed == pytest.approx(sorted(plotted["prediction"]))


def _reference_cell(cell, axes):
    """The cell compared with: the reference setting of the first axis, the same other axes."""
    values = fx.AXIS_VALUES[axes[0]]
    reference = "none" if axes[0] == "clamp" else values[0]
    (ref,) = [c for c in fx.grid(axes) if c.values == {**cell.values, axes[0]: reference}]
    return ref


def check_onset_shifts(plotted, fig, axes, heads):
    """Exact for the onsets every run reaches (censored ones: test_onset_shifts_against_the_unclamped_run)."""
    from icmeta.figures.onset_shifts import ONSETS

    axis, cells = axes[0], fx.grid(axes)
    runs = {(c.index, s): fx.summary_row(c, s) for c in cells for s in fx.SEEDS}
    reached = {o for o in ONSETS if any(r[o] >= 0 for r in runs.values())}  # NaN or -1: not reached
    assert set(plotted["onset"]) == reached
    table = plotted.set_index([axis, "onset"])
    for onset in ("ncc_onset", "ncc_dwell", "phase1_onset"):
        for value in fx.AXIS_VALUES[axis]:
            mine = [c for c in cells if c.values[axis] == value]
            steps = [runs[c.index, s][onset] for c in mine for s in fx.SEEDS]
            ref_steps = [runs[_reference_cell(c, axes).index, s][onset] for c in mine for s in fx.SEEDS]
            row = table.loc[(value, onset)]
            assert row["median"] == np.median(steps)
            assert (row["q25"], row["q75"]) == tuple(np.quantile(steps, [0.25, 0.75]))
            assert row["shift_vs_reference"] == np.median(steps) - np.median(ref_steps)
            diffs = np.subtract(steps, ref_steps)  # same seed, same other axes
            assert (row["paired_shift"], row["pairs"]) == (np.median(diffs), len(diffs))
            assert row["seeds"] == row["runs"] == len(mine) * len(fx.SEEDS)
    panels = {ax.get_title(): ax for ax in fig.axes}
    reference = table.loc[(fx.AXIS_VALUES[axis][0], "ncc_onset"), "median"]
    dashed = [
        line.get_xdata()[0] for line in panels["NCC phase begins"].lines if line.get_linestyle() == "--"
    ]
    assert dashed == [reference]


def check_clamp_curves(plotted, fig, axes, heads):
    assert set(plotted.columns) == {"step", "quantity", "value", "cell", "curve"}
    names = [f"{name}_L{layer}" for name in fx.METRIC_BASE for layer in fx.LAYERS]
    assert set(plotted["quantity"]) == {"acc", *names}
    assert sorted(plotted["step"].unique()) == STEPS.tolist()
    cells = {c.label(axes): c for c in fx.grid(axes)}
    assert set(plotted["cell"]) == set(cells)
    for (label, curve, quantity), part in plotted.groupby(["cell", "curve", "quantity"]):
        cell = cells[label] if curve == "setting" else _reference_cell(cells[label], axes)
        if quantity == "acc":
            want = [fx.acc_level(cell, s) for s in part["step"]]
        else:
            name, layer = quantity.rsplit("_L", 1)
            want = [fx.metric_layer_mean(name, int(layer), heads, cell, s) for s in part["step"]]
        assert np.allclose(part["value"], want), (label, curve, quantity)
    panels = np.array(fig.axes).reshape(len(cells), 1 + len(fx.METRIC_BASE))
    for cell, row in zip(cells.values(), panels, strict=True):
        _assert_means(row[0], [_seed_mean(fx.acc, cell)])
        switches = fx.clamp_switches(cell)
        for ax in row:
            _assert_shading(ax, cell)
            dotted = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":"]
            assert dotted == ([] if pd.isna(switches) else [500, 1500])


CHECKS = {
    "learning_curves": check_learning_curves,
    "final_accuracy": check_final_accuracy,
    "phase_diagram": check_phase_diagram,
    "phase_sequences": check_phase_sequences,
    "overview": check_overview,
    "accuracy_loss": check_accuracy_loss,
    "attention_maps": check_attention_maps,
    "delta_acc": check_delta_acc,
    "circuit_metrics": check_circuit_metrics,
    "encoding_study": check_encoding_study,
    "pair_attention": check_pair_attention,
    "random_label": check_random_label,
    "per_task": check_per_task,
    "plateau_predictions": check_plateau_predictions,
    "onset_shifts": check_onset_shifts,
    "clamp_curves": check_clamp_curves,
}


def test_every_figure_has_a_check():
    assert list(CHECKS) == list(NAMES)


@pytest.mark.parametrize("figure", NAMES)
@pytest.mark.parametrize("axes", list(HEADS))
def test_figure_plots_the_fixture_values(tmp_path, monkeypatch, figure, axes):
    if figure in ("phase_diagram", "phase_sequences") and len(axes) == 1:
        tables = fx.write_tables(tmp_path, axes)
        with pytest.raises(ValueError, match="two axes"):
            draw(figure, tables, axes, "t", *(tmp_path / f"a.{ext}" for ext in ("png", "pdf", "csv")))
        return
    fig, plotted = _draw(figure, axes, tmp_path, monkeypatch, HEADS[axes])
    CHECKS[figure](plotted, fig, axes, HEADS[axes])
    assert problems(fig) == [], "the figure lint (docs/figures.md#the-figure-lint)"


def test_the_fixture_has_the_documented_values():
    """The closed-form rules, spelled out: what the checks above rely on."""
    assert np.mean(list(fx.SEED_OFFSET.values())) == pytest.approx(0)
    assert np.median(list(fx.SEED_OFFSET.values())) == pytest.approx(-0.01)
    last = fx.grid(("T", "eps"))[-1]
    assert last.values == {"T": 4, "eps": 0.5}
    assert fx.plateaus(last) == pytest.approx((0.28, 0.75, 0.86))
    assert [fx.acc(last, 0, s) for s in (500, 1500, 2500, 3000)] == pytest.approx([0.31, 0.78, 0.89, 0.93])
    assert fx.loss(last, 0, 500) == pytest.approx(3 - 2 * 0.31)
    assert fx.rla_acc(last, 1, 1500) == pytest.approx(0.75 - 0.1 - 0.01)
    assert fx.task_split(4) == pytest.approx([0.03, 0.01, -0.01, -0.03])
    assert fx.metric("label_attn", 2, 1, last, 2, 1500) == pytest.approx(0.4 + 0.1 + 0.03 + 0.02 - 0.02)
    assert fx.circuits(last, 2) == ["NCC", "SCC"] and fx.circuits(fx.grid(("T",))[0], 0) == ["NCC", "FCC"]
    row = fx.summary_row(last, 0)
    assert (row["final_acc"], row["late_acc"], row["n_phases"]) == pytest.approx((0.93, 0.90, 3))
    assert (row["ncc_onset"], row["scc_onset"], row["phase3_onset"]) == (130, 1030, 2030)


def test_onset_shifts_against_the_unclamped_run(tmp_path, monkeypatch):
    """On the clamp axis the unclamped setting is the reference, though it comes second; onsets most
    runs never reach have no median; shifts are paired by seed within the same T."""
    _, plotted = _draw("onset_shifts", ("clamp", "T"), tmp_path, monkeypatch)
    table = plotted.set_index(["clamp", "onset"])
    columns = ["median", "q25", "q75", "seeds", "runs", "shift_vs_reference", "paired_shift", "pairs"]
    expected = {
        # NCC starts 100, 200, 500 (+ 10 c; cells block/2, block/4, none/2, none/4 are c = 0 .. 3)
        ("block", "ncc_onset"): [205, 132.5, 427.5, 6, 6, -20, -20, 6],
        ("none", "ncc_onset"): [225, 152.5, 447.5, 6, 6, 0, 0, 6],
        # the SCC in the seeds below c: block has 1010 only, none 1020, 1120, 1030, 1130, 1430
        ("block", "scc_onset"): [NAN, NAN, NAN, 1, 6, NAN, -20, 1],
        ("none", "scc_onset"): [1125, 1052.5, 1355, 5, 6, 0, 0, 5],
        # the second phase: block 2000, 2100, -, 1010, 2110, -; none 1020, 1120, -, 1030, 1130, 1430;
        # pairs (same T and seed) 980, 980, -20, 980 (pairing by seed alone would average over T: 730)
        ("block", "phase2_onset"): [2105, 2025, NAN, 4, 6, 980, 980, 4],
        ("none", "phase2_onset"): [1125, 1052.5, 1355, 5, 6, 0, 0, 5],
        ("block", "ncc_dwell"): [650, 225, 850, 6, 6, -200, -200, 6],
        # only seed 0 of none/2 and none/4 reaches accuracy 0.9, at the last step
        ("none", "step_acc_0.9"): [NAN, NAN, NAN, 2, 6, NAN, 0, 2],
        ("block", "step_acc_0.9"): [NAN, NAN, NAN, 0, 6, NAN, NAN, 0],
    }
    for key, values in expected.items():
        assert np.allclose(table.loc[key, columns].astype(float), values, equal_nan=True), key


def test_clamp_curves_compare_each_cell_with_the_unclamped_one(tmp_path, monkeypatch):
    axes = ("clamp", "T")
    fig, plotted = _draw("clamp_curves", axes, tmp_path, monkeypatch, heads=2)
    check_clamp_curves(plotted, fig, axes, heads=2)
    values = plotted.set_index(["cell", "curve", "quantity", "step"])["value"]
    assert values[("clamp=block, T=2", "setting", "acc", 500)] == pytest.approx(0.5)
    assert values[("clamp=block, T=2", "reference", "acc", 500)] == pytest.approx(0.52), "none/2: c = 2"
    assert values[("clamp=none, T=4", "reference", "acc", 1500)] == pytest.approx(0.75), "itself"
    # Bigram of layer 2, mean of heads 1 and 2: 0.1 + 0.1 + 0.015, + 0.02 on the second plateau
    assert values[("clamp=block, T=2", "setting", "bigram_L2", 1500)] == pytest.approx(0.235)


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


def test_delta_acc_reads_the_paper_grid():
    from icmeta.figures.delta_acc import delta_acc

    run = pd.DataFrame({"step": [0, 50, 100, 150, 200], "acc": [0.1, 0.9, 0.2, 0.9, 0.5]})
    curve = delta_acc(run, 100)
    assert curve["step"].tolist() == [0, 100, 200]
    assert curve["delta_acc"].tolist()[:2] == pytest.approx([0.1, 0.3])
    assert np.isnan(curve["delta_acc"].iloc[-1])


def _one_run(steps, acc, phase_start=0):
    """Tables of one run (T = 3, seed 0) with accuracy `acc` over `steps` and one phase from
    `phase_start` (the detector starts the first phase at step 0) to the last step."""
    ident = {"T": 3, "seed": 0}
    return {
        "metrics": pd.DataFrame({**ident, "step": steps, "acc": acc, "loss": 1.0}),
        "runs": pd.DataFrame(
            [{**ident, "paper_dt": 100, "paper_threshold": 0.01, "transition_steps": "300"}]
        ),
        "phases": pd.DataFrame([{**ident, "phase": 1, "start_step": phase_start, "plateau_end": steps[-1]}]),
    }


def test_delta_acc_gets_its_own_axis_scaled_to_its_values():
    """ΔAcc of ±0.02 on its own axis, symmetric about 0 and just wider than the data, with a zero line;
    accuracy keeps 0 to 1. The phase from step 0 is shaded from the first evaluation, and the step
    axis starts at the first ΔAcc, not at step 1."""
    from icmeta.figures import delta_acc

    steps = np.arange(0, 1001, 100)
    tables = _one_run(steps, 0.5 + 0.02 * (np.arange(len(steps)) % 2))
    fig, plotted = delta_acc.draw(tables, ["T"], "t")
    ax, twin = fig.axes
    assert plotted["delta_acc"].abs().max() == pytest.approx(0.02)
    assert twin.get_ylim() == pytest.approx((-0.023, 0.023))
    assert [line.get_ydata()[0] for line in twin.lines if line.get_xdata()[-1] == 1] == [0, 0.01]
    assert ax.get_ylim() == (0, 1.02) and ax.get_xlim() == (100, 1000)
    assert ax.patches[0].get_x() == 100
    assert twin.get_ylabel().startswith("ΔAcc") and ax.get_ylabel() == "held-out accuracy"
    # a threshold above every ΔAcc stays on the axis
    fig, _ = delta_acc.draw({**tables, "runs": tables["runs"].assign(paper_threshold=0.05)}, ["T"], "t")
    assert fig.axes[1].get_ylim() == pytest.approx((-0.0575, 0.0575))


@pytest.mark.parametrize("figure", ["circuit_metrics", "clamp_curves"])
def test_shading_from_step_0_leaves_the_step_axis_at_the_first_evaluation(figure):
    """The detector starts the first phase at step 0, which a log axis cannot show: the shading starts
    at the first evaluation (100) and every panel's axis spans the evaluations, not steps 1 to 1000."""
    from importlib import import_module

    from icmeta.network.circuits import MAP_METRICS

    steps = np.arange(0, 1001, 100)
    tables = _one_run(steps, np.linspace(0.1, 0.9, len(steps)))
    columns = {f"{name}_L{layer}H1": 0.3 for name in MAP_METRICS for layer in fx.LAYERS}
    tables["metrics"] = tables["metrics"].assign(**columns)
    fig, _ = import_module(f"icmeta.figures.{figure}").draw(tables, ["T"], "t")
    for ax in fig.axes:
        assert ax.get_xlim() == (100, 1000)
        assert [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches] == [(100, 1000)]


@pytest.mark.parametrize(("axes", "cell"), [(["T"], "T = 3"), (["T", "eps"], "T = 3, eps = 0")])
def test_final_accuracy_of_one_cell_shows_every_seed(axes, cell):
    """A block of one cell (a point plot's single dot, a heatmap's single square) shows one labelled
    point per seed over the seed mean and the seeds' range, and passes the lint."""
    from icmeta.figures import final_accuracy

    runs = pd.DataFrame({"T": 3, "eps": 0.0, "seed": [2, 0, 1], "final_acc": [0.9993, 0.997, 0.9951]})
    fig, table = final_accuracy.draw({"runs": runs}, axes, "t")
    (ax,) = fig.axes
    (points,) = ax.collections
    assert points.get_offsets().tolist() == [[0, 0.997], [1, 0.9951], [2, 0.9993]], "in seed order"
    assert [t.get_text() for t in ax.texts] == ["0.997", "0.995", "0.999"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["seeds' range 0.995–0.999", "seed mean 0.997"]
    assert ax.get_xlabel() == f"seed ({cell})"
    assert table["mean"].tolist() == pytest.approx([runs["final_acc"].mean()]) and len(table) == 1
    assert problems(fig) == []


def test_pair_attention_plots_the_share_of_pair_attention_the_maps_quote():
    """A query that keeps 0.55 of its attention on itself and gives pair 1 0.3, pair 2 0.15: pair 1
    holds 0.3 of all its attention but 2/3 of its attention on pairs, the share the attention maps
    quote, and that is what is plotted; a layer whose query sees no pair has no share to draw."""
    from icmeta.figures import pair_attention
    from icmeta.figures.attention_maps import query_pair_reading

    steps = np.arange(0, 1001, 100)
    tables = _one_run(steps, 0.5)
    on = {
        "q_label1": 0.2,
        "q_item1": 0.1,
        "q_label2": 0.1,
        "q_item2": 0.05,
        "label_item1": 0.4,
        "label_item2": 0.3,
    }
    columns = {
        f"{name}_L{layer}H1": value * (layer == 1) for name, value in on.items() for layer in fx.LAYERS
    }
    fig, _ = pair_attention.draw({**tables, "metrics": tables["metrics"].assign(**columns)}, ["T"], "t")
    query = np.array([[0.2, 0.1, 0.1, 0.05, 0.55]])  # the query row of a map: x1, l1, x2, l2, q
    assert query_pair_reading(query) == (1, pytest.approx(2 / 3))
    layer1, layer2, labels = fig.axes
    lines = {line.get_label(): np.asarray(line.get_ydata()) for line in layer1.lines}
    assert np.allclose(lines["pair 1"], 2 / 3) and np.allclose(lines["pair 2"], 1 / 3)
    assert np.allclose(lines["1/N: every pair alike"], 0.5)
    assert all(
        np.isnan(line.get_ydata()).all() for line in layer2.lines if line.get_label().startswith("pair")
    )
    label_lines = {line.get_label(): np.asarray(line.get_ydata()) for line in labels.lines}
    assert np.allclose(label_lines["pair 1"], 0.4), "the label's attention on its item, as it is"
    assert layer1.get_ylabel() == "pair k's share of the\nquery's attention on pairs"
    assert layer1.get_title().startswith("layer 1: pair k's share of q's pair attention")


def test_every_figure_has_a_caption():
    for name in NAMES:
        assert "Reproduces" in describe(name) and len(describe(name)) > 80
        assert set(tables_of(name)) <= {"metrics", "runs", "phases", "phase_maps"}


@pytest.mark.parametrize("figure", ["final_accuracy", "onset_shifts"])
def test_a_figure_with_jittered_dots_is_the_same_whatever_the_process_drew_before(figure, tmp_path):
    tables = fx.write_tables(tmp_path, ("T",), 1)
    drawn = []
    for before in (0, 1000):
        np.random.uniform(size=before)
        outside = np.random.get_state()[1].copy()
        out = tmp_path / f"{before}"
        draw(
            figure,
            tables,
            ("T",),
            "fixture",
            out.with_suffix(".png"),
            out.with_suffix(".pdf"),
            out.with_suffix(".csv"),
        )
        drawn.append(out.with_suffix(".png").read_bytes())
        assert np.array_equal(np.random.get_state()[1], outside), "the process's own generator is restored"
    assert drawn[0] == drawn[1]


def test_unknown_figure_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown figure 'fig99'"):
        draw("fig99", {}, ("T",), "t", "a.png", "a.pdf", "a.csv")


def test_running_median_removes_short_spikes_and_keeps_monotone_stretches():
    rise = pd.Series([0.1, 0.1, 0.2, 0.35, 0.35, 0.35, 0.6, 0.9, 1.0, 1.0])
    assert running_median(rise).tolist() == rise.tolist()
    spiky = pd.Series(
        [0.9, 0.9, 0.3, 0.9, 0.9, 0.9, 0.9, 0.2, 0.25, 0.9, 0.9, 0.9]
    )  # 1- and 2-evaluation drops
    assert running_median(spiky).tolist() == [0.9] * 12
    assert running_median(pd.Series([0.5, 0.9, 0.9, 0.9, 0.1])).tolist() == [
        0.5,
        0.9,
        0.9,
        0.9,
        0.1,
    ]  # the ends


def test_seed_means_skip_empty_values_instead_of_breaking_the_line():
    import matplotlib.pyplot as plt

    from icmeta.figures.panels import mean_with_seeds

    steps = np.arange(0, 1001, 100)
    full = steps % 500 == 0  # a secondary metric measured every 500 steps only
    rows = pd.concat(
        pd.DataFrame({"seed": s, "step": steps, "rla_acc": np.where(full, 0.1 * (s + 1), np.nan)})
        for s in (0, 1)
    )
    fig, ax = plt.subplots()
    mean_with_seeds(ax, rows, "rla_acc", "C0", "RLA")
    *seeds, mean = ax.get_lines()
    assert [list(line.get_xdata()) for line in seeds] == [[0, 500, 1000]] * 2
    assert list(mean.get_xdata()) == [0, 500, 1000] and np.allclose(mean.get_ydata(), 0.15)
    plt.close(fig)


def test_seed_mean_is_dotted_where_the_seeds_split():
    """Two seeds, one staying at 0.5 and one rising to 1.0: their mean (0.75) is a level no run sits
    on, so from the split on it is drawn dotted, and solid only where the seeds agree."""
    import matplotlib.pyplot as plt

    from icmeta.figures.panels import mean_with_seeds

    steps = np.arange(100, 3001, 100)
    late = steps > 1500
    rows = pd.concat(
        pd.DataFrame({"seed": s, "step": steps, "acc": np.where(late, 0.5 + 0.5 * s, 0.5)}) for s in (0, 1)
    )
    fig, ax = plt.subplots()
    mean_with_seeds(ax, rows, "acc", "C0", "acc")
    *seeds, solid, dotted = ax.get_lines()
    assert len(seeds) == 2 and solid.get_linestyle() == "-" and dotted.get_linestyle() == ":"
    solid_y, dotted_y = np.asarray(solid.get_ydata()), np.asarray(dotted.get_ydata())
    assert np.allclose(solid_y[steps <= 1500], 0.5) and np.isnan(solid_y[late]).all()
    assert np.allclose(dotted_y[late], 0.75) and np.isnan(dotted_y[steps < 1500]).all()
    assert dotted_y[steps == 1500] == pytest.approx(0.5)  # the dotted stretch meets the solid one
    plt.close(fig)


def test_learning_curve_colours_follow_the_axis_values_in_order():
    """Cells listed as ε = 1, 0, 0.5 get the legend 0, 0.5, 1 under the axis' name, in an ordered
    palette (neighbouring ε look alike)."""
    from icmeta.figures import learning_curves

    steps = np.arange(100, 1001, 100)
    metrics = pd.concat(
        pd.DataFrame({"eps": eps, "seed": 0, "step": steps, "acc": 0.5, "loss": 1.0})
        for eps in (1.0, 0.0, 0.5)
    )
    fig, _ = learning_curves.draw({"metrics": metrics}, ["eps"], "t")
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["0", "0.5", "1"]
    assert legend.get_title().get_text() == "ε (within-class item noise)"
    colours = {line.get_label(): line.get_color() for line in fig.axes[0].lines if line.get_lw() == MEAN_LW}
    assert colours["0"] != colours["0.5"] != colours["1"]


def test_learning_curves_wrap_six_panels_readably_and_tell_neighbouring_values_apart():
    """Six T by six ε (the phase-diagram block): the panels wrap into rows of at most three, so the
    figure passes the lint at page width; the axis starts at the first evaluation; neighbouring ε
    differ clearly in colour (a viridis ramp leaves them 0.13 apart in RGB) and darken in order."""
    from icmeta.figures import learning_curves

    steps = np.arange(0, 3001, 100)
    T_values, eps_values = (1, 2, 3, 4, 6, 8), (0, 0.1, 0.25, 0.5, 0.75, 1)
    metrics = pd.concat(
        pd.DataFrame({"T": T, "eps": eps, "seed": seed, "step": steps, "acc": 0.1 * i, "loss": 3.0 - 0.1 * i})
        for T in T_values
        for i, eps in enumerate(eps_values)
        for seed in (0, 1)
    )
    fig, _ = learning_curves.draw({"metrics": metrics}, ["T", "eps"], "t")
    assert problems(fig) == []
    panels = _learning_curve_panels(fig, len(T_values))
    assert max(ax.get_subplotspec().colspan.start for ax in fig.axes) == learning_curves.MAX_COLUMNS - 1
    for (acc, loss), T in zip(panels, T_values, strict=True):
        assert acc.get_title() == f"T (tasks) = {T}"
        assert len([line for line in loss.lines if line.get_lw() == MEAN_LW]) == len(eps_values)
        assert acc.get_xlim() == (100, 3000)
    means = {line.get_label(): line.get_color() for line in panels[0][0].lines if line.get_lw() == MEAN_LW}
    rgb = np.array([means[f"{eps:g}"] for eps in eps_values])
    assert np.linalg.norm(np.diff(rgb, axis=0), axis=1).min() > 0.25
    assert np.all(np.diff(rgb @ [0.2126, 0.7152, 0.0722]) > 0), "lighter with every value"


@pytest.mark.parametrize("level", [0.6, 0.9])
def test_cells_count_the_seeds_that_solved_the_task_and_their_median_step(monkeypatch, level):
    """At 0.6 every seed gets there, at 0.9 one seed in two cells and none in the others."""
    monkeypatch.setattr(cells, "SOLVED_AT", level)
    table = cells.cell_stats(fx.experiment_tables(["T", "eps"])["runs"], ["T", "eps"]).set_index(["T", "eps"])
    for cell in fx.grid(["T", "eps"]):
        reached = [s for s in (fx.first_step_at(cell, seed, level) for seed in fx.SEEDS) if s >= 0]
        row = table.loc[(cell.values["T"], cell.values["eps"])]
        assert row["solved"] == len(reached)
        assert np.isclose(row["solved_median"], np.median(reached) if reached else np.nan, equal_nan=True)
    assert set(table["solved"]) == ({3} if level == 0.6 else {0, 1})


def test_phase_diagram_says_when_the_seeds_solved_the_task(monkeypatch):
    """Each cell of the solving panel gives the median step, with the share of seeds where not all
    solved it, and 'never' where none did."""
    monkeypatch.setattr(cells, "SOLVED_AT", 0.9)
    fig, _ = phase_diagram.draw(fx.experiment_tables(["T", "eps"]), ["T", "eps"], "t")
    solving = next(ax for ax in fig.axes if ax.get_title().startswith("step at accuracy ≥"))
    texts = [t.get_text() for t in solving.texts]
    assert texts.count("3.0k\n(1/3)") == 2 and texts.count("never") == 2


def test_cells_pool_fccs_over_their_pairs_and_mark_an_unread_phase():
    """Seeds whose FCCs read different pairs share a sequence; a phase without the contrasts that
    name its circuit is '?' in the sequences the block's page lists."""
    runs = fx.experiment_tables(["T", "eps"])["runs"].copy()
    first = (runs["T"] == 2) & (runs["eps"] == 0.0)
    runs.loc[first & (runs["seed"] == 0), "circuits_behaviour"] = "label prior>FCC[1]"
    runs.loc[first & (runs["seed"] == 1), "circuits_behaviour"] = "label prior>FCC[2,3]"
    runs.loc[first & (runs["seed"] == 2), "circuits_behaviour"] = "NCC>"
    row = cells.cell_stats(runs, ["T", "eps"]).set_index(["T", "eps"]).loc[(2, 0.0)]
    assert (row["sequence"], row["agree"]) == ("label prior>FCC", 2)
    assert cells.arrows(row["others"]) == "NCC → ? (1)"


def test_phase_diagrams_stay_readable_at_the_size_of_a_six_by_six_grid():
    """The published phase diagram has 6 x 6 cells, each drawn here from a fixture cell: at that size
    both figures still pass the lint at README width."""
    from icmeta.figures import phase_sequences

    tables = fx.experiment_tables(["T", "eps"])
    parts = {name: [] for name in tables}
    for i, t in enumerate([1, 2, 3, 4, 6, 8]):
        for j, eps in enumerate([0, 0.1, 0.25, 0.5, 0.75, 1.0]):
            source = ([2, 4][i % 2], [0.0, 0.5][j % 2])
            for name, table in tables.items():
                part = table[(table["T"] == source[0]) & (table["eps"] == source[1])]
                parts[name].append(part.assign(T=t, eps=eps))
    grid = {name: pd.concat(p, ignore_index=True) for name, p in parts.items()}
    for module in (phase_sequences, phase_diagram):
        fig, _ = module.draw(grid, ["T", "eps"], "Phase diagram over T tasks and within-class item noise ε")
        assert problems(fig) == [], module.__name__


def test_phase_sequences_colour_the_label_prior_and_unread_phases_apart_from_circuits():
    """The label-prior stage and an unmeasured phase each get a colour of their own, which the legend
    names; neither shares a circuit's colour."""
    from icmeta.figures import phase_sequences
    from icmeta.figures.style import CIRCUIT_COLOURS, UNREAD

    tables = fx.experiment_tables(["T", "eps"])
    phases = tables["phases"].copy()
    first = (phases["T"] == 2) & (phases["eps"] == 0.0) & (phases["seed"] == 0)
    phases.loc[first & (phases["phase"] == 1), "circuit_behaviour"] = "label prior"
    phases.loc[first & (phases["phase"] == 2), "circuit_behaviour"] = np.nan  # not measured
    fig, plotted = phase_sequences.draw({**tables, "phases": phases}, ["T", "eps"], "t")
    panel = fig.axes[2]  # row T = 2 (below T = 4), column eps = 0
    thick = [line.get_color() for line in panel.lines if line.get_linewidth() == 3.0]
    assert thick[:2] == [CIRCUIT_COLOURS["label prior"], UNREAD]
    circuits = {c for n, c in CIRCUIT_COLOURS.items() if n != "label prior"}
    assert CIRCUIT_COLOURS["label prior"] not in circuits and UNREAD not in circuits
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "label prior" in legend and "not measured (?)" in legend
    assert "?" in set(plotted["circuit"].dropna())


def test_attention_maps_draw_only_the_heads_a_cell_has():
    """The heads sweep puts cells of one and two heads in one figure: the one-head cell's blocks hold
    its two maps and no empty panel, every panel shows a map."""
    from icmeta.figures import attention_maps

    tables = fx.experiment_tables(("T",), heads=2)
    maps = tables["phase_maps"]
    first = fx.grid(("T",))[0].values["T"]
    maps = maps[~((maps["T"] == first) & (maps["head"] == 2))]
    fig, _ = attention_maps.draw({**tables, "phase_maps": maps}, ("T",), "t")
    *panels, _colour_bar = fig.axes
    per_cell = [len(fx.LAYERS) * (1 if c.values["T"] == first else 2) for c in fx.grid(("T",))]
    assert len(panels) == sum(n * len(fx.whens(c, 0)) for n, c in zip(per_cell, fx.grid(("T",)), strict=True))
    assert all(ax.axison and len(ax.images) == 1 for ax in panels)
    titles = [ax.get_title().split("\n")[0] for ax in panels]
    assert titles[:2] == [f"layer {layer} head 1" for layer in fx.LAYERS], "the one-head cell's maps"
    assert problems(fig) == []
    # A map missing where the cell has that head is an error, not a blank panel.
    gap = (maps["T"] == first) & (maps["head"] == 1) & (maps["layer"] == fx.LAYERS[-1])
    with pytest.raises(ValueError, match=f"no attention map of layer {fx.LAYERS[-1]} head 1"):
        attention_maps.draw({**tables, "phase_maps": maps[~gap]}, ("T",), "t")


def test_circuit_metrics_draw_only_the_heads_a_cell_has():
    """A one-head cell beside a two-head one gets one row of panels, not a second row that shows the
    accuracy alone."""
    from icmeta.figures import circuit_metrics

    tables = fx.experiment_tables(("T",), heads=2)
    metrics = tables["metrics"].copy()
    first = fx.grid(("T",))[0].values["T"]
    metrics.loc[metrics["T"] == first, [c for c in metrics.columns if c.endswith("H2")]] = np.nan
    fig, _ = circuit_metrics.draw({**tables, "metrics": metrics}, ("T",), "t")
    rows = len(fx.grid(("T",))) * 2 - 1
    assert len(fig.axes) == rows * 4
    assert all(len(ax.lines) >= 2 for ax in fig.axes), "every panel draws a metric beside the accuracy"
    assert [ax.get_title().split("\n")[1] for ax in fig.axes[::4]][:3] == [
        f"T={first}, head 1",
        f"T={fx.grid(('T',))[1].values['T']}, head 1",
        f"T={fx.grid(('T',))[1].values['T']}, head 2",
    ]


def test_attention_maps_wrap_blocks_across_the_page():
    """Eight blocks of two maps (four cells, two phases each) wrap two blocks to a row, four maps
    across, instead of a strip of eight rows: the figure stays about as tall as it is wide."""
    from icmeta.figures import attention_maps

    fig, _ = attention_maps.draw(fx.experiment_tables(("T", "eps")), ("T", "eps"), "t")
    *panels, _colour_bar = fig.axes
    fig.canvas.draw()
    boxes = [ax.get_window_extent() for ax in panels]  # on the page: positions are per block
    assert len({round(b.x0) for b in boxes}) == 4 and len({round(b.y0) for b in boxes}) == 4
    width, height = fig.get_size_inches()
    assert width <= attention_maps.PAGE_INCH + attention_maps.BAR_INCH and height < 1.5 * width
    assert problems(fig) == []


@pytest.mark.parametrize(
    ("pairs", "title"),
    [
        ([0.26, 0.25, 0.25, 0.24], "q spreads over 4 pairs (top 26%)"),  # near 1/N: no pair singled out
        ([0.36, 0.22, 0.21, 0.21], "q spreads over 4 pairs (top 36%)"),
        ([0.38, 0.22, 0.20, 0.20], "q → pair 1: 38% of pair attention"),  # 1.5 / N and above
        ([0.05, 0.05, 0.80, 0.10], "q → pair 3: 80% of pair attention"),
        ([0.0, 0.0, 0.0, 0.0], "q reads no pair (<1% on pairs)"),
    ],
)
def test_a_map_title_names_a_pair_only_where_the_query_singles_it_out(pairs, title):
    from icmeta.figures.attention_maps import reading

    matrix = np.zeros((9, 9))
    matrix[-1, :-1] = np.repeat(np.asarray(pairs) / 2, 2)  # item and label of each pair alike
    matrix[-1, -1] = 1 - sum(pairs)
    assert reading(matrix) == title


def test_attention_map_titles_say_why_there_is_no_pair_share():
    """A query attending only to itself puts nothing on pairs, and a map with a gap in the query's row
    has no share to give: their titles say so rather than print 'nan%'."""
    from icmeta.figures import attention_maps

    tables = fx.experiment_tables(("T",))
    maps = tables["phase_maps"].copy()
    query = maps["row"] == fx.MAP_SIZE - 1
    on_itself = (maps["layer"] == 1) & (maps["when"] == "final step") & query
    maps.loc[on_itself, "weight"] = (maps.loc[on_itself, "col"] == fx.MAP_SIZE - 1).astype(float)
    gap = (maps["layer"] == 2) & (maps["when"] == "final step") & query & (maps["col"] == 0)
    maps.loc[gap, "weight"] = np.nan
    fig, _ = attention_maps.draw({"phase_maps": maps}, ("T",), "t")
    *panels, _colour_bar = fig.axes
    readings = [ax.get_title().split("\n")[1] for ax in panels]
    assert readings.count("q reads no pair (<1% on pairs)") == len(fx.grid(("T",)))
    assert readings.count("q → pairs: row q not recorded") == len(fx.grid(("T",)))
    assert sum(r.endswith("% of pair attention") or r.startswith("q spreads") for r in readings) == len(
        readings
    ) - 2 * len(fx.grid(("T",)))
    assert problems(fig) == []


def test_attention_maps_draw_each_context_length_at_its_own_size():
    """A block over N has maps of 5 and 33 tokens: each is drawn at its own size (not padded to the
    longest, which left the short maps' query row empty), and the long one labels a few items and q."""
    from icmeta.figures import attention_maps

    rows = [
        {"N": n, "seed": 0, "when": "final step", "layer": 1, "head": 1, "row": r, "col": c,
         "weight": 1.0 / (r + 1) if c <= r else 0.0}
        for n in (2, 16) for r in range(2 * n + 1) for c in range(2 * n + 1)
    ]  # fmt: skip
    fig, _ = attention_maps.draw({"phase_maps": pd.DataFrame(rows)}, ("N",), "t")
    short, long, _colour_bar = fig.axes
    assert np.asarray(short.images[0].get_array()).shape == (5, 5)
    assert np.asarray(long.images[0].get_array()).shape == (33, 33)
    assert short.get_title().endswith("q spreads over 2 pairs (top 50%)")
    labels = [t.get_text() for t in long.get_xticklabels()]
    assert len(labels) <= attention_maps.MAX_TICKS + 1 and labels[0] == "x1" and labels[-1] == "q"


def _page_grid(axes_list):
    """(columns, rows) of panels as they sit on the drawn figure."""
    boxes = [ax.get_window_extent() for ax in axes_list]
    return len({round(b.x0) for b in boxes}), len({round(b.y0) for b in boxes})


def test_onset_shifts_wrap_panels_with_round_step_labels():
    """Nine onsets wrap three across, and each step axis names two to five round steps (500, 2k,
    2.05k), not matplotlib's minor labels, which ran into each other in a panel a third of a page wide."""
    import re

    from icmeta.figures import onset_shifts

    fig, _ = onset_shifts.draw(fx.experiment_tables(("T", "eps")), ("T", "eps"), "t")
    fig.canvas.draw()
    assert len(fig.axes) == 9 and _page_grid(fig.axes) == (3, 3)
    for ax in fig.axes:
        low, high = ax.get_xlim()
        ticks = zip(ax.get_xticks(), ax.get_xticklabels(), strict=True)
        labels = [t.get_text() for at, t in ticks if low <= at <= high and t.get_text()]
        assert 2 <= len(labels) <= 6 and all(re.fullmatch(r"\d+(\.\d+)?k?", label) for label in labels)
    assert onset_shifts._step_label(2050) == "2.05k" and onset_shifts._step_label(500) == "500"


def test_random_label_fills_rows_evenly_and_breaks_long_cell_names():
    """Four cells as 2 x 2 rather than 3 + 1; a cell named by several long axes takes a line per axis."""
    from icmeta.figures import random_label

    fig, _ = random_label.draw(fx.experiment_tables(("T", "eps")), ("T", "eps"), "t")
    fig.canvas.draw()
    assert _page_grid(fig.axes) == (2, 2)
    assert fig.axes[0].get_title() == "T=2, eps=0.0", "short enough for one line"
    long = {"T": "positions_scheme", "eps": "label_token_kind"}
    tables = {k: t.rename(columns=long) for k, t in fx.experiment_tables(("T", "eps")).items()}
    fig, _ = random_label.draw(tables, list(long.values()), "t")
    assert fig.axes[0].get_title() == "positions_scheme=2\nlabel_token_kind=0.0"


def test_encoding_study_puts_the_timeline_below_the_curves():
    """Curves above, timeline below, both page-wide: side by side the figure was 14 inches wide."""
    from icmeta.figures import encoding_study

    fig, _ = encoding_study.draw(fx.experiment_tables(("T", "eps")), ("T", "eps"), "t")
    curves, timeline = fig.axes
    assert curves.get_position().y0 > timeline.get_position().y1
    assert fig.get_size_inches()[0] <= 9
    assert timeline.get_ylabel() == "run (setting · seed)"


def test_accuracy_loss_labels_both_axes_with_units():
    """Accuracy as a fraction, loss as cross-entropy in nats, steps on the shared x axis; each row
    names its cell above both panels."""
    from icmeta.figures import accuracy_loss

    fig, _ = accuracy_loss.draw(fx.experiment_tables(("T", "eps")), ("T", "eps"), "t")
    rows = np.array(fig.axes).reshape(-1, 2)
    for cell, (acc, loss) in zip(fx.grid(("T", "eps")), rows, strict=True):
        assert acc.get_ylabel() == "held-out accuracy\n(fraction)"
        assert loss.get_ylabel() == "held-out loss\n(cross-entropy, nats)"
        assert acc.get_title() == loss.get_title() == cell.label(("T", "eps"))
    assert [ax.get_xlabel() for ax in rows[-1]] == ["training step"] * 2


def test_delta_axis_of_a_run_too_short_for_any_delta_acc_fits_the_threshold():
    """A run shorter than two Δt has only NaN ΔAcc: the axis spans the threshold instead of failing."""
    from icmeta.figures.delta_acc import delta_limit

    assert delta_limit(pd.Series([np.nan, np.nan]), 0.025) == pytest.approx(1.15 * 0.025)
    assert delta_limit(pd.Series([0.1, np.nan, -0.3]), 0.025) == pytest.approx(1.15 * 0.3)


@pytest.mark.parametrize("figure", ["plateau_predictions", "learning_curves", "attention_maps"])
def test_a_long_title_wraps_over_the_figure_instead_of_widening_it(tmp_path, monkeypatch, figure):
    """A block's description is its figures' title; one longer than the panels are wide must not
    widen the saved image (which shrinks every text at page width)."""
    width = {}
    for title in ("fixture", "a block's description, " * 8):
        folder = tmp_path / str(len(title))
        folder.mkdir()
        fig, _ = _draw(figure, ("T", "eps"), folder, monkeypatch, title=title)
        width[title] = Image.open(folder / f"{figure}.png").size[0]
        assert problems(fig) == [], title
    assert max(width.values()) <= 1.02 * min(width.values()), width
