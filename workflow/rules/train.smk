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
        run=get_run,
        seeds=SEEDS,
        cell_dir=get_cell_dir,
        code=code_digest("train.py"),
    script:
        "../scripts/train.py"
