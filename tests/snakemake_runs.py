"""Running the real workflow from tests: a copy of the checkout, a work directory, parsed job plans."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "config" / "tiny.yaml"
WORKFLOW_FILES = ("Snakefile", "config.yaml", "workflow", "src", "profiles", "envs")


def clone_workflow(dest: Path) -> Path:
    """A copy of the workflow's files with fresh file dates, as a new clone or checkout would have."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(src, dest / name)
    return dest


def write_config(path: Path, **changes: object) -> Path:
    """The tiny config with top-level or dotted changes, e.g. `**{"experiments.grid.axes.eps": [0.0]}`."""
    data = yaml.safe_load(TINY.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def snakemake(
    workdir: Path, config: Path, *args: str, code: Path = REPO, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess:
    """Run snakemake on the workflow at `code` with outputs in `workdir` (the default profile applies)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(code / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        *args,
    ]
    proc = subprocess.run(cmd, cwd=code, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def planned_jobs(workdir: Path, config: Path, *args: str, code: Path = REPO) -> dict[str, int]:
    """Jobs per rule that a dry run would execute ({} when nothing is to be done)."""
    out = snakemake(workdir, config, "-n", *args, code=code)
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M) if rule != "total"}
