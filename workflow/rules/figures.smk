# One rule per figure module of icmeta.figures; an experiment block lists the figures it wants.
TABLE_FILES = {
    "metrics": "metrics.csv.gz",
    "runs": "runs.csv",
    "phases": "phases.csv",
    "phase_maps": "phase_maps.csv.gz",
}


for _figure in FIGURE_NAMES:

    rule:
        name:
            _figure
        input:
            **{t: f"{TABLES}/{TABLE_FILES[t]}" for t in figures.tables_of(_figure)},
        output:
            png=report(
                f"{FIGURES}/{_figure}.png",
                caption="../report/figure.rst",
                category="{experiment}",
                labels={"figure": _figure.replace("_", " ")},
            ),
            pdf=f"{FIGURES}/{_figure}.pdf",
            table=f"{FIGURES}/{_figure}.csv",
        log:
            f"logs/{_figure}/{{experiment}}.log",
        localrule: True
        conda:
            "../../envs/icmeta.yaml"
        params:
            axes=get_axes,
            title=get_title,
            figure=_figure,
            caption=figures.describe(_figure),
            code=code_digest("figure.py", f"icmeta.figures.{_figure}"),
        script:
            "../scripts/figure.py"
