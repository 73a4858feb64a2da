rule eval_sets:
    output:
        f"{RUN}/eval_sets.pt",
    log:
        f"logs/eval_sets/{{experiment}}/{{cell}}/seed~{{seed}}.log",
    localrule: True
    conda:
        "../../envs/icmeta.yaml"
    params:
        run=get_run_uncapped,
        code=code_digest("eval_sets.py"),
    script:
        "../scripts/eval_sets.py"
