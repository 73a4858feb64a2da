"""Snakemake adapter: stack every run of an experiment into its tidy tables."""

from icmeta.steps import log_to
from icmeta.steps.tables import aggregate

log_to(snakemake.log[0])
aggregate(
    snakemake.wildcards.experiment,
    snakemake.params.cells,
    snakemake.params.seeds,
    snakemake.input.metrics,
    snakemake.input.summaries,
    snakemake.input.phases,
    snakemake.input.maps,
    snakemake.output.metrics,
    snakemake.output.runs,
    snakemake.output.phases,
    snakemake.output.maps,
)
