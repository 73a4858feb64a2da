"""Experiment blocks of the workflow config: grids of axes over the paper's defaults.

A block names the axes it varies (`{T: [1, 2], eps: [0.0, 0.5]}`), optionally overrides defaults
(`set: {optim.steps: 50000}`) and optionally ties fields to an axis (`tie: {L: K}` sets L to each
cell's K, for grids along a diagonal such as the paper's K = L). Each point of the Cartesian product
is a *cell*, trained as one ensemble over the workflow's seeds, and lives at
`results/<experiment>/<axis>~<value>/...`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from icmeta.errors import ConfigError
from icmeta.settings.config import SECTIONS, RunConfig, check_ensemble
from icmeta.settings.interventions import CLAMP_AXIS, NO_CLAMP

# Every run-config field by its bare name (names are unique across sections) -> dotted path.
FIELD_PATHS: dict[str, str] = {
    f.name: f"{sec}.{f.name}" for sec, cls in SECTIONS.items() for f in fields(cls)
}
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.+-]+$")
# The axis over named sets of train-time interventions (top-level config key `clamps`); "none" is
# the unclamped run.
PROBE = "probe"  # the SST-2 probe's name in `only` lists
DEFAULT_SEEDS = (0, 1, 2)  # the seeds every cell trains when config.yaml names none


def field_path(name: str, where: str) -> str:
    """The dotted path of a field given bare (`T`) or dotted (`task.T`); `where` names the config key."""
    if name in FIELD_PATHS:
        return FIELD_PATHS[name]
    if name in FIELD_PATHS.values():
        return name
    raise ConfigError(
        f"{where}: unknown field '{name}'; use a run-config field such as "
        f"{', '.join(sorted(FIELD_PATHS)[:8])}, ... (see src/icmeta/settings/config.py)"
    )


def format_value(value: Any) -> str:
    """How a grid value appears in a path; floats keep their decimal point so 0 and 0.0 agree."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Cell:
    """One grid point of an experiment block."""

    experiment: str
    path: str  # "T~3/eps~0.1": the directory under results/<experiment>/
    overrides: tuple[tuple[str, Any], ...]  # (("task.T", 3), ("task.eps", 0.1)), axes first, then ties

    @property
    def axis_values(self) -> dict[str, Any]:
        """Axis name (as written in the block) -> value, for table columns."""
        names = [part.split("~", 1)[0] for part in self.path.split("/")]
        return {name: value for name, (_, value) in zip(names, self.overrides[: len(names)], strict=True)}


def _coerce_axis_value(dotted: str, value: Any) -> Any:
    """YAML reads `eps: [0, 0.5]` as an int and a float; give every value its field's type."""
    section, name = dotted.split(".")
    kind = next(f.type for f in fields(SECTIONS[section]) if f.name == name)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def base_run_dict(config: Mapping[str, Any], experiment: str) -> dict[str, Any]:
    """The paper's defaults with the block's `set` overrides applied, as nested plain data."""
    data = {sec: dict(config.get("defaults", {}).get(sec) or {}) for sec in SECTIONS}
    block = config["experiments"][experiment]
    named: dict[str, str] = {}
    for name, value in (block.get("set") or {}).items():
        where = f"experiments.{experiment}.set.{name}"
        dotted = field_path(name, where)
        if dotted in named:  # `T` and `task.T`: one would silently overwrite the other
            raise ConfigError(f"{where}: '{dotted}' is already set as '{named[dotted]}'; set it once")
        named[dotted] = name
        section, leaf = dotted.split(".")
        data[section][leaf] = value
    return data


def cells(config: Mapping[str, Any], experiment: str) -> list[Cell]:
    """All grid points of one block, in the order its axes and values are written."""
    block = config["experiments"][experiment]
    axes = block.get("axes") or {}
    if not axes:
        raise ConfigError(f"experiments.{experiment}.axes: a block needs at least one axis")
    names, paths, values = [], [], []
    for name, vals in axes.items():
        where = f"experiments.{experiment}.axes.{name}"
        if name == "seed":
            raise ConfigError(f"{where}: seeds are not an axis; list them under the top-level 'seeds' key")
        if name == CLAMP_AXIS:
            dotted, coerced = CLAMP_AXIS, [_clamp_name(config, v, where) for v in vals]
        else:
            dotted = field_path(name, where)
            coerced = [_coerce_axis_value(dotted, v) for v in vals]
        if dotted in paths:  # `T` and `task.T`: the later would override the earlier under its path
            other = names[paths.index(dotted)]
            raise ConfigError(f"{where}: '{dotted}' is already the axis '{other}'; a field is one axis")
        for v in coerced:
            if not _SAFE_VALUE.match(format_value(v)):
                raise ConfigError(f"{where}: value {v!r} cannot be part of a path (letters, digits, _.+-)")
        if len({format_value(v) for v in coerced}) != len(coerced):
            raise ConfigError(f"{where}: repeated value in {vals}")
        names.append(name)
        paths.append(dotted)
        values.append(coerced)
    ties = _ties(block, experiment, names, paths)
    out = []
    for combo in itertools.product(*values):
        path = "/".join(f"{n}~{format_value(v)}" for n, v in zip(names, combo, strict=True))
        overrides = list(zip(paths, combo, strict=True))
        overrides += [(dotted, _coerce_axis_value(dotted, combo[axis])) for dotted, axis in ties]
        out.append(Cell(experiment, path, tuple(overrides)))
    return out


