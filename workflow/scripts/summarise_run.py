"""Snakemake adapter: one run's phases, summary row and per-phase attention maps (icmeta.analysis.run)."""

from icmeta.steps import log_to
from icmeta.steps.summary import summarise_run

log_to(snakemake.log[0])
p, inp, out, seed = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards.seed
summarise_run(inp.metrics, inp.attention, p.run, seed, p.settings, out.summary, out.phases, out.maps)
