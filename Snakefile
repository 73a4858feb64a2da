# icmeta: grids of in-context meta-learning runs -> circuit analysis -> figures (see README.md).
from snakemake.utils import min_version

min_version("9.11")


# config.yaml is read in common.smk, after a check that names the line of a YAML error in it.
include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/publish.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        get_final_outputs(),
