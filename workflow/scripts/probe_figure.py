"""Snakemake adapter: one figure of the SST-2 probe (icmeta.probe.figures)."""

from icmeta.probe.figures import draw
from icmeta.steps import log_to

log_to(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
draw(snakemake.wildcards.probe_figure, inp.metrics, inp.summaries, out.png, out.pdf, out.table)
