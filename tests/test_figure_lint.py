"""The figure lint finds each defect a reader stumbles on, and holds every figure that passes it to it."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from icmeta.figures.lint import problems


def _clean(width=6.0):
    fig, ax = plt.subplots(figsize=(width, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy")
    ax.set_title("a clean panel")
    return fig, ax


def test_a_clean_figure_passes():
    fig, _ = _clean()
    assert problems(fig) == []


def test_each_injected_defect_is_named():
    fig, ax = _clean(width=40.0)  # a strip: its text shrinks below 7 px at 830 px
    assert any("below 7 px at 830 px wide" in p for p in problems(fig))
    fig, ax = _clean()
    table = ax.table(cellText=[["0.564"] * 5] * 2, colLabels=list("abcde"), loc="upper left")
    assert problems(fig) == []
    table.auto_set_font_size(False)
    table.set_fontsize(3)  # a table's cells hold their text apart from the panel's other text
    assert problems(fig) == ["panel 1 ('a clean panel'): 15 texts at 6.2 px, below 7 px at 830 px wide"]
    fig, ax = _clean()
    ax.set_title(f"{float('nan'):.0%} of pair attention")
    assert any("prints nan" in p for p in problems(fig))
    fig, (a, _) = plt.subplots(1, 2, figsize=(6, 3))
    a.plot([0, 1], [0, 1])
    a.set_xlabel("step")
    a.set_ylabel("accuracy")
    assert "panel 2: nothing drawn in it" in problems(fig)
    fig, ax = _clean()
    ax.set_ylabel("")
    assert problems(fig) == ["panel 1: no y label in its row"]
    fig, ax = _clean()
    ax.text(0.02, 0.98, "1", transform=ax.transAxes, ha="left", va="top")  # a phase number
    ax.legend(["a line"], loc="upper left")
    assert problems(fig) == ["panel 1: its legend covers '1'"]
    ax.legend(["a line"], loc="lower right")
    assert problems(fig) == []
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 2.5))
    for panel in (left, right):
        panel.plot([0, 1], [0, 1])
        panel.set_xlabel("step")
        panel.set_ylabel("loss")
    fig.suptitle("a figure title over both panels")
    fig.tight_layout()
    assert problems(fig) == []
    right.set_ylabel("the right panel's y label, long enough to reach up into the figure's title")
    assert problems(fig) == [f"the figure's title overlaps '{right.get_ylabel()}'"]
