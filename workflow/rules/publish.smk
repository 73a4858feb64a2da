# `snakemake publish`: copy what a reader needs of every active block into docs/results/<block>/
# (figures as PNG, run and phase tables and their Markdown page, thinned curves, PROVENANCE.yaml);
# never part of `all`.
# One rule per block, so that every published file is a declared output.
PUBLISHED = "docs/results/{experiment}"


rule publish:
    input:
        expand(f"{PUBLISHED}/PROVENANCE.yaml", experiment=EXPERIMENTS),


for _experiment in EXPERIMENTS:

    rule:
        name:
            f"publish_{_experiment}"
        input:
            pngs=expand(
                f"results/{_experiment}/figures/{{name}}.png",
                name=figures_of(_experiment),
            ),
            runs=f"results/{_experiment}/tables/runs.csv",
            phases=f"results/{_experiment}/tables/phases.csv",
            metrics=f"results/{_experiment}/tables/metrics.csv.gz",
            maps=f"results/{_experiment}/tables/phase_maps.csv.gz",
        output:
            stamp=f"docs/results/{_experiment}/PROVENANCE.yaml",
            runs=f"docs/results/{_experiment}/runs.csv",
            phases=f"docs/results/{_experiment}/phases.csv",
            page=f"docs/results/{_experiment}/runs.md",
            curves=f"docs/results/{_experiment}/curves.csv",
            sweep=f"docs/results/{_experiment}/detector_sweep.csv",
            history=f"docs/results/{_experiment}/history.csv.gz",
            archive=f"docs/results/{_experiment}/archive.yaml",
            maps=f"docs/results/{_experiment}/phase_maps.csv.gz",
            figures=expand(
                f"docs/results/{_experiment}/figures/{{name}}.png",
                name=figures_of(_experiment),
            ),
        log:
            f"logs/publish/{_experiment}.log",
        localrule: True
        conda:
            "../../envs/icmeta.yaml"
        params:
            experiment=_experiment,
            axes=list(next(iter(CELLS[_experiment].values())).axis_values),
            run_hashes=[
                run.hash()
                for cell in CELLS[_experiment].values()
                for run in grid.run_configs(config, cell)
            ],
            analysis=config["analysis"],
            root=str(ROOT),
            cells=[
                {
                    "path": c.path,
                    "axes": c.axis_values,
                    "run": _run_dict(_experiment, c.path),
                }
                for c in CELLS[_experiment].values()
            ],
            seeds=SEEDS,
            code=code_digest("publish.py"),
        script:
            "../scripts/publish.py"


# `snakemake claims`: the paper's headline claims measured on the published blocks
# (src/icmeta/block/claims.py). It reads docs/results/, each block published from the config that ran it,
# so it runs under any config; never part of `publish` or `all`. The tables are not its inputs: under
# the current config their publish jobs may have nothing to run from, and must not be planned. A stamp
# of their content is (provenance.content_stamp), so publishing or re-publishing a block re-runs the
# claims. A block counts once its PROVENANCE.yaml, written last, is there; one not yet published
# leaves its claims "not tested".
CLAIM_BLOCKS = [
    block
    for block in claims.BLOCKS
    if Path(PUBLISHED.format(experiment=block), "PROVENANCE.yaml").exists()
]
CLAIM_TABLES = {
    name: [f"{PUBLISHED.format(experiment=block)}/{name}.csv" for block in CLAIM_BLOCKS]
    for name in ("runs", "phases")
}
# Blocks published with their phases re-detected under neighbouring detector settings.
CLAIM_SWEEPS = {
    block: f"{PUBLISHED.format(experiment=block)}/detector_sweep.csv"
    for block in CLAIM_BLOCKS
    if Path(PUBLISHED.format(experiment=block), "detector_sweep.csv").exists()
}


rule claims:
    input:
        tables=provenance.content_stamp(
            ".snakemake/icmeta/claims_tables.digest",
            CLAIM_TABLES["runs"]
            + CLAIM_TABLES["phases"]
            + list(CLAIM_SWEEPS.values()),
        ),
    output:
        "docs/results/claims.md",
    log:
        "logs/publish/claims.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        blocks=CLAIM_BLOCKS,
        runs=CLAIM_TABLES["runs"],
        phases=CLAIM_TABLES["phases"],
        sweeps=CLAIM_SWEEPS,
        tolerance=config["analysis"]["circuit_acc_tolerance"],
        code=code_digest("claims.py"),
    script:
        "../scripts/claims.py"


# `snakemake redraw`: every published block that carries an archive, its tables computed again and its
# figures drawn by the current code from the archive alone (src/icmeta/steps/redraw.py), so that an
# edit to a figure or to the analysis reaches blocks whose runs are gone; never part of `publish` or
# `all`. The archive's content, not its date (publishing rewrites it), decides when a block is stale.
REDRAWN = [
    block
    for block in config["experiments"]
    if Path(PUBLISHED.format(experiment=block), "archive.yaml").exists()
]


rule redraw:
    input:
        expand(f"{PUBLISHED}/redrawn.yaml", experiment=REDRAWN),


for _block in REDRAWN:

    rule:
        name:
            f"redraw_{_block}"
        input:
            archive=provenance.content_stamp(
                f".snakemake/icmeta/archive_{_block}.digest",
                sorted(Path(PUBLISHED.format(experiment=_block)).glob("*.csv.gz"))
                + [Path(PUBLISHED.format(experiment=_block), "archive.yaml")],
            ),
        output:
            f"docs/results/{_block}/redrawn.yaml",
        log:
            f"logs/publish/redraw_{_block}.log",
        localrule: True
        conda:
            "../../envs/icmeta.yaml"
        params:
            title=config["experiments"][_block].get("description", _block),
            root=str(ROOT),
            code=code_digest(
                "redraw.py", *(f"icmeta.figures.{name}" for name in FIGURE_NAMES)
            ),
        script:
            "../scripts/redraw.py"
