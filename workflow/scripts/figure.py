"""Snakemake adapter: one named figure of one experiment (the rule names it; see icmeta.figures)."""

from icmeta.figures import draw, tables_of
from icmeta.steps import log_to

log_to(snakemake.log[0])
out, p = snakemake.output, snakemake.params
tables = {name: getattr(snakemake.input, name) for name in tables_of(p.figure)}
draw(p.figure, tables, p.axes, p.title, out.png, out.pdf, out.table)
