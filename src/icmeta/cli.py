"""Command line: `icmeta train`, `icmeta bench`, `icmeta doctor`, `icmeta progress`, `icmeta hours`,
`icmeta answers`, `icmeta plan` and `icmeta settings`, for use without Snakemake."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from icmeta.doctor import SPEED_ENSEMBLES, doctor
from icmeta.errors import ConfigError, DamagedRunFile
from icmeta.settings.config import RunConfig
from icmeta.training.train import TrainingInterrupted, train

EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: try again (resumes from the saved state)


def _train(args: argparse.Namespace) -> int:
    base = RunConfig.from_yaml(args.config)
    out = Path(args.out)
    if args.seeds:
        configs = [base.replace(seed=s) for s in args.seeds]
        dirs = [out / f"seed~{s}" for s in args.seeds]
    else:
        configs, dirs = [base], [out]
    try:
        train(
            configs,
            dirs,
            state_path=out / "train_state.pt",
            device=args.device,
            threads=args.threads,
            state_every_s=args.state_every,
        )
    except TrainingInterrupted as stop:
        logging.getLogger("icmeta").warning("%s", stop)
        return EXIT_INTERRUPTED
    return 0


def _bench(args: argparse.Namespace) -> int:
    from icmeta.training.bench import run_suite

    for row in run_suite(args.device, tuple(args.ensembles), args.seconds):
        print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    return doctor(args.seconds, tuple(args.ensembles), workflow=not args.no_workflow)


def _progress(args: argparse.Namespace) -> int:
    from icmeta.analysis.progress import format_progress, read_progress, run_dirs, states

    paths = [Path(p) for p in args.paths]
    found = list(states(paths))
    if not found:
        print(f"icmeta: no training in progress under {' '.join(args.paths)}", file=sys.stderr)
        return 1
    runs = run_dirs(paths)
    damaged = 0
    for path in found:  # one unreadable state never hides the others
        try:
            print(format_progress(read_progress(path, runs)), flush=True)
        except DamagedRunFile as err:
            print(f"icmeta: {err}", file=sys.stderr)
            damaged += 1
    return 1 if damaged else 0


def _hours(args: argparse.Namespace) -> int:
    from icmeta.job_hours import format_hours, job_hours

    try:
        rows = job_hours(Path(args.logs))
    except FileNotFoundError as err:
        print(f"icmeta: error: {err}", file=sys.stderr)
        return 2
    if not rows:
        print(f"icmeta: no job logs under {args.logs}", file=sys.stderr)
        return 1
    print(format_hours(rows))
    return 0


def _answers(args: argparse.Namespace) -> int:
    from icmeta.analysis.answers import answer_profile

    try:
        table = answer_profile(Path(args.run), args.steps)
    except FileNotFoundError as err:
        print(f"icmeta: error: {err}", file=sys.stderr)
        return 2
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _reanalyse(args: argparse.Namespace) -> int:
    from icmeta.steps.reanalysis import differences

    failed = 0
    for block in args.blocks:
        found = differences(block)
        print(
            f"{block}: "
            + ("the published tables are what the current code computes" if not found else "; ".join(found))
        )
        failed += bool(found)
    return 1 if failed else 0


def _slurm_check(args: argparse.Namespace) -> int:
    from icmeta.steps.plan import load_config
    from icmeta.steps.slurm_check import check_profile

    device = load_config(args.config)["execution"]["device"]
    request, problems = check_profile(args.profile, device)
    asks = (
        f"training jobs ask for partition {request.partition or '(the default)'}: {request.cpus} CPUs, "
        f"{request.mem_mb or 'the default'} MB, {request.gpus} GPU(s)"
    )
    if problems:
        print(f"icmeta: {asks}, and can never start:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"{asks}: a node of the partition fits them")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from icmeta.settings.execution import usable_cpus
    from icmeta.steps.plan import format_plan, load_config, plan

    config = load_config(args.configs)
    cores = args.cores or usable_cpus()
    device = args.device or config["execution"]["device"]
    print(format_plan(plan(config, cores, device), cores, device))
    return 0


def _settings(args: argparse.Namespace) -> int:
    from icmeta.steps.schema import settings_yaml

    print(settings_yaml(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icmeta", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one run (or one ensemble over --seeds) from a YAML config")
    t.add_argument(
        "--config", required=True, help="run YAML: {task: {...}, model: {...}, optim: {...}, seed}"
    )
    t.add_argument("--out", required=True, help="output directory (one sub-directory per seed with --seeds)")
    t.add_argument("--seeds", type=int, nargs="*", help="train these seeds together as one ensemble")
    t.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda[:i]")
    t.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    t.add_argument("--state-every", type=float, default=120.0, help="seconds between saved training states")
    t.set_defaults(func=_train)
    b = sub.add_parser("bench", help="print measured training steps/s (single model and ensembles)")
    b.add_argument("--device", default="auto")
    b.add_argument("--ensembles", type=int, nargs="+", default=[1, 8, 64])
    b.add_argument("--seconds", type=float, default=10.0, help="approximate time per measurement")
    b.set_defaults(func=_bench)
    d = sub.add_parser(
        "doctor",
        help="on a GPU machine, check the CUDA path (graph capture, graph = eager, ensembles, clamps, "
        "workflow) and print training speed against H100 targets",
        description="Exit codes: 0 every check passed, 1 a check failed, 3 no CUDA GPU is visible.",
    )
    d.add_argument("--seconds", type=float, default=5.0, help="approximate time per speed measurement")
    d.add_argument("--ensembles", type=int, nargs="+", default=list(SPEED_ENSEMBLES))
    d.add_argument(
        "--no-workflow", action="store_true", help="skip the tiny workflow grid checks (about two minutes)"
    )
    d.set_defaults(func=_doctor)
    p = sub.add_parser(
        "progress", help="where the runs still training are: step, accuracy, RLA, patterns per layer"
    )
    p.add_argument(
        "paths", nargs="*", default=["results"], help="directories or state files (default results)"
    )
    p.set_defaults(func=_progress)
    h = sub.add_parser(
        "hours", help="hours each job ran (all attempts) and per experiment, from the job logs"
    )
    h.add_argument(
        "logs", nargs="?", default="logs/train", help="the jobs' log directory (default logs/train)"
    )
    h.set_defaults(func=_hours)
    a = sub.add_parser(
        "answers",
        help="what a finished run's network answers at each checkpoint: accuracy, how many distinct "
        "labels, what always giving that many of the most frequent labels would reach, and the "
        "accuracy on random context labels",
    )
    a.add_argument("run", help="a run directory (with config.yaml, eval_sets.pt and checkpoints/)")
    a.add_argument("--steps", type=int, nargs="+", help="checkpoint steps (default: every checkpoint)")
    a.set_defaults(func=_answers)
    pl = sub.add_parser(
        "plan", help="what the workflow would run for these config files and how long it takes here"
    )
    pl.add_argument(
        "configs", nargs="*", default=["config.yaml"], help="config files, later ones laid over earlier"
    )
    pl.add_argument("--cores", type=int, help="cores given to Snakemake (default: this machine's CPUs)")
    pl.add_argument("--device", help="auto, cpu or cuda[:i] (default: the config's execution.device)")
    pl.set_defaults(func=_plan)
    sc = sub.add_parser(
        "slurm-check",
        help="whether a SLURM profile's training jobs fit a node of their partition here (asks sinfo)",
    )
    sc.add_argument("profile", nargs="?", default="profiles/slurm", help="the profile directory")
    sc.add_argument(
        "--config", nargs="*", default=["config.yaml"], help="the workflow's config files (for its device)"
    )
    sc.set_defaults(func=_slurm_check)
    r = sub.add_parser(
        "reanalyse",
        help="compute a published block's run and phase tables again from its archive and compare",
    )
    r.add_argument("blocks", nargs="+", help="published block directories (docs/results/<block>)")
    r.set_defaults(func=_reanalyse)
    s = sub.add_parser("settings", help="every workflow setting with its default and meaning, as YAML")
    s.set_defaults(func=_settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return args.func(args)
    except (ConfigError, DamagedRunFile, RuntimeError) as err:
        print(f"icmeta: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
