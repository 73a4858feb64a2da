"""Snakemake adapter: one run's phases and summary row (see icmeta.analysis)."""

from icmeta.steps import log_to
from icmeta.steps.tables import summarise_run

log_to(snakemake.log[0])
p, out = snakemake.params, snakemake.output
summarise_run(snakemake.input[0], p.run, p.settings, out.summary, out.phases)
