"""Snakemake adapter: download GLUE SST-2 once, checked against the pinned MD5 (icmeta.probe.sst2)."""

from icmeta.steps import log_to
from icmeta.steps.probe_data import fetch_sst2

log_to(snakemake.log[0])
fetch_sst2(snakemake.params.url, snakemake.params.md5, snakemake.output.train, snakemake.output.dev)
