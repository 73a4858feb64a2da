"""The workflow step that draws a published block again from its archive (`snakemake redraw`).

A block's figures are drawn when its runs are published. An edit to a figure or to the analysis
would leave every block trained before it drawn by older code, and training again takes hours. The
archive (`icmeta.steps.reanalysis`) holds everything the tables and figures read, so the current code
computes the tables again from it, draws the figures, and publishes them as `snakemake publish`
does. A block archived before its per-phase attention maps were keeps the figures that read them as
they were drawn; PROVENANCE.yaml names them (`kept_figures`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from icmeta.errors import DamagedRunFile
from icmeta.figures import draw, tables_of
from icmeta.io import write_table, write_yaml
from icmeta.steps.publish import PROVENANCE, RunsStamp, publish_block
from icmeta.steps.reanalysis import HISTORY, MAPS, read_archive, tables_of_archive


def redraw_block(block_dir: str | Path, title: str, root: str | Path, stamp: str | Path) -> None:
    """Publish the block in `block_dir` again from its archive; `stamp` records which figures were
    drawn and which kept. Every figure is drawn before anything under `block_dir` is written."""
    block_dir = Path(block_dir)
    archive, history = read_archive(block_dir)
    runs, phases = tables_of_archive(archive, history, archive["analysis"])
    published = yaml.safe_load((block_dir / PROVENANCE).read_text())
    axes = list(archive["cells"][0]["axes"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tables = {"metrics": block_dir / HISTORY, "runs": work / "runs.csv", "phases": work / "phases.csv"}
        write_table(runs, tables["runs"])
        write_table(phases, tables["phases"])
        pngs = sorted((block_dir / "figures").glob("*.png"))
        if any("phase_maps" in tables_of(png.stem) for png in pngs):
            # Drawn from the archived maps or kept as drawn, a map figure shows the published phases.
            _check_phases_unmoved(block_dir, pd.read_csv(tables["phases"]))
        if (block_dir / MAPS).exists():
            tables["phase_maps"] = block_dir / MAPS
        drawn, kept = [], []
        (work / "figures").mkdir()
        for png in pngs:
            name, out = png.stem, work / "figures" / png.name
            needs = tables_of(name)
            if set(needs) <= set(tables):
                given = {t: tables[t] for t in needs}
                draw(name, given, axes, title, out, work / f"{name}.pdf", work / f"{name}.csv")
                drawn.append(name)
            else:
                shutil.copyfile(png, out)
                kept.append(f"figures/{png.name}")
        publish_block(
            published["block"],
            axes,
            sorted((work / "figures").glob("*.png")),
            tables["runs"],
            tables["phases"],
            block_dir / HISTORY,
            tables.get("phase_maps"),
            RunsStamp(published["config_hash"], published["runs"], tuple(kept)),
            archive["analysis"],
            root,
            block_dir,
            archive["cells"],
            archive["seeds"],
        )
    write_yaml({"drawn": drawn, "kept": kept}, stamp)


def _check_phases_unmoved(block_dir: Path, phases: pd.DataFrame) -> None:
    """The maps are means over the published phases; phases the current analysis finds elsewhere
    have no maps without the runs."""
    keys = ["cell", "seed", "phase", "plateau_start", "plateau_end"]
    published = pd.read_csv(block_dir / "phases.csv")
    if not published[keys].equals(phases[keys].reset_index(drop=True)):
        raise DamagedRunFile(
            f"the current analysis finds other phases than {block_dir / 'phases.csv'} holds, and the "
            f"block's attention-map figures show means over those; train the block's runs again and "
            f"`snakemake publish` it"
        )
