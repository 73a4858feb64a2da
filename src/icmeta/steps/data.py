"""The workflow step that draws a run's fixed evaluation sets: what the eval_sets rule calls.

Apart from training so that the sets, which only the task generator makes, are not redrawn when the
trainer changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from icmeta.settings.config import RunConfig
from icmeta.task.data import save_eval_sets


def make_eval_sets(run: Mapping[str, Any], seed: int, out: str | Path) -> None:
    save_eval_sets(RunConfig.from_dict({**run, "seed": int(seed)}), out)
