"""Train-time interventions on attention, in the style of Singh et al. 2024 (docs/clamps.md):
clamp a head's pattern for a window of steps and see which phases still form.

An intervention acts on one layer (1-based, as in the paper), one head or all heads, and a set of
rows (the attending tokens: the query, the label tokens, the item tokens, or all):
- force: the rows' attention is replaced by a pattern; no gradient reaches the head's query and key
  parameters through the replaced entries, so the clamp is causal, not a nudge;
- block: positions are removed before the softmax, so they receive exactly zero attention;
- scale: the attention moves toward a pattern by `strength` in [0, 1] (1 is force, 0 nothing);
- ablate: the head's output on the rows is replaced by zero or by its batch mean.
Each acts on steps [start, end); several combine (blocks first, then forcing, then scaling; of two
forces or two scales on the same rows, the later in the list wins). Blocks are checked together, with
the run's circuit mask, so that no combination leaves a row nothing to attend to.

Evaluation at step s runs under the interventions active at step s: during a force window the recorded
attention maps and circuit metrics are the imposed pattern, not what the head's query and key learned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from icmeta.errors import ConfigError
from icmeta.layout import causal, circuit_mask, positions, row_mask

KINDS = ("force", "block", "scale", "ablate")
# A grid axis named `clamp` selects named lists of interventions from the config's `clamps`; its value
# `none` is the unclamped run, which figures take as the reference.
CLAMP_AXIS = "clamp"
NO_CLAMP = "none"
ROWS = ("query", "labels", "items", "all")
# Patterns to force or scale toward; `block` takes the position sets among them.
PATTERNS = ("self", "labels", "items", "own_item", "uniform", "random")
BLOCKABLE = ("self", "labels", "items", "own_item")
ABLATIONS = ("zero", "mean")
# Fields that only some kinds read; setting one for another kind is refused rather than ignored.
ONLY_FOR = {"strength": ("scale",), "ablation": ("ablate",), "pattern": ("force", "block", "scale")}
# The seeds torch.Generator.manual_seed takes (the random pattern's draw); others fail mid-run.
SEED_RANGE = (-(2**63), 2**64)


def _is_int(value: Any) -> bool:
    """A YAML integer; `true` is not one, though Python counts it as 1."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Intervention:
    kind: str
    layer: int
    head: int | None = None  # 1-based; None: every head of the layer
    rows: str = "all"
    pattern: str | None = None  # force/scale: the pattern; block: the positions
    strength: float = 1.0  # scale only
    ablation: str = "zero"  # ablate only
    start: int = 0
    end: int | None = None  # exclusive; None: to the end of training
    seed: int = 0  # the `random` pattern's draw

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Intervention:
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{where} = {data!r} is invalid: an intervention is a mapping such as "
                "{kind: block, layer: 2, rows: query, pattern: labels}"
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key '{unknown[0]}'; known: {', '.join(sorted(known))}")
        if "kind" not in data or "layer" not in data:
            raise ConfigError(f"{where}: an intervention needs 'kind' ({', '.join(KINDS)}) and 'layer'")
        defaults = {name: f.default for name, f in cls.__dataclass_fields__.items()}
        for key, kinds in ONLY_FOR.items():
            if data.get(key, defaults[key]) != defaults[key] and data["kind"] not in kinds:
                raise ConfigError(
                    f"{where}.{key} is invalid for kind {data['kind']!r}: only {' and '.join(kinds)} use it"
                )
        if data.get("seed", 0) != 0 and data.get("pattern") != "random":
            raise ConfigError(f"{where}.seed is invalid: only the random pattern is drawn from a seed")
        strength = data.get("strength", 1.0)
        if isinstance(strength, bool) or not isinstance(strength, int | float):
            raise ConfigError(f"{where}.strength = {strength!r} is invalid: must be a number in [0, 1]")
        return cls(**{**data, "strength": float(strength)})  # 1 and 1.0: one run, one hash

    def check(self, layers: int, heads: int, N: int, steps: int, where: str) -> None:
        """Raise ConfigError naming `where` and the field if the intervention cannot apply."""

        def fail(field: str, allowed: str) -> None:
            raise ConfigError(f"{where}.{field} = {getattr(self, field)!r} is invalid: {allowed}")

        if self.kind not in KINDS:
            fail("kind", f"must be one of {', '.join(KINDS)}")
        if not _is_int(self.layer) or not 1 <= self.layer <= layers:
            fail("layer", f"the model has layers 1..{layers}")
        if self.head is not None and (not _is_int(self.head) or not 1 <= self.head <= heads):
            fail("head", f"the model has heads 1..{heads} per layer (or leave it out for all)")
        if self.rows not in ROWS:
            fail("rows", f"must be one of {', '.join(ROWS)}")
        if self.kind in ("force", "scale") and self.pattern not in PATTERNS:
            fail("pattern", f"{self.kind} needs one of {', '.join(PATTERNS)}")
        if self.kind == "block" and self.pattern not in BLOCKABLE:
            fail("pattern", f"block needs the positions to block: one of {', '.join(BLOCKABLE)}")
        if self.kind == "ablate" and self.ablation not in ABLATIONS:
            fail("ablation", f"must be one of {', '.join(ABLATIONS)}")
        if self.kind == "scale" and not 0.0 <= self.strength <= 1.0:
            fail("strength", "must lie in [0, 1]")
        if self.pattern == "own_item" and self.kind != "ablate" and self.rows != "labels":
            fail("rows", "the own_item pattern exists only for label rows (label k -> item k)")
        if not _is_int(self.start) or not 0 <= self.start < steps:
            fail("start", f"must be a step in [0, {steps})")
        if self.end is not None and (not _is_int(self.end) or not self.start < self.end <= steps):
            fail("end", f"must lie in ({self.start}, {steps}] or be left out (end of training)")
        if not _is_int(self.seed) or not SEED_RANGE[0] <= self.seed < SEED_RANGE[1]:
            fail("seed", "must be an integer in [-2**63, 2**64), the seeds torch.Generator takes")
        if self.kind in ("force", "scale"):
            rows = row_mask(self.rows, N)
            if not positions(self.pattern, N)[rows].any(-1).all():
                fail(
                    "rows", f"some {self.rows} rows have no {self.pattern} position before them to attend to"
                )


