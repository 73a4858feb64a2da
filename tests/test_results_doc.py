"""docs/results.md's claim table is the one `snakemake claims` measured on the published tables: the
page may not show a verdict the published evidence does not give, nor leave one out."""

from pathlib import Path

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
    import pandas as pd

    from icmeta.block.report import confusion_markdown

    tables = [pd.read_csv(p) for p in sorted((ROOT / "docs" / "results").glob("*/phases.csv"))]
    both = [t for t in tables if "circuit_behaviour" in t.columns]
    assert both, "no published block carries behavioural labels"
    assert confusion_markdown(pd.concat(both)) in (ROOT / "docs" / "phases.md").read_text()
