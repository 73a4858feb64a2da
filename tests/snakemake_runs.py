"""Running the real workflow from tests: a copy of the checkout, a work directory, parsed job plans."""

from __future__ import annotations

import json
import os
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
    workdir: Path,
    config: Path,
    *args: str,
    code: Path = REPO,
    check: bool = True,
    timeout: float = 900,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run snakemake on the workflow at `code` with outputs in `workdir` (the default profile applies)."""
    cmd = [*snakemake_command(workdir, config, code), *args]
    proc = subprocess.run(cmd, cwd=code, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def snakemake_command(workdir: Path, config: Path, code: Path = REPO) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(code / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
    ]


def planned_jobs(workdir: Path, config: Path, *args: str, code: Path = REPO) -> dict[str, int]:
    """Jobs per rule that a dry run would execute ({} when nothing is to be done)."""
    out = snakemake(workdir, config, "-n", *args, code=code)
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M) if rule != "total"}


# Imported by every Python process whose PYTHONPATH holds its directory: at exit, a workflow job's
# process writes its rule and the icmeta modules it has loaded. This observes imports as they happen,
# so it sees what static analysis of the code could miss (a dynamic import, say).
IMPORT_RECORDER = """
import atexit, json, os, sys

def _record():
    main = sys.modules.get("__main__")
    job = getattr(main, "snakemake", None)
    if job is None:
        return
    loaded = sorted(m for m in sys.modules if m == "icmeta" or m.startswith("icmeta."))
    script = os.path.basename(sys.argv[0]).split(".", 1)[1]  # Snakemake runs tmpXXXX.<script>
    out = os.path.join(os.environ["ICMETA_IMPORT_RECORDS"], f"{os.getpid()}.json")
    with open(out, "w") as fh:
        json.dump({"rule": job.rule, "script": script, "modules": loaded}, fh)

atexit.register(_record)
"""


def run_recording_imports(workdir: Path, config: Path, records: Path, *args: str) -> list[dict]:
    """Run the workflow with every job recording its rule, script and loaded icmeta modules."""
    hook = records / "hook"
    hook.mkdir(parents=True)
    (hook / "sitecustomize.py").write_text(IMPORT_RECORDER)
    env = {**os.environ, "ICMETA_IMPORT_RECORDS": str(records)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
    snakemake(workdir, config, *args, env=env)
    return [json.loads(p.read_text()) for p in sorted(records.glob("*.json"))]
