"""Snakemake adapter: one run's summary row (final accuracies, paper-rule transitions, circuits)."""

from icmeta.steps import log_to
from icmeta.steps.tables import summarise_run

log_to(snakemake.log[0])
summarise_run(snakemake.input[0], snakemake.output[0])
