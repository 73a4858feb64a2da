"""Snakemake adapter: stack every probed model's metrics and summary (icmeta.steps.probe)."""

from icmeta.steps import log_to
from icmeta.steps.probe import aggregate_probe

log_to(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
aggregate_probe(snakemake.params.runs, inp.metrics, inp.summaries, out.metrics, out.summaries)
