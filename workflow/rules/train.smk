# Training: one job per grid cell (all its seeds as one batched model), or, with
# execution.cells_per_job > 1, one job per group of cells that can share a batched model
# (docs/workflow.md, "Several cells per job").
CELLS_PER_JOB = config["execution"]["cells_per_job"]

if CELLS_PER_JOB == 1:

    rule train:
        input:
            eval_sets=seed_files("eval_sets.pt"),
        output:
            metrics=seed_files("metrics.csv"),
            train_steps=seed_files("train_steps.csv.gz"),
            attention=seed_files("attention.npz"),
            config=seed_files("config.yaml"),
            checkpoints=[directory(p) for p in seed_files("checkpoints")],
        log:
            f"logs/train/{{experiment}}/{{cell}}.log",
        benchmark:
            f"benchmarks/train/{{experiment}}/{{cell}}.tsv"
        # A killed or preempted job resumes from the cell's saved training state on its next attempt.
        retries: 2
        conda:
            "../../envs/icmeta.yaml"
        threads: 2
        resources:
            mem_mb=train_mem_mb,
            runtime=train_runtime,
            gpu=1 if uses_gpu() else 0,
        params:
            runs=lambda wildcards: [get_run(wildcards)],
            seeds=SEEDS,
            state_dir=get_cell_dir,
            code=code_digest("train.py"),
        script:
            "../scripts/train.py"

else:
    for _experiment in EXPERIMENTS:
        for _index, _group in enumerate(
            grid.train_groups(config, _experiment, CELLS_PER_JOB)
        ):
            _runs = [
                f"results/{_experiment}/{c.path}/seed~{s}"
                for c in _group
                for s in SEEDS
            ]

            rule:
                name:
                    f"train_{_experiment}_group{_index}"
                input:
                    eval_sets=[f"{r}/eval_sets.pt" for r in _runs],
                output:
                    metrics=[f"{r}/metrics.csv" for r in _runs],
                    train_steps=[f"{r}/train_steps.csv.gz" for r in _runs],
                    attention=[f"{r}/attention.npz" for r in _runs],
                    config=[f"{r}/config.yaml" for r in _runs],
                    checkpoints=[directory(f"{r}/checkpoints") for r in _runs],
                # Named after the first cell, as that cell's own job is: a group of one keeps
                # its cell's log, and a group renumbered by a grid edit never appends to another's.
                log:
                    f"logs/train/{_experiment}/{_group[0].path}.log",
                benchmark:
                    f"benchmarks/train/{_experiment}/{_group[0].path}.tsv"
                retries: 2
                conda:
                    "../../envs/icmeta.yaml"
                threads: 2
                resources:
                    mem_mb=group_mem_mb(len(_runs)),
                    runtime=group_runtime(_experiment, _group),
                    gpu=1 if uses_gpu() else 0,
                params:
                    runs=[_run_dict(_experiment, c.path) for c in _group],
                    seeds=SEEDS,
                    # The first cell's directory, where a cell alone keeps its state: a group of
                    # one resumes a cell that began in a job of its own.
                    state_dir=get_cell_dir,
                    code=code_digest("train.py"),
                script:
                    "../scripts/train.py"
