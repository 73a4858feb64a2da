"""Snakemake adapter: publish one block's figures, tables and curves into docs/results/."""

from pathlib import Path

from icmeta.steps import log_to
from icmeta.steps.publish import RunsStamp, publish_block

log_to(snakemake.log[0])
publish_block(
    snakemake.params.experiment,
    snakemake.params.axes,
    snakemake.input.pngs,
    snakemake.input.runs,
    snakemake.input.phases,
    snakemake.input.metrics,
    snakemake.input.maps,
    RunsStamp.of(snakemake.params.run_hashes, snakemake.params.analysis),
    snakemake.params.analysis,
    snakemake.params.root,
    Path(snakemake.output.stamp).parent,
    snakemake.params.cells,
    snakemake.params.seeds,
)
