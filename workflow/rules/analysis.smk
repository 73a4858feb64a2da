rule summarise_run:
    input:
        f"{RUN}/metrics.csv",
    output:
        f"{RUN}/summary.csv",
    params:
        code=code_digest("summary", "summarise_run.py"),
    log:
        f"logs/summarise_run/{{experiment}}/{{cell}}/seed~{{seed}}.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    script:
        "../scripts/summarise_run.py"


rule aggregate:
    input:
        metrics=get_run_files("metrics.csv"),
        summaries=get_run_files("summary.csv"),
    output:
        metrics=f"{TABLES}/metrics.csv.gz",
        runs=f"{TABLES}/runs.csv",
    params:
        cells=get_cells,
        seeds=SEEDS,
        code=code_digest("tables", "aggregate.py"),
    log:
        "logs/aggregate/{experiment}.log",
    benchmark:
        "benchmarks/aggregate/{experiment}.tsv"
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    script:
        "../scripts/aggregate.py"
