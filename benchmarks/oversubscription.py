"""Training throughput of the workflow under different `--cores`, in the same wall time.

Usage: python benchmarks/oversubscription.py [--seconds 180] [--cores 2 8] [--code PATH]

Runs a grid of four default cells (three seeds each, 200,000 steps, so nothing finishes) with
`snakemake --cores N` for a fixed wall time, reads the model-steps every training job has reached
from the saved training states (written every 10 s, so each count lags by up to 10 s alike), and
kills the run. `--code`
points at the checkout whose workflow runs (default: this one), so that two versions can be
compared on the same machine in one sitting. Prints numbers only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from icmeta.analysis.progress import read_progress, states

GRID = {
    "seeds": [0, 1, 2],
    "execution": {"device": "cpu", "save_state_every_s": 10},
    "only": ["bench"],
    "experiments": {"bench": {"axes": {"T": [2, 3], "eps": [0.1, 0.25]}}},
}


def model_steps(work: Path) -> int:
    return sum(p.step * len(p.members) for p in (read_progress(s) for s in states([work / "results"])))


def run(code: Path, cores: int, seconds: float) -> int:
    work = Path(tempfile.mkdtemp(prefix=f"oversub-{cores}-"))
    config = work / "bench.yaml"
    config.write_text(yaml.safe_dump(GRID))
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(code / "Snakefile"),
        "--directory",
        str(work),
    ]
    cmd += ["--configfile", str(config), "--cores", str(cores)]
    env = {**os.environ, "PYTHONPATH": str(code / "src")}
    # A dry run first, outside the timed window: the workflow measures this machine's training speed
    # once for its plan (then cached), which is not what this benchmark compares.
    subprocess.run([*cmd, "-n"], env=env, capture_output=True, check=True)
    with open(work / "snakemake.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        time.sleep(seconds)
        steps = model_steps(work)
        os.killpg(proc.pid, signal.SIGKILL)  # a stopped job would be retried: end the whole run
        proc.wait(timeout=60)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--cores", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    print(f"code {args.code}, CPUs usable {len(os.sched_getaffinity(0))}, {args.seconds:.0f} s each")
    for cores in args.cores:
        steps = run(args.code.resolve(), cores, args.seconds)
        print(f"--cores {cores}: {steps} model-steps ({steps / args.seconds:.1f} model-steps/s)", flush=True)


if __name__ == "__main__":
    main()
