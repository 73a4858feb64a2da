# Grid helpers, paths, provenance digests and wildcard constraints shared by every rule.
import copy
import functools
import sys
import tempfile
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

ROOT = Path(workflow.basedir)
# This process and every job import icmeta from this checkout, whichever environment runs them
# (pip venv, conda env, a SLURM node): the workflow and its library are never different versions.
sys.path.insert(0, str(ROOT / "src"))

from icmeta.settings import experiments as grid  # noqa: E402
from icmeta import figures, provenance  # noqa: E402
from icmeta.block import claims  # noqa: E402
from icmeta.errors import ConfigError  # noqa: E402
from icmeta.probe import ProbeError  # noqa: E402
from icmeta.probe.models import probe_runs as _probe_runs  # noqa: E402
from icmeta.steps import plan, share_library  # noqa: E402
from icmeta.steps import slurm_check  # noqa: E402
from icmeta.steps.config_files import read_config_file  # noqa: E402
from icmeta.steps.schema import check as check_schema  # noqa: E402
from icmeta.steps.schema import write_schema  # noqa: E402
from icmeta.settings.execution import (  # noqa: E402
    ExecutionSettings,
    cpu_share,
    gpu_expected,
    usable_cpus,
)

share_library(ROOT / "src")

# Snakemake's own reading of a config file says "not valid JSON or YAML" and names neither file nor
# line (or stops on a traceback for a byte that is not UTF-8); the check says which line and why.
# Files given with --configfile are read by Snakemake before this file runs: `icmeta plan` checks
# them the same way (docs/workflow.md, "Config errors").
if Path("config.yaml").is_file():
    try:
        read_config_file("config.yaml")
    except ConfigError as err:
        raise WorkflowError(f"invalid config: {err}") from None


configfile: "config.yaml"


# The schema is made from the library's settings classes, where each setting's default, range and
# meaning is declared once (`icmeta settings` prints them); validating fills the defaults in.
try:
    check_schema(config)
except ConfigError as err:
    raise WorkflowError(f"invalid config: {err}") from None
with tempfile.TemporaryDirectory() as _schema_dir:
    validate(config, str(write_schema(_schema_dir)))
try:
    grid.check(config)
except ConfigError as err:
    raise WorkflowError(f"invalid config: {err}") from None

SEEDS = config["seeds"]
if "probe" in config["experiments"]:
    raise WorkflowError(
        "invalid config: 'probe' names the SST-2 probe's outputs; rename that experiment block"
    )
EXPERIMENTS = grid.active_experiments(config)
if not EXPERIMENTS:
    raise WorkflowError(
        "invalid config: every experiment block has 'active: false'; switch one on"
    )
CELLS = {exp: {c.path: c for c in grid.cells(config, exp)} for exp in EXPERIMENTS}

# The plan and its cost, before the first job (and in a dry run); a cluster's nodes are not this
# machine, so there it gives no times.
if workflow.is_main_process:
    _cores, _timed = (
        workflow.resource_settings.cores or usable_cpus(),
        workflow.nodes is None,
    )
    _device = config["execution"]["device"]
    print(
        plan.format_plan(
            plan.plan(config, _cores, _device, _timed), _cores, _device, _timed
        ),
        file=sys.stderr,
    )

RUN = "results/{experiment}/{cell}/seed~{seed}"
CELL = "results/{experiment}/{cell}"
TABLES = "results/{experiment}/tables"
FIGURES = "results/{experiment}/figures"


wildcard_constraints:
    experiment="|".join(EXPERIMENTS),
    cell=r"[A-Za-z_][\w.]*~[\w.+-]+(/[A-Za-z_][\w.]*~[\w.+-]+)*",
    seed=r"\d+",


# Provenance: each step's outputs record a digest of the code that makes them: its script and every
# library module the script imports, followed through the package (icmeta.provenance), each taken by
# meaning (its syntax tree without docstrings), so a comment or layout edit re-runs nothing. A changed
# digest re-runs the step through the `params` trigger; a fresh clone or checkout of unchanged code
# has the same digest, so nothing re-runs (the default profile drops the mtime-based `code` trigger).
@functools.cache
def code_digest(script, *modules):
    """`modules`: what the step's script imports dynamically (a figure rule's figure module)."""
    try:
        return provenance.step_digest(
            ROOT / "src", ROOT / "workflow" / "scripts" / script, modules
        )
    except provenance.ProvenanceError as err:
        raise WorkflowError(
            f"cannot derive the code provenance of {script}: {err}"
        ) from None


FIGURE_NAMES = list(figures.NAMES)


def get_cell(wildcards):
    try:
        return CELLS[wildcards.experiment][wildcards.cell]
    except KeyError:
        raise WorkflowError(
            f"results/{wildcards.experiment}/{wildcards.cell} is not a cell of an active "
            f"experiment in the config"
        ) from None


@functools.cache
def _run_dict(experiment, cell_path):
    """The cell's fully resolved run configuration (every field, seed aside) as plain data."""
    run = grid.run_configs(config, CELLS[experiment][cell_path])[0].to_dict()
    run.pop("seed")
    return run


def get_run(wildcards):
    # a copy: the cached configuration is shared by every rule that reads it
    return copy.deepcopy(_run_dict(wildcards.experiment, get_cell(wildcards).path))


def get_run_uncapped(wildcards):
    """The run's configuration with one step cap for every cap: the evaluation sets do not depend on
    how long a run trains, so raising `optim.steps` leaves them as they are (the cap set here, one
    evaluation interval, is one every configuration accepts)."""
    run = get_run(wildcards)
    return {**run, "optim": {**run["optim"], "steps": run["optim"]["eval_every"]}}


