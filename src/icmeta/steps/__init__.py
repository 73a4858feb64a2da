"""The workflow's steps as plain functions, one module per stage.

Each Snakemake script only unpacks its job and calls one of these, so the logic is tested by pytest
directly; the workflow hashes each stage's module to know when its outputs are stale.
"""

import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from icmeta.errors import DamagedRunFile

# Each attempt's part of a job's log starts with this; earlier attempts are counted by it.
ATTEMPT_HEADER = "===== attempt "


@contextlib.contextmanager
def removing_damaged(path: str | Path, then: str) -> Iterator[None]:
    """Reading a run's file: if it is damaged (`DamagedRunFile`), remove it and say so, so that the
    workflow sees it missing and rebuilds it on its next call, rather than reading it again."""
    try:
        yield
    except DamagedRunFile as err:
        Path(path).unlink(missing_ok=True)
        raise DamagedRunFile(f"{err}; it was removed, so the next `snakemake` {then}") from None


def share_library(src: Path) -> None:
    """Put this checkout's library first on the PYTHONPATH that job processes inherit."""
    inherited = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(src), *([inherited] if inherited else [])])


def attempts_file(log: str | Path) -> Path:
    """The log's second name (a hard link), which Snakemake does not know about and so never deletes."""
    log = Path(log)
    return log.with_name(f".{log.name}.attempts")


def log_to(path: str | Path) -> None:
    """Send the job's logging and stderr (warnings, tracebacks) to its Snakemake log file, after the
    logs of the job's earlier attempts and a header line for this one.

    Snakemake deletes a job's log before every attempt, retries included, so a retried job (training
    retries and resumes from its saved state) would lose the text of the attempt that failed. The log
    therefore also has a hidden second name, `attempts_file`: deleting the log leaves the file under
    that name, and the next attempt links it back and appends. The header counts the attempts in the
    file; Snakemake's own attempt number is not passed to scripts.
    """
    path = Path(path)
    note = _keep_earlier_attempts(path)
    earlier = path.read_text(errors="replace").splitlines() if path.exists() else []
    attempt = 1 + sum(line.startswith(ATTEMPT_HEADER) for line in earlier)
    stream = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the job process
    where = f"host {socket.gethostname()}, pid {os.getpid()}"
    if os.environ.get("SLURM_JOB_ID"):
        where += f", SLURM job {os.environ['SLURM_JOB_ID']}"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
    stream.write(f"{ATTEMPT_HEADER}{attempt}: started {stamp} on {where}{note} =====\n")
    sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )


def _keep_earlier_attempts(log: Path) -> str:
    """Give `log` its second name, or relink it from there after Snakemake deleted it; a note for the
    header where that cannot be done (a file system without hard links: then only this attempt's log)."""
    keep = attempts_file(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not keep.exists():
            log.touch()
            os.link(log, keep)
        elif not log.exists():
            os.link(keep, log)
        elif not log.samefile(keep):  # written without the link: keep its text after the others
            with open(keep, "a") as out:
                out.write(log.read_text(errors="replace"))
            log.unlink()
            os.link(keep, log)
    except OSError as err:
        return f" (earlier attempts' logs cannot be kept here: {err})"
    return ""
