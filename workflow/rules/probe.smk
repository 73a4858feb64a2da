# The SST-2 probe (docs/probe.md): attention metrics of pretrained language models on few-shot
# prompts, for a list of models and for the checkpoints of one model during pre-training.
PROBE = config["probe"]
PROBE_RUNS = probe_runs(PROBE)
PROBE_FIGURES = ["probe_layers", "probe_heads"]
if PROBE["checkpoints"]["steps"]:
    PROBE_FIGURES.append("probe_checkpoints")


wildcard_constraints:
    probe_run=r"models/[\w.-]+|checkpoints/[\w.-]+/step~\d+",


rule sst2_data:
    output:
        train="resources/sst2/train.tsv",
        dev="resources/sst2/dev.tsv",
    log:
        "logs/sst2_data.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        url=PROBE["data"]["url"],
        md5=PROBE["data"]["md5"],
        code=code_digest("sst2_data.py"),
    script:
        "../scripts/sst2_data.py"


rule probe:
    input:
        unpack(get_sst2_files),
    output:
        metrics="results/probe/{probe_run}/metrics.csv",
        predictions="results/probe/{probe_run}/predictions.csv",
        summary="results/probe/{probe_run}/summary.csv",
    log:
        "logs/probe/{probe_run}.log",
    conda:
        "../../envs/icmeta.yaml"
    threads: 2
    resources:
        mem_mb=probe_mem_mb,
        runtime=60,
        gpu=1 if uses_gpu() else 0,
    params:
        spec=lambda wildcards: PROBE_RUNS[wildcards.probe_run],
        prompts=PROBE["prompts"],
        dtype=PROBE["dtype"],
        batch_size=PROBE["batch_size"],
        code=code_digest("probe.py"),
    script:
        "../scripts/probe.py"


rule probe_tables:
    input:
        metrics=expand("results/probe/{run}/metrics.csv", run=PROBE_RUNS),
        summaries=expand("results/probe/{run}/summary.csv", run=PROBE_RUNS),
    output:
        metrics="results/probe/tables/metrics.csv",
        summaries="results/probe/tables/summary.csv",
    log:
        "logs/probe_tables.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        runs=list(PROBE_RUNS),
        code=code_digest("probe_tables.py"),
    script:
        "../scripts/probe_tables.py"


rule probe_figure:
    input:
        metrics="results/probe/tables/metrics.csv",
        summaries="results/probe/tables/summary.csv",
    output:
        png=report(
            "results/probe/figures/{probe_figure}.png",
            caption="../report/probe.rst",
            category="probe",
            labels={"figure": "{probe_figure}"},
        ),
        pdf="results/probe/figures/{probe_figure}.pdf",
        table="results/probe/figures/{probe_figure}.csv",
    log:
        "logs/probe_figure/{probe_figure}.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        code=code_digest("probe_figure.py"),
    script:
        "../scripts/probe_figure.py"
