"""Snakemake adapter: the paper's claims measured on the published blocks, as a Markdown table."""

from icmeta.steps import log_to
from icmeta.steps.publish import publish_claims

log_to(snakemake.log[0])
publish_claims(
    snakemake.params.blocks,
    snakemake.params.runs,
    snakemake.params.phases,
    snakemake.params.sweeps,
    snakemake.params.tolerance,
    snakemake.output[0],
)
