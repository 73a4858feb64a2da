"""Snakemake adapter: train every seed of one grid cell, or of a group of cells, as one ensemble.

The device and the state-saving interval come from the config's `execution` block, read here rather
than passed as params, so changing them never marks finished runs as stale.
"""

import sys
from pathlib import Path

from icmeta.steps import log_to
from icmeta.steps.training import train_cells
from icmeta.training.train import TrainingInterrupted

log_to(snakemake.log[0])
execution = snakemake.config["execution"]
try:
    train_cells(
        snakemake.params.runs,
        snakemake.params.seeds,
        snakemake.input.eval_sets,
        [Path(p).parent for p in snakemake.output.metrics],
        snakemake.params.state_dir,
        device=execution["device"],
        threads=snakemake.threads,
        state_every_s=execution["save_state_every_s"],
    )
except TrainingInterrupted as stop:
    print(stop, file=sys.stderr)
    sys.exit(75)  # the job fails; its retry (or the next invocation) resumes from the saved state
