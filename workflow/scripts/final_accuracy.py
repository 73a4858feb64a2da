"""Snakemake adapter: final accuracy over the experiment's grid, seeds aggregated."""

from icmeta.steps import log_to
from icmeta.steps.figures import plot_final_accuracy

log_to(snakemake.log[0])
out = snakemake.output
plot_final_accuracy(
    snakemake.input[0], snakemake.params.axes, snakemake.params.title, out.png, out.pdf, out.table
)
