"""Snakemake adapter: draw one published block again from its archive (see icmeta.steps.redraw)."""

from pathlib import Path

from icmeta.steps import log_to
from icmeta.steps.redraw import redraw_block

log_to(snakemake.log[0])
stamp = Path(snakemake.output[0])
redraw_block(stamp.parent, snakemake.params.title, snakemake.params.root, stamp)