def _ties(
    block: Mapping[str, Any], experiment: str, names: list[str], paths: list[str]
) -> list[tuple[str, int]]:
    """(dotted field, index of the axis it follows) for each entry of the block's `tie` mapping."""
    out = []
    for name, axis in (block.get("tie") or {}).items():
        where = f"experiments.{experiment}.tie.{name}"
        dotted = field_path(name, where)
        if axis not in names:
            raise ConfigError(f"{where}: '{axis}' is not an axis of this block (axes: {', '.join(names)})")
        if dotted in paths:
            raise ConfigError(f"{where}: '{name}' is already an axis; a field cannot be both")
        if dotted in (d for d, _ in out):  # `L` and `task.L`: the later tie would win silently
            raise ConfigError(f"{where}: '{dotted}' is already tied; a field follows one axis")
        out.append((dotted, names.index(axis)))
    return out


def _clamp_name(config: Mapping[str, Any], value: Any, where: str) -> str:
    clamps = config.get("clamps") or {}
    if value != NO_CLAMP and value not in clamps:
        known = ", ".join([NO_CLAMP, *clamps])
        raise ConfigError(
            f"{where}: no clamp named {value!r} under the top-level 'clamps' key (known: {known})"
        )
    return str(value)


def run_configs(config: Mapping[str, Any], cell: Cell) -> list[RunConfig]:
    """One run configuration per seed; raises ConfigError naming the block and cell if invalid."""
    base = base_run_dict(config, cell.experiment)
    for dotted, value in cell.overrides:
        if dotted == CLAMP_AXIS:
            base["interventions"] = [] if value == NO_CLAMP else list(config["clamps"][value])
            continue
        section, leaf = dotted.split(".")
        base[section][leaf] = value
    try:
        return [RunConfig.from_dict({**base, "seed": seed}) for seed in config["seeds"]]
    except ConfigError as err:
        raise ConfigError(f"experiments.{cell.experiment} cell {cell.path}: {err}") from None


def train_groups(config: Mapping[str, Any], experiment: str, size: int) -> list[list[Cell]]:
    """The block's cells packed, in grid order, into groups of at most `size` that can share one
    batched model (`check_ensemble`): each group is one training job.

    A job per cell leaves a GPU mostly idle (a two-seed cell is a batch of two models); a group
    fills it. A cell joins the first open group it is compatible with, so a block whose cells all
    differ in shape (K, heads) keeps one cell per job.
    """
    if size < 1:
        raise ConfigError(f"execution.cells_per_job must be at least 1, not {size}")
    groups: list[list[Cell]] = []
    leaders: list[RunConfig] = []
    for cell in cells(config, experiment):
        run = run_configs(config, cell)[0]
        for group, leader in zip(groups, leaders, strict=True):
            if len(group) < size and _can_share(leader, run):
                group.append(cell)
                break
        else:
            groups.append([cell])
            leaders.append(run)
    return groups


def _can_share(a: RunConfig, b: RunConfig) -> bool:
    try:
        check_ensemble([a, b])
    except ConfigError:
        return False
    return True


def probe_active(config: Mapping[str, Any]) -> bool:
    """Whether the SST-2 probe runs: `probe.active`, unless an `only` list leaves out "probe"."""
    only = config.get("only")
    return bool(config.get("probe", {}).get("active")) and (not only or PROBE in only)


def active_experiments(config: Mapping[str, Any]) -> list[str]:
    """The blocks to run: those named by the top-level `only` list if given (a config file laid over
    config.yaml runs just its own blocks that way; "probe" there keeps the SST-2 probe), else those
    with `active: true`, in config order."""
    only = config.get("only")
    if only:
        unknown = [name for name in only if name not in config["experiments"] and name != PROBE]
        if unknown:
            raise ConfigError(f"only: no experiment block named {', '.join(unknown)}")
        return [name for name in config["experiments"] if name in only]
    return [name for name, block in config["experiments"].items() if block.get("active", True)]


def check(config: Mapping[str, Any]) -> None:
    """Build every run configuration of every active block so a bad value fails before any job."""
    dt = config.get("analysis", {}).get("paper_rule", {}).get("dt")
    for experiment in active_experiments(config):
        for cell in cells(config, experiment):
            for run in run_configs(config, cell):
                # The paper's ΔAcc rule compares accuracies dt steps apart; with evaluations that
                # miss the multiples of dt it would silently find no transition at all.
                if dt is not None and dt % run.optim.eval_every:
                    raise ConfigError(
                        f"experiments.{experiment}, cell {cell.path}: analysis.paper_rule.dt = {dt} is "
                        f"not a multiple of optim.eval_every = {run.optim.eval_every}, so the paper's "
                        f"ΔAcc rule would never see two evaluations dt steps apart; evaluate every "
                        f"step count that divides {dt}, or set paper_rule.dt to a multiple of "
                        f"{run.optim.eval_every}"
                    )
