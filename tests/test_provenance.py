"""Code provenance: each step's digest covers exactly the library modules its script imports, by meaning.

The unit tests check the import analysis and the digest on small packages written here. The workflow
tests check the promise a user relies on, on a finished tiny grid with the SST-2 probe: every job
loads only modules its digest covers, an edit to any library module plans exactly the steps whose
scripts import it (and what is downstream of them), and a comment, docstring or layout edit plans
nothing.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

from icmeta.figures import NAMES as FIGURE_NAMES
from icmeta.provenance import (
    ProvenanceError,
    closure,
    meaning_digest,
    module_file,
    step_digest,
    step_modules,
)
from snakemake_runs import REPO, clone_workflow, planned_jobs, snakemake

SRC = REPO / "src"
LIBRARY_MODULES = sorted(
    ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    for p in (SRC / "icmeta").rglob("*.py")
)


def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


# The import analysis -----------------------------------------------------------------------------


def test_closure_follows_absolute_relative_function_level_and_parent_imports(tmp_path):
    src = _package(
        tmp_path,
        {
            "icmeta/__init__.py": "",
            "icmeta/a.py": "from icmeta.sub import b\n",
            "icmeta/sub/__init__.py": "from .c import X\n",
            "icmeta/sub/b.py": "def f():\n    from ..d import g\n    return g\n",
            "icmeta/sub/c.py": "X = 1\n",
            "icmeta/d.py": "import os\ng = os.sep\n",
            "icmeta/unused.py": "",
        },
    )
    script = _package(tmp_path / "scripts", {"s.py": "import icmeta.a\n"}) / "s.py"
    assert step_modules(src, script) == [
        "icmeta",
        "icmeta.a",
        "icmeta.d",
        "icmeta.sub",
        "icmeta.sub.b",
        "icmeta.sub.c",
    ]
    assert closure(src, ["icmeta.sub.c"]) == ["icmeta", "icmeta.sub", "icmeta.sub.c"]


def test_an_unmarked_dynamic_import_is_refused_and_a_marked_one_needs_the_step_to_name_it(tmp_path):
    src = _package(
        tmp_path,
        {
            "icmeta/__init__.py": "",
            "icmeta/hidden.py": "",
            "icmeta/loader.py": "import importlib\nmod = importlib.import_module('icmeta.hidden')\n",
        },
    )
    script = _package(tmp_path / "scripts", {"s.py": "from icmeta import loader\n"}) / "s.py"
    with pytest.raises(ProvenanceError, match=r"loader\.py:2: a dynamic import"):
        step_modules(src, script)
    loader = src / "icmeta" / "loader.py"
    loader.write_text(loader.read_text().replace(")\n", ")  # provenance: the step names it\n"))
    assert "icmeta.hidden" not in step_modules(src, script)
    assert "icmeta.hidden" in step_modules(src, script, ["icmeta.hidden"])
    with pytest.raises(ProvenanceError, match=r"icmeta\.nothing does not exist"):
        step_modules(src, script, ["icmeta.nothing"])


def test_every_dynamic_import_in_the_library_is_declared():
    for script in (REPO / "workflow" / "scripts").glob("*.py"):
        step_modules(SRC, script)  # raises on an unmarked one


def test_meaning_ignores_comments_docstrings_and_layout_but_not_code(tmp_path):
    base = '"""Module doc."""\n\n\ndef f(x):\n    """Doc."""\n    return x + 1  # add one\n'
    variants = {
        "same": base,
        "comment": "# header\n" + base,
        "docstrings": base.replace("Module doc.", "Other words.").replace('"""Doc."""', '"""New."""'),
        "layout": base.replace("return x + 1", "return (\n        x\n        + 1\n    )") + "\n\n",
        "constant": base.replace("x + 1", "x + 2"),
        "name": base.replace("def f", "def g"),
        "docstring_to_code": base.replace('"""Doc."""', "x = x"),
    }
    digests = {}
    for name, text in variants.items():
        (tmp_path / f"{name}.py").write_text(text)
        digests[name] = meaning_digest(tmp_path / f"{name}.py")
    assert digests["comment"] == digests["docstrings"] == digests["layout"] == digests["same"]
    assert len({digests[k] for k in ("same", "constant", "name", "docstring_to_code")}) == 4


def test_step_digest_changes_with_any_module_of_the_step_and_with_the_script(tmp_path):
    src = _package(tmp_path, {"icmeta/__init__.py": "", "icmeta/a.py": "A = 1\n", "icmeta/b.py": "B = 1\n"})
    script = _package(tmp_path / "scripts", {"s.py": "from icmeta.a import A\n"}) / "s.py"
    before = step_digest(src, script)
    (src / "icmeta" / "b.py").write_text("B = 2\n")
    assert step_digest(src, script) == before
    (src / "icmeta" / "a.py").write_text("A = 2\n")
    assert step_digest(src, script) != before
    after = step_digest(src, script)
    script.write_text(script.read_text() + "print(A)\n")
    assert step_digest(src, script) != after


def _workflow_steps() -> dict[str, tuple[str, list[str]]]:
    """Every step the rules declare a code digest for: step -> (script, modules it names), read from
    the rule files' `code_digest(...)` calls, a figure rule's expanded over the figures, and a step
    that names every figure module (the redraw) given them all."""
    steps = {}
    every_figure = [f"icmeta.figures.{name}" for name in FIGURE_NAMES]
    for rules in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for script, figure, all_figures in re.findall(
            r'code_digest\(\s*"([\w.]+)"(, f"icmeta\.figures\.)?(,\s*\*\(f"icmeta\.figures\.)?',
            rules.read_text(),
        ):
            if figure:
                steps |= {name: (script, [f"icmeta.figures.{name}"]) for name in FIGURE_NAMES}
            else:
                steps[script.removesuffix(".py")] = (script, every_figure if all_figures else [])
    return steps


def test_an_edit_to_any_module_changes_exactly_the_digests_of_the_steps_that_run_it(tmp_path):
    """The module -> steps relation for every library module, computed without Snakemake: an edit
    that changes code changes the digest of every step whose closure holds the module, and of no
    other. (That each job loads only modules its closure holds is checked on real jobs below.)"""
    src = tmp_path / "src"
    shutil.copytree(SRC, src)
    scripts = REPO / "workflow" / "scripts"
    steps = _workflow_steps()
    assert {"train", "summarise_run", "aggregate", "publish", "claims", "delta_acc", "redraw"} <= set(steps)

    def digests() -> dict[str, str]:
        return {step: step_digest(src, scripts / script, extra) for step, (script, extra) in steps.items()}

    runs = {step: set(step_modules(src, scripts / script, extra)) for step, (script, extra) in steps.items()}
    before = digests()
    for module in LIBRARY_MODULES:
        path = module_file(src, module)
        original = path.read_text()
        path.write_text(original + "\n_EDITED = True\n")  # a new module attribute: code, not a comment
        changed = {step for step, digest in digests().items() if digest != before[step]}
        path.write_text(original)
        assert changed == {step for step, modules in runs.items() if module in modules}, module
        assert changed or module in UNUSED_BY_STEPS, f"{module} is run by no step"


# Library modules no workflow step runs: the command line and what only it reaches, and what the
# workflow reads while it parses (the grid and the digests themselves), which plans jobs, not runs them.
UNUSED_BY_STEPS = {
    "icmeta.cli",
    "icmeta.analysis.answers",
    "icmeta.training.bench",
    "icmeta.analysis.progress",
    "icmeta.job_hours",
    "icmeta.doctor",
    "icmeta.settings.experiments",
    "icmeta.provenance",
    "icmeta.settings.execution",
    "icmeta.probe.settings",
    "icmeta.steps.schema",
    "icmeta.steps.plan",
    "icmeta.steps.config_files",
    "icmeta.steps.slurm_check",
    "icmeta.figures.lint",
}


# The workflow ------------------------------------------------------------------------------------


def _extra_modules(rule: str) -> list[str]:
    """What a figure rule names for the figure module that icmeta.figures.draw imports dynamically."""
    return [f"icmeta.figures.{rule}"] if rule in FIGURE_NAMES else []


def _rule_modules(jobs: list[dict]) -> dict[str, set[str]]:
    scripts = {job["rule"]: job["script"] for job in jobs}
    return {
        rule: set(step_modules(SRC, REPO / "workflow" / "scripts" / script, _extra_modules(rule)))
        for rule, script in scripts.items()
    }


def test_every_job_loads_only_modules_its_digest_covers(finished_grid):
    by_rule: dict[str, set[str]] = {}
    for job in finished_grid.jobs:
        by_rule.setdefault(job["rule"], set()).update(job["modules"])
    full_plan = planned_jobs(finished_grid.work.parent / "empty", finished_grid.config)
    assert set(by_rule) == set(full_plan) - {"all"}, "every rule's jobs were recorded"
    covered = _rule_modules(finished_grid.jobs)
    for rule, loaded in by_rule.items():
        assert loaded <= covered[rule], f"{rule} loads {sorted(loaded - covered[rule])} outside its digest"


@pytest.fixture(scope="module")
def dag(finished_grid) -> tuple[dict[str, int], dict[str, set[str]], dict[str, set[str]]]:
    """Jobs per rule of the whole grid, each rule's library modules, and each rule's downstream rules."""
    counts = planned_jobs(finished_grid.work.parent / "empty", finished_grid.config)
    graph = snakemake(finished_grid.work.parent / "empty", finished_grid.config, "--rulegraph").stdout
    names = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)\"", graph, re.M))
    children: dict[str, set[str]] = {name: set() for name in names.values()}
    for parent, child in re.findall(r"^\s*(\d+) -> (\d+)", graph, re.M):
        children[names[parent]].add(names[child])
    downstream = {}
    for rule in children:
        seen, todo = set(), [rule]
        while todo:
            for child in children[todo.pop()] - seen:
                seen.add(child)
                todo.append(child)
        downstream[rule] = seen
    return counts, _rule_modules(finished_grid.jobs), downstream


# Real dry runs for a few modules across the layers: that Snakemake re-plans a step when its digest
# changes, and what is downstream of it (the relation itself is checked for every module above).
DRY_RUN_MODULES = [
    "icmeta.rng",
    "icmeta.analysis.phases",
    "icmeta.figures.delta_acc",
    "icmeta.steps.publish",
    "icmeta.probe",
]


@pytest.mark.parametrize("module", DRY_RUN_MODULES)
def test_a_code_edit_to_a_module_plans_exactly_the_steps_that_import_it(finished_grid, dag, tmp_path, module):
    counts, modules, downstream = dag
    code = clone_workflow(tmp_path / "clone")
    path = code / "src" / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    path.write_text(path.read_text() + "\n_EDITED = True\n")  # a new module attribute: code, not a comment
    importers = {rule for rule, used in modules.items() if module in used}
    stale = importers | {d for rule in importers for d in downstream[rule]}
    expected = {rule: counts[rule] for rule in stale}
    assert planned_jobs(finished_grid.work, finished_grid.config, "--nolock", code=code) == expected


def test_comments_docstrings_and_layout_edits_everywhere_plan_nothing(finished_grid, tmp_path):
    code = clone_workflow(tmp_path / "clone")
    figure_modules = {code / "src" / "icmeta" / "figures" / f"{name}.py" for name in FIGURE_NAMES}
    for path in [*(code / "src").rglob("*.py"), *(code / "workflow" / "scripts").glob("*.py")]:
        text = path.read_text()
        if path not in figure_modules:  # a figure's docstrings are its report caption: see below
            text = text.replace('"""', '"""Reworded. ', 1)
        path.write_text(
            "# A comment added on top.\n\n" + text.replace("\n\n\n", "\n\n\n\n") + "\n# The end.\n"
        )
    assert planned_jobs(finished_grid.work, finished_grid.config, "--nolock", code=code) == {}


def test_a_figure_docstring_edit_redraws_only_that_figure_for_its_report_caption(finished_grid, tmp_path):
    code = clone_workflow(tmp_path / "clone")
    path = code / "src" / "icmeta" / "figures" / "delta_acc.py"
    path.write_text(path.read_text().replace('"""', '"""Reworded. ', 1))
    planned = planned_jobs(finished_grid.work, finished_grid.config, "--nolock", code=code)
    assert planned == {"delta_acc": 1, "all": 1}
