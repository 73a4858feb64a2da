"""Attention-only transformer with an MLP read-out (paper §3.2, Eq. 1–4; code `TransformerICL`).

The ensemble axis E is the first dimension of every parameter: E independent networks run as one
batched computation. Each member is initialised from its own generator, so member e of an ensemble
starts bit for bit where the same run trained alone starts.

Attention can be (a) recorded, (b) restricted to allowed positions and (c) overridden by a given
pattern, through the explicit `AttentionControl` argument of `forward`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from icmeta.config import RunConfig
from icmeta.data import Batch
from icmeta.rng import derive_seed

PURPOSE_INIT = 2


@dataclass
class AttentionControl:
    """Per-layer changes to attention; entries are indexed by layer, None leaves a layer alone.

    allowed[l]: bool, broadcastable to (E, n, H, S, S); positions outside are excluded before the
        softmax (on top of the causal mask). Every row must keep at least one allowed position.
    override[l]: (pattern, where); where `where` is true, the post-softmax attention is replaced by
        `pattern` (both broadcastable to (E, n, H, S, S)). The replaced entries pass no gradient to
        the query/key parameters, as in Singh et al.'s clamps.
    """

    allowed: dict[int, torch.Tensor] = field(default_factory=dict)
    override: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)


def circuit_mask(circuit: str, N: int, layers: int) -> list[torch.Tensor | None]:
    """Allowed-position masks (S, S) per layer for circuit-restricted training (`paper.md` §7).

    ncc: every row attends only to itself in both layers.
    scc: layer 1 query -> N labels + itself; layer 2 self only.
    fcc: layer 1 label_k -> x_k (+ itself); layer 2 query -> N labels + itself.
    Other rows attend to themselves; layers beyond the second are left unrestricted.
    """
    S = 2 * N + 1
    eye = torch.eye(S, dtype=torch.bool)
    labels = torch.arange(1, 2 * N, 2)
    if circuit == "none":
        return [None] * layers
    l1, l2 = eye.clone(), eye.clone()
    if circuit == "scc":
        l1[S - 1, labels] = True
    elif circuit == "fcc":
        l1[labels, labels - 1] = True
        l2[S - 1, labels] = True
    return [l1, l2] + [None] * (layers - 2)


class EnsembleICL(nn.Module):
    def __init__(self, configs: list[RunConfig]) -> None:
        super().__init__()
        c = configs[0]
        t, m = c.task, c.model
        self.E = E = len(configs)
        self.N, self.D, self.P, self.L = t.N, t.D, t.P, t.L
        self.S = t.seq_len
        self.Dm = Dm = t.d_model
        self.H, self.dq = m.heads, m.d_qkv
        self.dh = m.d_qkv // m.heads
        self.n_layers = m.layers
        self.positions = t.positions
        self.label_tokens = t.label_tokens
        self.use_w_o, self.use_ln = m.w_o, m.layernorm

        def param(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.empty(E, *shape))

        if t.label_tokens == "learned":
            self.label_emb = param(t.L, Dm)
        else:
            self.register_buffer("label_vec", torch.empty(E, t.L, t.D))
        self.wqkv = nn.ParameterList([param(Dm, 3 * m.d_qkv) for _ in range(m.layers)])
        self.wo = nn.ParameterList([param(m.d_qkv, Dm) for _ in range(m.layers)] if m.w_o else [])
        self.ln_w = nn.ParameterList([param(Dm) for _ in range(m.layers)] if m.layernorm else [])
        self.ln_b = nn.ParameterList([param(Dm) for _ in range(m.layers)] if m.layernorm else [])
        widths = [Dm] + [m.mlp_width] * m.mlp_depth + [t.L]
        self.mlp_w = nn.ParameterList([param(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)])
        self.mlp_b = nn.ParameterList([param(b) for b in widths[1:]])

        for l, mask in enumerate(circuit_mask(m.circuit, t.N, m.layers)):
            causal = torch.ones(self.S, self.S, dtype=torch.bool).tril()
            self.register_buffer(f"allowed_{l}", causal if mask is None else causal & mask, persistent=False)
        self.register_buffer("pos_fixed", self._fixed_positions(), persistent=False)
        for e, cfg in enumerate(configs):
            self._init_member(e, torch.Generator().manual_seed(derive_seed(cfg.seed, PURPOSE_INIT)))

    # Parameters ------------------------------------------------------------------------------

    @torch.no_grad()
    def _init_member(self, e: int, gen: torch.Generator) -> None:
        """One member's initial weights, drawn in a fixed order from its own generator.

        Attention weights and learned label embeddings ~ N(0, 1/d_model) (code); the read-out MLP
        uses PyTorch's default Linear init U(±1/sqrt(fan_in)) for weights and biases (code).
        """
        std = 1.0 / math.sqrt(self.Dm)

        def normal(p: torch.Tensor, scale: float) -> None:
            p[e].copy_(torch.randn(p.shape[1:], generator=gen) * scale)

        if self.label_tokens == "learned":
            normal(self.label_emb, std)
        else:
            normal(self.label_vec, 1.0 / math.sqrt(self.D))
        for w in self.wqkv:
            normal(w, std)
        for w in self.wo:
            normal(w, 1.0 / math.sqrt(self.dq))
        for w in self.ln_w:
            w[e].fill_(1.0)
        for b in self.ln_b:
            b[e].zero_()
        for w, b in zip(self.mlp_w, self.mlp_b, strict=True):
            bound = 1.0 / math.sqrt(w.shape[1])
            w[e].copy_((torch.rand(w.shape[1:], generator=gen) * 2 - 1) * bound)
            b[e].copy_((torch.rand(b.shape[1:], generator=gen) * 2 - 1) * bound)

    def member_state(self, e: int) -> dict[str, torch.Tensor]:
        """Parameters of member e alone (for its checkpoints)."""
        return {k: v[e].detach().cpu().clone() for k, v in self.state_dict().items()}

    # Forward ---------------------------------------------------------------------------------

    def _fixed_positions(self) -> torch.Tensor:
        """Position index of each token for the fixed schemes (S,)."""
        j = torch.arange(self.S)
        return j // 2 if self.positions == "item_index" else j

    def embed(self, batch: Batch) -> torch.Tensor:
        """Token vectors (E, n, S, D+P): items [x; onehot(pos)], labels learned or [v_l; onehot(pos)]."""
        E, n = batch.target.shape
        pos = self.pos_fixed.view(1, 1, -1)
        if self.positions == "random_offset":
            pos = pos + batch.offset.unsqueeze(-1)
        onehot = F.one_hot(pos.expand(E, n, self.S), self.P).to(batch.items.dtype)
        items = torch.cat([batch.items, onehot[:, :, 0::2]], dim=-1)
        label_onehot = F.one_hot(batch.labels, self.L).to(batch.items.dtype)
        if self.label_tokens == "learned":
            labels = (label_onehot.view(E, -1, self.L) @ self.label_emb).view(E, n, self.N, self.Dm)
        else:
            vec = (label_onehot.view(E, -1, self.L) @ self.label_vec).view(E, n, self.N, self.D)
            labels = torch.cat([vec, onehot[:, :, 1::2]], dim=-1)
        pairs = torch.stack([items[:, :, : self.N], labels], dim=3).view(E, n, 2 * self.N, self.Dm)
        return torch.cat([pairs, items[:, :, self.N :]], dim=2)

    def forward(
        self,
        tokens: torch.Tensor,
        control: AttentionControl | None = None,
        record: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits (E, n, L) at the query position, and the attention (E, n, H, S, S) of each layer
        if `record` (otherwise an empty list)."""
        E, n, S, Dm = tokens.shape
        H, dh = self.H, self.dh
        x = tokens
        patterns: list[torch.Tensor] = []
        for l in range(self.n_layers):
            h = x
            if self.use_ln:
                h = F.layer_norm(h, (Dm,)) * self.ln_w[l].view(E, 1, 1, Dm) + self.ln_b[l].view(E, 1, 1, Dm)
            qkv = torch.bmm(h.reshape(E, n * S, Dm), self.wqkv[l]).view(E, n, S, 3, H, dh)
            q, k, v = qkv.permute(3, 0, 1, 4, 2, 5).unbind(0)  # each (E, n, H, S, dh)
            scores = q @ k.transpose(-1, -2)  # unscaled, as in Eq. 1
            allowed = getattr(self, f"allowed_{l}")
            if control is not None and l in control.allowed:
                allowed = allowed & control.allowed[l]
            attn = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
            if control is not None and l in control.override:
                pattern, where = control.override[l]
                attn = torch.where(where, pattern.to(attn.dtype), attn)
            if record:
                patterns.append(attn)
            out = (attn @ v).transpose(2, 3).reshape(E, n * S, self.dq)
            if self.use_w_o:
                out = torch.bmm(out, self.wo[l])
            x = x + out.view(E, n, S, Dm)
        hq = x[:, :, -1]
        for i, (w, b) in enumerate(zip(self.mlp_w, self.mlp_b, strict=True)):
            hq = torch.baddbmm(b.unsqueeze(1), hq, w)
            if i < len(self.mlp_w) - 1:
                hq = torch.relu(hq)
        return hq, patterns
