"""How long each training job ran, read from the workflow's per-job logs.

A grid's compute cost is what a reader planning to reproduce it needs, and Snakemake's benchmark file
keeps only a job's last attempt; a job stopped and resumed across sessions spans days of wall clock
in between. Each attempt's part of a job's log starts with a header, and the time from an attempt's
first to its last timestamped line is the stretch that attempt actually ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from icmeta.steps import ATTEMPT_HEADER

STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"  # the leading `asctime` of every line the library logs
STAMP_LENGTH = 19


@dataclass(frozen=True)
class JobHours:
    block: str  # the experiment: the log's first directory under the log root
    job: str  # the log's path under the log root
    attempts: int
    hours: float


def _stamp(line: str) -> datetime | None:
    try:
        return datetime.strptime(line[:STAMP_LENGTH], STAMP_FORMAT)
    except ValueError:
        return None


def attempt_seconds(log: Path) -> list[float]:
    """Seconds from the first to the last timestamped line of each attempt in `log`, in order. Lines
    before the first header (a log written without the workflow's headers) count as one attempt."""
    spans: list[list[datetime]] = [[]]
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(ATTEMPT_HEADER):
            spans.append([])
        elif (stamp := _stamp(line)) is not None:
            spans[-1].append(stamp)
    return [(s[-1] - s[0]).total_seconds() for s in spans if s]


def job_hours(root: Path) -> list[JobHours]:
    """One row per job log under `root` (e.g. logs/train), in path order."""
    if not root.is_dir():
        raise FileNotFoundError(f"no log directory {root}: pass the directory the jobs logged to")
    rows = []
    for log in sorted(root.rglob("*.log")):
        seconds = attempt_seconds(log)
        rel = log.relative_to(root)
        rows.append(JobHours(rel.parts[0], str(rel), len(seconds), sum(seconds) / 3600))
    return rows


def format_hours(rows: list[JobHours]) -> str:
    """Per job, then per block and in all, in hours."""
    lines = [f"{r.job:60s} {r.hours:6.2f} h  ({r.attempts} attempt{'s' * (r.attempts != 1)})" for r in rows]
    blocks: dict[str, list[JobHours]] = {}
    for r in rows:
        blocks.setdefault(r.block, []).append(r)
    lines.append("")
    for block, mine in blocks.items():
        lines.append(f"{block:60s} {sum(r.hours for r in mine):6.2f} h  ({len(mine)} jobs)")
    lines.append(f"{'all':60s} {sum(r.hours for r in rows):6.2f} h  ({len(rows)} jobs)")
    return "\n".join(lines)
