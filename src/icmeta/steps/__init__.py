"""The workflow's steps as plain functions, one module per stage.

Each Snakemake script only unpacks its job and calls one of these, so the logic is tested by pytest
directly; the workflow hashes each stage's module to know when its outputs are stale.
"""

import logging
import os
import sys
from pathlib import Path


def share_library(src: Path) -> None:
    """Put this checkout's library first on the PYTHONPATH that job processes inherit."""
    inherited = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(src), *([inherited] if inherited else [])])


def log_to(path: str | Path) -> None:
    """Send the job's logging and stderr (warnings, tracebacks) to its Snakemake log file."""
    stream = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job process
    sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )
