# Training: one job per grid cell (all its seeds as one batched model; rule `train`, a wildcard
# rule), or, with execution.cells_per_job > 1, one job per group of cells that can share a batched
# model (rules `train_<experiment>_group<i>`; docs/workflow.md, "Several cells per job"). Both are
# this one rule, written for a list of training jobs.
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainJob:
    name: str
    runs: list  # run directories (patterns with {experiment}/{cell} for the wildcard rule)
    log: str
    benchmark: str
    configs: (
        object  # params.runs: the cells' run configs, or a function of the wildcards
    )
    mem_mb: object
    runtime: object

    def files(self, name):
        return [f"{run}/{name}" for run in self.runs]


def train_jobs():
    size = ExecutionSettings.from_dict(config["execution"]).cells_per_job_on(
        uses_gpu(), len(SEEDS)
    )
    if size == 1:
        yield TrainJob(
            "train",
            expand(f"{CELL}/seed~{{seed}}", seed=SEEDS, allow_missing=True),
            "logs/train/{experiment}/{cell}.log",
            "benchmarks/train/{experiment}/{cell}.tsv",
            lambda wildcards: [get_run(wildcards)],
            train_mem_mb,
            train_runtime,
        )
        return
    for experiment in EXPERIMENTS:
        for index, group in enumerate(grid.train_groups(config, experiment, size)):
            runs = [
                f"results/{experiment}/{c.path}/seed~{s}" for c in group for s in SEEDS
            ]
            # Logged under its first cell, as that cell's own job is: a group of one keeps its
            # cell's log, and a group renumbered by a grid edit never appends to another's.
            yield TrainJob(
                f"train_{experiment}_group{index}",
                runs,
                f"logs/train/{experiment}/{group[0].path}.log",
                f"benchmarks/train/{experiment}/{group[0].path}.tsv",
                [_run_dict(experiment, c.path) for c in group],
                group_mem_mb(len(runs)),
                group_runtime(experiment, group),
            )


for _job in train_jobs():

    rule:
        name:
            _job.name
        input:
            eval_sets=_job.files("eval_sets.pt"),
        output:
            metrics=_job.files("metrics.csv"),
            train_steps=_job.files("train_steps.csv.gz"),
            attention=_job.files("attention.npz"),
            config=_job.files("config.yaml"),
            checkpoints=[directory(p) for p in _job.files("checkpoints")],
        log:
            _job.log,
        benchmark:
            _job.benchmark
        # A killed or preempted job resumes from its saved training state on its next attempt.
        retries: 2
        conda:
            "../../envs/icmeta.yaml"
        threads: 2
        resources:
            mem_mb=_job.mem_mb,
            runtime=_job.runtime,
            gpu=1 if uses_gpu() else 0,
            cpu_share=train_cpu_share,
        params:
            runs=_job.configs,
            seeds=SEEDS,
            # The first cell's directory, where a cell alone keeps its state: a group of one
            # resumes a cell that began in a job of its own.
            state_dir=get_cell_dir,
            code=code_digest("train.py"),
        script:
            "../scripts/train.py"


# On a cluster, a training job that asks for more CPUs than any node has would wait in the queue
# for ever without a word from Snakemake: say so before submitting anything.
if workflow.is_main_process and workflow.nodes is not None:
    _nodes = slurm_check.cluster_nodes()
    for _job in train_jobs() if _nodes else []:
        _cores = getattr(rules, _job.name).rule.resources["_cores"]
        _unfit = slurm_check.never_fits(_job.name, _cores.value, _nodes)
        if _unfit:
            raise WorkflowError(f"icmeta: {_unfit}")
