"""docs/results.md's claim table is the one `snakemake claims` measured on the published tables: the
page may not show a verdict the published evidence does not give, nor leave one out."""

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HEADER = (
    "| claim (paper) | measured | holds when | runs meeting it (95 % interval) | verdict "
    "| without the detector | figure |"
)


def claim_rows(markdown: str, link_prefix: str = "") -> list[list[str]]:
    """The rows of the claim table (found by its header) as cells, with the figure links' prefix
    removed, so that results.md (links into results/) compares to claims.md (links beside it)."""
    lines = markdown.splitlines()
    if HEADER not in lines:
        return []
    rows = []
    for line in lines[lines.index(HEADER) + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().replace(f"]({link_prefix}", "](") for c in line.strip("|").split("|")])
    return rows


def test_claim_rows_compare_equal_across_the_link_prefix_and_tell_a_changed_verdict():
    row = "| a | 0.5 | rule | 9 of 10 (0.60–0.98) | **holds** | – | [m/f](m/figures/f.png) |"
    published = f"{HEADER}\n|---|---|---|---|---|---|---|\n{row}\n"
    page = "# Results\n\n" + published.replace("](m/", "](results/m/") + "\nMore text.\n"
    assert claim_rows(page, "results/") == claim_rows(published) != []
    assert claim_rows(page.replace("**holds**", "**partly**"), "results/") != claim_rows(published)
    assert claim_rows("no table here") == []


def test_results_page_shows_exactly_the_published_claim_table():
    published = ROOT / "docs" / "results" / "claims.md"
    page = claim_rows((ROOT / "docs" / "results.md").read_text(), "results/")
    if not published.exists():
        assert page == [], "docs/results.md shows verdicts, but no claims are published (snakemake claims)"
    else:
        assert page == claim_rows(published.read_text()), "re-copy docs/results/claims.md into results.md"


def test_phases_page_shows_the_confusion_table_of_the_published_phases():
    """docs/phases.md's table of Tab. 1 against behavioural labels is the one the published phases
    give, over every block whose phases carry both labels."""
    from icmeta.block.report import confusion_markdown

    tables = [pd.read_csv(p) for p in sorted((ROOT / "docs" / "results").glob("*/phases.csv"))]
    both = [t for t in tables if "circuit_behaviour" in t.columns]
    assert both, "no published block carries behavioural labels"
    assert confusion_markdown(pd.concat(both)) in (ROOT / "docs" / "phases.md").read_text()


def test_results_page_names_the_code_that_drew_each_published_block():
    from icmeta.block.report import provenance_markdown

    stamps = {
        p.parent.name: yaml.safe_load(p.read_text())
        for p in (ROOT / "docs" / "results").glob("*/PROVENANCE.yaml")
    }
    assert provenance_markdown(stamps) in (ROOT / "docs" / "results.md").read_text()


def test_provenance_table_tells_archived_blocks_and_kept_figures_apart():
    from icmeta.block.report import provenance_markdown

    files = {"runs.csv": "ab", "archive.yaml": "cd"}
    stamps = {
        "b": {"runs": 3, "code_commit": "0123456789", "files": {"runs.csv": "ab"}},
        "a": {
            "runs": 2,
            "code_commit": "abcdef0123",
            "files": files,
            "kept_figures": ["figures/overview.png"],
        },
    }
    rows = provenance_markdown(stamps).splitlines()[2:]
    assert rows == ["| `a` | 2 | `abcdef0` | yes | overview |", "| `b` | 3 | `0123456` | no | – |"]


# --- every measured number of a block's section comes from a published table ------------------------

MEASURED = re.compile(r"\d+\.\d+k?|\d+k")  # 0.876, 15.8k, 30k: accuracies, steps (counts are words)
# Numbers a section may name that no run measured: the paper's values, settings and rule thresholds.
CONSTANTS = {
    "0.75": "the paper's second plateau",
    "0.6": "the paper's RLA range, low end",
    "0.7": "the paper's RLA range, high end",
    "0.01": "the paper's learning rate",
    "0.1": "the default item noise",
    "0.99": "the convergence stop's accuracy",
    "30k": "the convergence stop's hold",
    "10k": "the convergence stop's shorter hold",
    "0.3": "the first milestone the tables report",
    "0.95": "the milestone the tables report",
    "0.05": "the circuit tolerance",
    "100k": "a step cap",
    "120k": "a step cap",
    "200k": "a step cap",
    "400k": "a step cap",
}
# (section heading in docs/results.md, the published block whose tables it reads)
BLOCK_SECTIONS = [
    ("## The default setting", "main"),
    ("## The default setting with token positions and fixed label vectors", "main_paper_text"),
    ("## One task (T = 1)", "single_task"),
]


