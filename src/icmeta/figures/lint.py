"""What a reader stumbles on in a figure, found before anyone looks at it.

A figure is read at the width of the page it sits on, not at the size it was drawn: a 2400-pixel
strip shown 830 pixels wide shrinks its 10-point labels to 3 pixels. Each check names the problem and
where it is: text too small at the display width, a title or label that prints "nan", a legend that
covers a panel's own text (the phase numbers along its top edge), a figure title that overlaps
other text, a panel with nothing drawn in it, and a panel with plotted data whose axes carry no
label anywhere in its row or column.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.table import Table
from matplotlib.text import Text
from matplotlib.transforms import Bbox

DISPLAY_WIDTH_PX = 830  # a README or docs page on GitHub
MIN_TEXT_PX = 7.0  # the height of the smallest text a reader can still read there
SAVE_DPI = 150  # as icmeta.figures.style.save_figure saves
NAN = re.compile(r"\bnan\b", re.IGNORECASE)


def displayed_scale(fig: plt.Figure, width_px: float = DISPLAY_WIDTH_PX) -> float:
    """Displayed pixels per point: the saved image (tight box, SAVE_DPI) shrunk to `width_px`."""
    if not hasattr(fig.canvas, "get_renderer"):  # a closed figure keeps no drawing canvas
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    saved_px = box.width * SAVE_DPI
    return SAVE_DPI / 72 * min(1.0, width_px / saved_px)


def _shown(texts: Iterable[Text]) -> list[Text]:
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _texts(fig: plt.Figure) -> list[Text]:
    # A table's cells hold their text outside the artist tree that findobj walks.
    cells = [cell.get_text() for table in fig.findobj(Table) for cell in table.get_celld().values()]
    return _shown([*fig.findobj(Text), *cells])


def _overlapping(texts: Iterable[Text], box: Bbox, fig: plt.Figure) -> list[Text]:
    renderer = fig.canvas.get_renderer()
    return [t for t in _shown(texts) if t.get_window_extent(renderer).overlaps(box)]


def _where(text: Text, fig: plt.Figure) -> str:
    for i, ax in enumerate(fig.axes):
        in_table = any(text is c.get_text() for table in ax.tables for c in table.get_celld().values())
        if in_table or text in ax.findobj(Text):
            return f"panel {i + 1} ('{ax.get_title()}')" if ax.get_title() else f"panel {i + 1}"
    return "the figure"


def _plotted(ax: plt.Axes) -> bool:
    return bool(ax.lines or ax.collections or ax.images or ax.patches or ax.containers)


def _covered_by_legends(fig: plt.Figure) -> list[str]:
    """Texts of a panel (not its title or axis labels, which sit outside it) under that panel's legend."""
    out = []
    for i, ax in enumerate(fig.axes):
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        covered = _overlapping(ax.texts, legend.get_window_extent(fig.canvas.get_renderer()), fig)
        if covered:
            out.append(f"panel {i + 1}: its legend covers " + ", ".join(f"'{t.get_text()}'" for t in covered))
    return out


def _under_the_title(fig: plt.Figure) -> list[str]:
    """Titles, axis labels and panel texts that the figure's title overlaps: a tall axis label can
    reach up into it. Tick labels are left out: matplotlib keeps labels of ticks outside the view,
    which are never drawn."""
    title = fig._suptitle  # matplotlib keeps the suptitle here and offers no getter
    if title is None or not title.get_visible() or not title.get_text().strip():
        return []
    named = [text for ax in fig.axes for text in (ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts)]
    under = _overlapping(named, title.get_window_extent(fig.canvas.get_renderer()), fig)
    return [f"the figure's title overlaps '{t.get_text()}'" for t in under]


def problems(fig: plt.Figure, width_px: float = DISPLAY_WIDTH_PX) -> list[str]:
    """Every problem of `fig` shown `width_px` wide; [] for a figure a reader can read."""
    out = []
    scale = displayed_scale(fig, width_px)
    small = defaultdict(list)
    for text in _texts(fig):
        size = text.get_fontsize() * scale
        if size < MIN_TEXT_PX:
            small[_where(text, fig)].append(size)
        if NAN.search(text.get_text()):
            out.append(f"{_where(text, fig)}: text '{text.get_text()}' prints nan")
    for where, sizes in small.items():
        out.append(
            f"{where}: {len(sizes)} texts at {min(sizes):.1f} px, "
            f"below {MIN_TEXT_PX:g} px at {width_px:g} px wide"
        )
    out.extend(_covered_by_legends(fig))
    out.extend(_under_the_title(fig))
    # Colour bars are labelled by their ticks and the panel they belong to.
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.axison and ax.get_label() != "<colorbar>"]
    for ax in shown:
        if not _plotted(ax) and not ax.texts:
            out.append(f"panel {fig.axes.index(ax) + 1}: nothing drawn in it")
    rows, cols = defaultdict(list), defaultdict(list)
    for ax in shown:
        box = ax.get_position()
        rows[round(box.y0, 3)].append(ax)
        cols[round(box.x0, 3)].append(ax)
    for ax in shown:
        if not ax.lines and not ax.collections and not ax.containers:
            continue  # a map or a table drawn as an image names its ticks instead
        box = ax.get_position()
        if not any(other.get_xlabel() for other in cols[round(box.x0, 3)]):
            out.append(f"panel {fig.axes.index(ax) + 1}: no x label in its column")
        if not any(other.get_ylabel() for other in rows[round(box.y0, 3)]):
            out.append(f"panel {fig.axes.index(ax) + 1}: no y label in its row")
    return out