def get_cell_dir(wildcards, output):
    """Where a training job keeps its resumable state: its (first) cell's directory, the parent of
    that cell's seed directories."""
    return str(Path(output.metrics[0]).parent.parent)


def seed_files(name):
    return expand(f"{CELL}/seed~{{seed}}/{name}", seed=SEEDS, allow_missing=True)


def get_run_files(name):
    """Input function: one file per run of an experiment, cell-major then seed (as the tables)."""

    def inputs(wildcards):
        cells = CELLS[wildcards.experiment]
        return [
            f"results/{wildcards.experiment}/{cell}/seed~{seed}/{name}"
            for cell in cells
            for seed in SEEDS
        ]

    return inputs


def get_cells(wildcards):
    return [
        {"path": c.path, "axes": c.axis_values}
        for c in CELLS[wildcards.experiment].values()
    ]


def get_axes(wildcards):
    return list(next(iter(CELLS[wildcards.experiment].values())).axis_values)


def get_title(wildcards):
    block = config["experiments"][wildcards.experiment]
    return block.get("description", wildcards.experiment)


def uses_gpu():
    return gpu_expected(config["execution"]["device"])


CPUS = usable_cpus()
# Locally (not on a cluster, where each job gets its own allocation), `--cores` above the machine's
# CPUs would start more training threads than it has; the training jobs' cpu_share keeps them to it.
if workflow.is_main_process and workflow.nodes is None:
    _cores = workflow.resource_settings.cores or 0
    if _cores > CPUS:
        print(
            f"icmeta: --cores {_cores} is more than the {CPUS} CPUs this machine lets Snakemake use; "
            f"training jobs take turns (each claims its share of the CPUs, resource cpu_share), so "
            f"the grid trains as fast as with --cores {CPUS}",
            file=sys.stderr,
        )


def train_cpu_share(wildcards, threads):
    """Percent of the machine a training job keeps busy; a GPU job's limit is its GPU."""
    return 0 if uses_gpu() else cpu_share(threads, CPUS)


def train_mem_mb(wildcards, attempt):
    """PyTorch itself plus eval sets and histories; grows per retry in case memory was the cause."""
    return _train_mem_mb(len(SEEDS), attempt)


def train_runtime(wildcards, attempt):
    return _train_runtime(get_run(wildcards)["optim"]["steps"], len(SEEDS))


def group_mem_mb(runs):
    return lambda wildcards, attempt: _train_mem_mb(runs, attempt)


def group_runtime(experiment, cells):
    """A group shares one step count: `check_ensemble` lets only data values differ."""
    return _train_runtime(
        _run_dict(experiment, cells[0].path)["optim"]["steps"], len(cells) * len(SEEDS)
    )


def _train_mem_mb(runs, attempt):
    return (1500 + 300 * runs) * attempt


def _train_runtime(steps, runs):
    """Minutes, from the measured ~60 model-steps/s of a 2-core CPU, with margin; a retry resumes
    from the saved state, so it needs no more time than the first attempt."""
    return max(10, round(1.5 * steps * runs / 60 / 60))


def probe_runs(settings):
    try:
        return _probe_runs(settings)
    except ProbeError as err:
        raise WorkflowError(f"invalid config: {err}") from None


def get_sst2_files(wildcards):
    """A local copy (config probe.data.path) or the copy the workflow downloads into resources/."""
    local = config["probe"]["data"]["path"]
    if not local:
        return {"train": "resources/sst2/train.tsv", "dev": "resources/sst2/dev.tsv"}
    files = {"train": Path(local) / "train.tsv", "dev": Path(local) / "dev.tsv"}
    missing = [str(f) for f in files.values() if not f.is_file()]
    if missing:
        raise WorkflowError(
            f"probe.data.path = {local!r} lacks {', '.join(missing)}; point it at a directory with "
            f"GLUE's SST-2 train.tsv and dev.tsv, or leave it empty to download"
        )
    return {k: str(v) for k, v in files.items()}


def probe_mem_mb(wildcards, attempt):
    """GPT2-XL (1.5B parameters) in float32 with its attention maps fits in 16 GB; grows per retry."""
    return 16000 * attempt


def figures_of(experiment):
    return figures.of_block(
        len(next(iter(CELLS[experiment].values())).axis_values),
        config["experiments"][experiment].get("figures", []),
    )


# Every file a run keeps, asked for by `all` itself: Snakemake does not re-make a missing file that
# only feeds outputs it finds up to date, so a run's deleted (or damaged, then removed) file would
# otherwise never come back.
RUN_FILES = (
    "eval_sets.pt",
    "metrics.csv",
    "train_steps.csv.gz",
    "attention.npz",
    "config.yaml",
    "checkpoints",
    "summary.csv",
    "phases.csv",
    "phase_maps.csv.gz",
)


def get_final_outputs():
    outputs = [
        f"results/{experiment}/figures/{name}.{ext}"
        for experiment in EXPERIMENTS
        for name in figures_of(experiment)
        for ext in ("png", "pdf")
    ]
    outputs += [
        f"results/{experiment}/{cell}/seed~{seed}/{name}"
        for experiment in EXPERIMENTS
        for cell in CELLS[experiment]
        for seed in SEEDS
        for name in RUN_FILES
    ]
    if grid.probe_active(config):
        outputs += expand(
            "results/probe/figures/{name}.{ext}", name=PROBE_FIGURES, ext=("png", "pdf")
        )
    return outputs
