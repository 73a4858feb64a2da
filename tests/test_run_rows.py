"""A run's rows in another aggregated table: matched on the identity columns, whatever their dtype."""

import pandas as pd

from icmeta.block.run_rows import rows_of


def _phases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cell": ["T~1", "T~1", "T~1", "T~2"],
            "T": [1, 1, 1, 2],
            "seed": [0, 1, 1, 0],
            "phase": [1, 1, 2, 1],
        }
    )


def test_one_run_given_as_a_row_of_iterrows_selects_only_its_own_rows():
    runs = pd.DataFrame({"T": [1.0, 2.0], "seed": [1, 0], "acc": [0.5, 0.9]})
    _, run = next(runs.iterrows())  # all numeric: iterrows upcasts the seed to 1.0; T is 1 in phases
    mine = rows_of(_phases(), run, ["T", "seed"])
    assert mine["phase"].tolist() == [1, 2] and set(mine["seed"]) == {1}
    as_text = pd.DataFrame({"cell": ["T~1"], "seed": ["1"]})
    assert rows_of(_phases(), as_text, ["cell", "seed"]).index.tolist() == [1, 2]


def test_several_runs_select_the_union_and_an_absent_run_nothing():
    phases = _phases()
    both = pd.DataFrame({"T": [1, 2], "seed": [0, 0]})
    assert rows_of(phases, both, ["T", "seed"]).index.tolist() == [0, 3]
    assert rows_of(phases, pd.DataFrame({"T": [3], "seed": [0]}), ["T", "seed"]).empty
    assert rows_of(phases.iloc[:0], both, ["T", "seed"]).empty


def test_a_runs_phases_are_its_own_in_order():
    from icmeta.block.run_rows import phases_in_order

    shuffled = _phases().iloc[[2, 0, 3, 1]]
    mine = phases_in_order(shuffled, pd.Series({"cell": "T~1", "seed": 1}))
    assert mine["phase"].tolist() == [1, 2] and (mine["seed"] == 1).all()