def check_all(
    interventions: Sequence[Intervention],
    layers: int,
    heads: int,
    N: int,
    steps: int,
    where: str,
    circuit: str = "none",
) -> None:
    """Check each intervention, then every head at every step where a block begins: the blocks
    active together, and the run's circuit mask, must leave each row something to attend to."""
    for i, spec in enumerate(interventions):
        spec.check(layers, heads, N, steps, f"{where}[{i}]")
    masks = circuit_mask(circuit, N, layers)
    for i, spec in enumerate(interventions):
        # Forcing and scaling act after the softmax, so they would hand attention to positions the
        # circuit mask forbids: the run would no longer be restricted to its circuit.
        mask = masks[spec.layer - 1]
        if spec.kind not in ("force", "scale") or mask is None:
            continue
        covered = positions(spec.pattern, N) & row_mask(spec.rows, N).unsqueeze(-1)
        if (covered & ~mask).any():
            raise ConfigError(
                f"{where}[{i}].pattern = {spec.pattern!r} is invalid: model.circuit = {circuit!r} forbids "
                f"some of these positions to layer {spec.layer}'s {spec.rows} rows, and {spec.kind} would "
                f"put attention there after the softmax; use a pattern inside the circuit (self always "
                f"is) or model.circuit: none"
            )
    blocks = [(i, s) for i, s in enumerate(interventions) if s.kind == "block"]
    for _, first in blocks:
        at = first.start
        active = [(i, s) for i, s in blocks if s.start <= at and (s.end is None or at < s.end)]
        for layer in {s.layer for _, s in active}:
            for head in range(1, heads + 1):
                mine = [(i, s) for i, s in active if s.layer == layer and s.head in (None, head)]
                allowed = causal(N) if masks[layer - 1] is None else causal(N) & masks[layer - 1]
                for _, s in mine:
                    allowed &= ~(positions(s.pattern, N) & row_mask(s.rows, N).unsqueeze(-1))
                if not allowed.any(-1).all():
                    names = ", ".join(f"{where}[{i}]" for i, _ in mine)
                    raise ConfigError(
                        f"{names}: together (with model.circuit = {circuit!r}) these blocks leave some "
                        f"rows of layer {layer}, head {head} nothing to attend to from step {at}"
                    )


def switch_steps(interventions: Sequence[Intervention]) -> list[int]:
    """The steps where any of the interventions switches on or off (window edges), in order."""
    return sorted({b for i in interventions for b in (i.start, i.end) if b is not None})
