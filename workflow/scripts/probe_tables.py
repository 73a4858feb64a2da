"""Snakemake adapter: stack every probed model's metrics and summary (icmeta.steps.probe_tables)."""

from icmeta.steps import log_to
from icmeta.steps.probe_tables import aggregate_probe

log_to(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
aggregate_probe(snakemake.params.runs, inp.metrics, inp.summaries, out.metrics, out.summaries)
