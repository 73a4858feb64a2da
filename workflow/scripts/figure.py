"""Snakemake adapter: one named figure of one experiment (the rule names it; see icmeta.figures)."""

from icmeta.figures import draw
from icmeta.steps import log_to

log_to(snakemake.log[0])
out = snakemake.output
p = snakemake.params
draw(p.figure, snakemake.input[0], p.axes, p.title, out.png, out.pdf, out.table)
