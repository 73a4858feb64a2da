"""The runtime side of the clamps: the attention controls that switch interventions on and off during
training (the specifications, validated with the run configuration, are `icmeta.settings.interventions`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from icmeta.layout import pattern, positions, row_mask
from icmeta.network.model import AttentionControl
from icmeta.settings.interventions import KINDS, Intervention, switch_steps


class Schedule:
    """The attention controls of an ensemble whose members carry interventions, allocated once and
    rewritten in place at each window boundary, so a captured CUDA graph sees the change."""

    def __init__(
        self, members: Sequence[Sequence[Intervention]], N: int, heads: int, device: torch.device
    ) -> None:
        self.members, self.N, self.H = [list(m) for m in members], N, heads
        E, S = len(members), 2 * N + 1
        every = [i for m in self.members for i in m]
        layers = {kind: sorted({i.layer - 1 for i in every if i.kind == kind}) for kind in KINDS}
        full = (E, 1, heads, S, S)
        row = (E, 1, heads, S, 1)
        zeros = {"device": device}
        self.control = AttentionControl(
            allowed={l: torch.ones(full, dtype=torch.bool, **zeros) for l in layers["block"]},
            override={
                l: (torch.zeros(full, **zeros), torch.zeros(full, dtype=torch.bool, **zeros))
                for l in layers["force"]
            },
            mix={l: (torch.zeros(full, **zeros), torch.zeros(row, **zeros)) for l in layers["scale"]},
            ablate={l: (torch.ones(row, **zeros), torch.zeros(row, **zeros)) for l in layers["ablate"]},
        )
        self.boundaries = switch_steps(every)
        self._state: int | None = None

    def apply(self, step: int) -> None:
        """Write the controls of the interventions active at `step` (a no-op inside a window)."""
        key = sum(b <= step for b in self.boundaries)
        if key == self._state:
            return
        self._state = key
        c = self.control
        for t in c.allowed.values():
            t.fill_(True)
        for target, where in c.override.values():
            target.zero_()
            where.fill_(False)
        for target, strength in c.mix.values():
            target.zero_()
            strength.zero_()
        for keep, mean in c.ablate.values():
            keep.fill_(1.0)
            mean.zero_()
        for e, member in enumerate(self.members):
            for spec in member:
                if spec.start <= step and (spec.end is None or step < spec.end):
                    self._write(e, spec)

    def _write(self, e: int, spec: Intervention) -> None:
        l = spec.layer - 1
        heads = slice(None) if spec.head is None else slice(spec.head - 1, spec.head)
        rows = row_mask(spec.rows, self.N)
        c = self.control
        if spec.kind == "block":
            blocked = positions(spec.pattern, self.N) & rows.unsqueeze(-1)
            c.allowed[l][e, 0, heads] &= ~blocked.to(c.allowed[l].device)
        elif spec.kind == "force":
            target, where = c.override[l]
            values = pattern(spec.pattern, self.N, spec.seed).to(target.device)
            target[e, 0, heads, rows] = values[rows]
            where[e, 0, heads, rows] = True
        elif spec.kind == "scale":
            target, strength = c.mix[l]
            values = pattern(spec.pattern, self.N, spec.seed).to(target.device)
            target[e, 0, heads, rows] = values[rows]
            strength[e, 0, heads, rows] = spec.strength
        else:
            keep, mean = c.ablate[l]
            keep[e, 0, heads, rows] = 0.0
            mean[e, 0, heads, rows] = 1.0 if spec.ablation == "mean" else 0.0
