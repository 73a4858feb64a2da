# `snakemake publish`: copy what a reader needs of every active block into docs/results/<block>/
# (figures as PNG, run and phase tables, thinned curves, PROVENANCE.yaml); never part of `all`.
PUBLISHED = "docs/results/{experiment}"


rule publish:
    input:
        expand(f"{PUBLISHED}/PROVENANCE.yaml", experiment=EXPERIMENTS),


rule publish_block:
    input:
        pngs=get_published_pngs,
        runs=f"{TABLES}/runs.csv",
        phases=f"{TABLES}/phases.csv",
        metrics=f"{TABLES}/metrics.csv.gz",
    output:
        stamp=f"{PUBLISHED}/PROVENANCE.yaml",
        runs=f"{PUBLISHED}/runs.csv",
        phases=f"{PUBLISHED}/phases.csv",
        curves=f"{PUBLISHED}/curves.csv",
        figures=directory(f"{PUBLISHED}/figures"),
    log:
        "logs/publish/{experiment}.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        axes=get_axes,
        run_hashes=get_run_hashes,
        analysis=config["analysis"],
        root=str(ROOT),
        code=code_digest("publish.py"),
    script:
        "../scripts/publish.py"
