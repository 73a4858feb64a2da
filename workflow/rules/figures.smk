rule learning_curves:
    input:
        f"{TABLES}/metrics.csv.gz",
    output:
        png=report(
            f"{FIGURES}/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="{experiment}",
            labels={"figure": "learning curves"},
        ),
        pdf=f"{FIGURES}/learning_curves.pdf",
        table=f"{FIGURES}/learning_curves.csv",
    log:
        "logs/learning_curves/{experiment}.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        axes=get_axes,
        title=get_title,
        figure="learning_curves",
        code=code_digest("learning_curves", "figure.py"),
    script:
        "../scripts/figure.py"


rule final_accuracy:
    input:
        f"{TABLES}/runs.csv",
    output:
        png=report(
            f"{FIGURES}/final_accuracy.png",
            caption="../report/final_accuracy.rst",
            category="{experiment}",
            labels={"figure": "final accuracy"},
        ),
        pdf=f"{FIGURES}/final_accuracy.pdf",
        table=f"{FIGURES}/final_accuracy.csv",
    log:
        "logs/final_accuracy/{experiment}.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        axes=get_axes,
        title=get_title,
        figure="final_accuracy",
        code=code_digest("final_accuracy", "figure.py"),
    script:
        "../scripts/figure.py"


rule phase_diagram:
    input:
        f"{TABLES}/runs.csv",
    output:
        png=report(
            f"{FIGURES}/phase_diagram.png",
            caption="../report/phase_diagram.rst",
            category="{experiment}",
            labels={"figure": "phase diagram"},
        ),
        pdf=f"{FIGURES}/phase_diagram.pdf",
        table=f"{FIGURES}/phase_diagram.csv",
    log:
        "logs/phase_diagram/{experiment}.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        axes=get_axes,
        title=get_title,
        figure="phase_diagram",
        code=code_digest("phase_diagram", "figure.py"),
    script:
        "../scripts/figure.py"
