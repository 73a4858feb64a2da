rule summarise_run:
    input:
        metrics=f"{RUN}/metrics.csv",
        attention=f"{RUN}/attention.npz",
    output:
        summary=f"{RUN}/summary.csv",
        phases=f"{RUN}/phases.csv",
        maps=f"{RUN}/phase_maps.csv.gz",
    log:
        f"logs/summarise_run/{{experiment}}/{{cell}}/seed~{{seed}}.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        run=get_run,
        settings=config["analysis"],
        code=code_digest("summarise_run.py"),
    script:
        "../scripts/summarise_run.py"


rule aggregate:
    input:
        metrics=get_run_files("metrics.csv"),
        summaries=get_run_files("summary.csv"),
        phases=get_run_files("phases.csv"),
        maps=get_run_files("phase_maps.csv.gz"),
    output:
        metrics=f"{TABLES}/metrics.csv.gz",
        runs=f"{TABLES}/runs.csv",
        phases=f"{TABLES}/phases.csv",
        maps=f"{TABLES}/phase_maps.csv.gz",
    log:
        "logs/aggregate/{experiment}.log",
    benchmark:
        "benchmarks/aggregate/{experiment}.tsv"
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        cells=get_cells,
        seeds=SEEDS,
        code=code_digest("aggregate.py"),
    script:
        "../scripts/aggregate.py"
