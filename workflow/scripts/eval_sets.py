"""Snakemake adapter: draw one run's fixed evaluation sets."""

from icmeta.steps import log_to
from icmeta.steps.data import make_eval_sets

log_to(snakemake.log[0])
make_eval_sets(snakemake.params.run, int(snakemake.wildcards.seed), snakemake.output[0])
