"""Snakemake adapter: accuracy against log-step for every cell of an experiment."""

from icmeta.steps import log_to
from icmeta.steps.figures import plot_learning_curves

log_to(snakemake.log[0])
out = snakemake.output
plot_learning_curves(
    snakemake.input[0], snakemake.params.axes, snakemake.params.title, out.png, out.pdf, out.table
)
