"""Snakemake adapter: probe one model or checkpoint on few-shot SST-2 prompts (icmeta.steps.probe)."""

from pathlib import Path

from icmeta.steps import log_to
from icmeta.steps.probe import probe_model

log_to(snakemake.log[0])
p, out = snakemake.params, snakemake.output
device = snakemake.config["execution"]["device"]
data_dir = Path(snakemake.input.train).parent
probe_model(
    p.spec, data_dir, p.prompts, p.dtype, p.batch_size, device, out.metrics, out.predictions, out.summary
)