# (section heading, block) of sections that summarise a block too large to repeat its per-run table:
# their numbers must be values of its published run and phase tables, as the page rounds them
SUMMARY_SECTIONS = [
    ("## The phase diagram over T × ε", "phase_diagram"),
    ("## The number of heads", "heads"),
    ("## The number of classes", "classes_K"),
]


def section(markdown: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same or a higher level."""
    lines = markdown.splitlines()
    start = lines.index(heading)
    level = heading.split(" ")[0]
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].startswith("#") and len(lines[i].split(" ")[0]) <= len(level)
        ),
        len(lines),
    )
    return "\n".join(lines[start + 1 : end])


def prose_and_tables(text: str) -> tuple[str, str]:
    """A section split into its prose (without code, links' targets and images) and its table lines."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    lines = text.splitlines()
    tables = "\n".join(line for line in lines if line.startswith("|"))
    prose = "\n".join(line for line in lines if not line.startswith("|"))
    return prose, tables


def unsourced(prose: str, *sources: str) -> list[str]:
    """The measured numbers of `prose` that none of `sources` prints and that are not constants."""
    known = {n for source in sources for n in MEASURED.findall(source)} | set(CONSTANTS)
    return sorted({n for n in MEASURED.findall(prose) if n not in known})


def table_values(*tables: pd.DataFrame) -> str:
    """Every number of the tables as the docs print it: accuracies to 2 or 3 decimals, steps in
    thousands to 1 decimal or none ('0.876 0.88 15.8k 16k ...')."""
    out: set[str] = set()
    for table in tables:
        for column in table.columns:
            for x in pd.to_numeric(table[column], errors="coerce").dropna():
                out |= {f"{x:.2f}", f"{x:.3f}", f"{x / 1000:.1f}k", f"{x / 1000:.0f}k"}
    return " ".join(sorted(out))


def per_run_table(runs_md: str) -> list[str]:
    """The per-run table of a block's runs.md: the table that follows 'One row per run.'."""
    lines = runs_md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("One row per run."))
    table = [line for line in lines[start + 1 :] if line.strip()]
    return table[: next((i for i, line in enumerate(table) if not line.startswith("|")), len(table))]


def test_table_values_are_printed_as_the_page_rounds_them():
    values = table_values(pd.DataFrame({"acc": [0.87634, "x"], "step": [15800, 400]})).split()
    assert {"0.876", "0.88", "15.8k", "16k", "0.4k"} <= set(values)
    assert unsourced("A plateau at 0.876 from 15.8k steps.", " ".join(values)) == []
    assert unsourced("A plateau at 0.867 from 15.8k steps.", " ".join(values)) == ["0.867"]


def test_the_number_check_names_a_number_no_table_prints_and_passes_the_ones_that_one_does():
    table = "| seed | final acc |\n|---|---|\n| 0 | 0.994 |\n| 1 | 0.876 |"
    assert unsourced("Seeds end at 0.994 and 0.876, near 0.75.", table) == []
    assert unsourced("Seeds end at 0.994 and 0.867.", table) == ["0.867"]  # a typed digit swap
    assert unsourced("It took 15.8k steps.", table) == ["15.8k"]
    prose, tables = prose_and_tables(f"Text 0.123 [a](results/x_0.5.png)\n\n{table}\n\n```\n1.5k\n```")
    assert unsourced(prose, tables) == ["0.123"] and "0.994" in tables


@pytest.mark.parametrize(("heading", "block"), BLOCK_SECTIONS)
def test_a_block_section_shows_the_published_per_run_table_and_only_its_numbers(heading, block):
    """Each block's section of docs/results.md repeats the block's published per-run table exactly, and
    every accuracy or step its prose names is printed by that table, the block's runs.md or the claim
    page (or is a constant: the paper's values, a setting)."""
    published = ROOT / "docs" / "results" / block / "runs.md"
    page = (ROOT / "docs" / "results.md").read_text()
    if not published.exists():
        assert heading not in page.splitlines(), f"{heading} describes {block}, which is not published"
        return
    text = section(page, heading)
    table = per_run_table(published.read_text())
    assert "\n".join(table) in text, f"re-copy the per-run table of {published} into {heading}"
    prose, tables = prose_and_tables(text)
    claims = (ROOT / "docs" / "results" / "claims.md").read_text()
    assert unsourced(prose, tables, published.read_text(), claims) == []


def clauses(prose: str) -> list[str]:
    """The prose's bullets and paragraphs cut into clauses at sentence ends and semicolons outside
    brackets, so that a number is read with the cells and seeds named in its own clause."""
    prose = re.sub(r"[ \t]*\n[ \t]*(?!- )", " ", prose)  # a wrapped line is one line ('and\n  0.75')
    out, depth, start = [], 0, 0
    for i, char in enumerate(prose):
        depth += {"(": 1, ")": -1}.get(char, 0)
        abbreviation = prose[max(0, i - 3) : i + 1] in ("Tab.", "Fig.")
        end = (prose[i : i + 2] in (". ", "; ", ".\n", ";\n") and not abbreviation) or prose[
            i : i + 2
        ] == "\n-"
        if end and depth == 0:
            out.append(prose[start : i + 1])
            start = i + 1
    return [c.strip() for c in [*out, prose[start:]] if c.strip()]


AXIS_WORDS = {"T": "T", "K": "K", "ε": "eps", "seed": "seed", "seeds": "seed"}
INTEGERS = r"\d+(?![.\d])(?:(?:, | and | or )\d+(?![.\d]))*"  # '2, 3 and 4', not '32, 0.85'
DECIMALS = r"\d+(?:\.\d+)?(?:(?:, | and | or )\d+(?:\.\d+)?)*"


def named_runs(clause: str, runs: pd.DataFrame) -> pd.DataFrame:
    """The runs a clause names by their cell ('T = 2, 3', 'ε ≤ 0.5', 'K = 32') and seed ('seeds 0 and
    1'); mentions of one axis add up ('at K = 32 ... at K = 64'); all runs where it names none."""
    picked: dict[str, pd.Series] = {}
    pattern = rf"\b(T|K|[Ss]eeds?) ?(=|≤|≥|) ?({INTEGERS})|(ε) ?(=|≤|≥) ?({DECIMALS})"
    for match in re.finditer(pattern, clause):
        word, relation, values = match.group(1, 2, 3) if match.group(1) else match.group(4, 5, 6)
        column = AXIS_WORDS[word.lower() if word[0] in "Ss" else word]
        if column not in runs.columns or (word in ("T", "K") and not relation):
            continue
        numbers = [float(v) for v in re.split(r", | and | or ", values)]
        column_values = runs[column].astype(float)
        if relation == "≤":
            hit = column_values <= max(numbers)
        elif relation == "≥":
            hit = column_values >= min(numbers)
        else:
            hit = column_values.isin(numbers)
        picked[column] = picked.get(column, pd.Series(False, index=runs.index)) | hit
    keep = pd.Series(True, index=runs.index)
    for hit in picked.values():
        keep &= hit
    return runs[keep]


def linked_pages(clause_markdown: str) -> str:
    """What the published pages and tables a clause links to print (another block's runs, say)."""
    out = []
    for page in re.findall(r"\]\((results/[^)]+/(?:runs\.md|\w+\.csv))\)", clause_markdown):
        path = ROOT / "docs" / page
        out.append(table_values(pd.read_csv(path)) if path.suffix == ".csv" else path.read_text())
    return " ".join(out)


def derived(runs: pd.DataFrame, phases: pd.DataFrame) -> pd.DataFrame:
    """The numbers prose derives from the phases most: each plateau's distance from its run's
    predictions (1/T and the label-multiset bound) and how long it lasted."""
    both = phases.merge(runs[["cell", "seed", "ncc_prediction", "scc_prediction"]], on=["cell", "seed"])
    out = {f"from_{p}": (both["plateau_acc"] - both[f"{p}_prediction"]).abs() for p in ("ncc", "scc")}
    return pd.DataFrame(out).assign(lasted=both["plateau_end"] - both["plateau_start"])


def test_a_clause_is_read_with_the_runs_it_names():
    runs = pd.DataFrame({"T": [2, 2, 3, 8], "eps": [0.0, 0.5, 1.0, 0.5], "seed": [0, 1, 1, 0]})
    assert clauses("At T = 2 it rests (one; two). Then; at T = 3\n  it ends. Tab. 1 says so.") == [
        "At T = 2 it rests (one; two).",
        "Then;",
        "at T = 3 it ends.",
        "Tab. 1 says so.",
    ]
    assert named_runs("at T = 2, seed 1 at ε ≤ 0.5 rests", runs).index.tolist() == [1]
    assert named_runs("seeds 0 and 1 at T = 2, 3", runs).index.tolist() == [0, 1, 2]
    assert named_runs("T ≥ 3 with ε = 0.5 and 1", runs).index.tolist() == [2, 3]
    assert named_runs("every run", runs).index.tolist() == [0, 1, 2, 3]
    assert named_runs("0.9 at T = 2, 0.8 at T = 8", runs).index.tolist() == [0, 1, 3]


def clause_problems(
    text: str, runs: pd.DataFrame, phases: pd.DataFrame, *sources: str
) -> list[tuple[str, str]]:
    """(number, clause) for each accuracy or step of `text` that is not a value of the runs its clause
    names (their run and phase rows, with the plateaus' distances from their predictions and their
    durations), of a page or table the clause links, of `sources` or of the text's own tables."""
    tables = prose_and_tables(text)[1]
    found = []
    for clause in clauses(re.sub(r"```.*?```", "", text, flags=re.S)):
        prose = prose_and_tables(clause)[0]
        named = named_runs(prose, runs)
        rows = phases.merge(named[["cell", "seed"]], on=["cell", "seed"])
        values = table_values(named, rows, derived(named, rows))
        found += [(n, prose) for n in unsourced(prose, values, linked_pages(clause), *sources, tables)]
    return found


def test_a_number_that_another_run_holds_fails_the_clause_that_names_a_run():
    runs = pd.DataFrame({"cell": ["T~2", "T~2"], "seed": [0, 1], "T": [2, 2], "final_acc": [0.912, 0.874]})
    runs = runs.assign(ncc_prediction=0.5, scc_prediction=0.93)
    phases = pd.DataFrame(
        {"cell": ["T~2"] * 2, "seed": [0, 1], "plateau_acc": [0.5, 0.51], "plateau_start": [9000, 9500]}
    ).assign(plateau_end=[20000, 30000])
    assert clause_problems("Seed 0 ends at 0.912. Seed 1 ends at 0.874.", runs, phases) == []
    assert clause_problems("Seed 0 ends at 0.874.", runs, phases) == [("0.874", "Seed 0 ends at 0.874.")]
    assert clause_problems("Seed 1 rests for 20.5k steps, 0.01 above 1/T.", runs, phases) == []
    assert clause_problems("Seed 0 rests for 20.5k steps.", runs, phases) == [
        ("20.5k", "Seed 0 rests for 20.5k steps.")
    ]


@pytest.mark.parametrize(("heading", "block"), SUMMARY_SECTIONS)
def test_a_summary_clause_names_only_numbers_of_the_runs_it_names(heading, block):
    """Per clause: an accuracy or step is a value of the runs the clause names, of a page it links,
    of the claim page or of the section's own tables. A value some other run happens to hold fails."""
    published = ROOT / "docs" / "results" / block
    if not (published / "runs.csv").exists():
        return  # the section-wide test says whether the section may exist
    runs, phases = (pd.read_csv(published / f"{name}.csv") for name in ("runs", "phases"))
    text = section((ROOT / "docs" / "results.md").read_text(), heading)
    claims = (ROOT / "docs" / "results" / "claims.md").read_text()
    assert clause_problems(text, runs, phases, claims) == []


@pytest.mark.parametrize(("heading", "block"), SUMMARY_SECTIONS)
def test_a_summary_section_names_only_numbers_its_block_publishes(heading, block):
    """Sections on blocks too large to repeat whole: every accuracy or step in their prose is a value
    of the block's published run or phase table (as rounded), its runs.md or the claim page."""
    published = ROOT / "docs" / "results" / block
    page = (ROOT / "docs" / "results.md").read_text()
    if not (published / "runs.csv").exists():
        assert heading not in page.splitlines(), f"{heading} describes {block}, which is not published"
        return
    prose, tables = prose_and_tables(section(page, heading))
    runs, phases = (pd.read_csv(published / f"{name}.csv") for name in ("runs", "phases"))
    values = table_values(runs, phases, derived(runs, phases))
    claims = (ROOT / "docs" / "results" / "claims.md").read_text()
    assert unsourced(prose, tables, (published / "runs.md").read_text(), claims, values) == []


def test_each_claim_counts_the_same_runs_with_a_block_s_published_phases_and_its_default_sweep():
    """The sensitivity table's default column re-detects the published phases: a claim that counts
    differently there reads the sweep's phases another way (say, a label-prior stage counted)."""
    from icmeta.block.claims import CLAIMS, Runs, with_phases
    from icmeta.block.detector_sweep import DEFAULT

    results = ROOT / "docs" / "results"
    blocks = {
        p.parent.name: Runs(pd.read_csv(p.parent / "runs.csv"), pd.read_csv(p.parent / "phases.csv"))
        for p in results.glob("*/PROVENANCE.yaml")
    }
    tolerance = 0.05
    checked = 0
    for claim in CLAIMS:
        sweep_csv = results / claim.block / "detector_sweep.csv"
        if claim.block not in blocks or not sweep_csv.exists():
            continue
        sweep = pd.read_csv(sweep_csv)
        if "circuit_behaviour" not in sweep.columns:
            continue  # swept before the sweep carried behaviour: its default may count a label prior
        default = with_phases(blocks[claim.block], sweep[sweep["setting"] == DEFAULT])
        published, swept = (
            claim.measure(blocks, tolerance),
            claim.measure({**blocks, claim.block: default}, tolerance),
        )
        assert (swept.met, swept.tested) == (published.met, published.tested), claim.paper
        checked += 1
    assert checked, "no published block carries a behaviour-labelled detector sweep"
