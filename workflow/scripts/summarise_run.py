"""Snakemake adapter: one run's phases, summary row and per-phase attention maps (icmeta.analysis)."""

from icmeta.steps import log_to
from icmeta.steps.summary import summarise_run

log_to(snakemake.log[0])
p, inp, out = snakemake.params, snakemake.input, snakemake.output
summarise_run(inp.metrics, inp.attention, p.run, p.settings, out.summary, out.phases, out.maps)
