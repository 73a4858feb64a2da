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
    drawn and which kept. The block is published into a folder beside it and moved in file by file,
    PROVENANCE.yaml last, so that a redraw that fails leaves the published block as it was."""
    block_dir = Path(block_dir)
    if not (block_dir / PROVENANCE).exists():
        raise DamagedRunFile(
            f"{block_dir} has no {PROVENANCE}: its publish did not finish; `snakemake publish` it again"
        )
    archive, history = read_archive(block_dir)
    runs, phases = tables_of_archive(archive, history, archive["analysis"])
    published = yaml.safe_load((block_dir / PROVENANCE).read_text())
    axes = list(archive["cells"][0]["axes"])
    # Beside the block, so that each file moves in with an atomic rename on the same file system.
    with tempfile.TemporaryDirectory(dir=block_dir.parent, prefix=f".{block_dir.name}-redraw-") as tmp:
        work = Path(tmp)
        tables = {"metrics": block_dir / HISTORY, "runs": work / "runs.csv", "phases": work / "phases.csv"}
        write_table(runs, tables["runs"])
        write_table(phases, tables["phases"])
        pngs = sorted((block_dir / "figures").glob("*.png"))
        maps_archived = (block_dir / MAPS).exists()
        if maps_archived or any("phase_maps" in tables_of(png.stem) for png in pngs):
            # Archived maps are means over the published phases, and so is a map figure, whether
            # drawn from them or kept as drawn.
            _check_phases_unmoved(block_dir, pd.read_csv(tables["phases"]))
        if maps_archived:
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
            work / "block",
            archive["cells"],
            archive["seeds"],
        )
        _move_in(work / "block", block_dir)
    write_yaml({"drawn": drawn, "kept": kept}, stamp)


def _move_in(staged: Path, block_dir: Path) -> None:
    """Every file of `staged` into the same place under `block_dir`, the stamp last: until it moves,
    the old stamp's checksums tell a block caught half-way."""
    files = sorted((f for f in staged.rglob("*") if f.is_file()), key=lambda f: f.name == PROVENANCE)
    for f in files:
        target = block_dir / f.relative_to(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        f.replace(target)


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
