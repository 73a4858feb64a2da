"""Attention-only transformer with an MLP read-out (paper §3.2, Eq. 1–4; code `TransformerICL`).

The ensemble axis E is the first dimension of every parameter: E independent networks run as one
batched computation. Each member is initialised from its own generator, so member e of an ensemble
starts bit for bit where the same run trained alone starts.

Attention can be (a) recorded, (b) restricted to allowed positions and (c) overridden by a given
pattern, through the explicit `AttentionControl` argument of `forward`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from icmeta.layout import causal, circuit_mask, label_slice
from icmeta.rng import derive_seed
from icmeta.settings.config import RunConfig
from icmeta.task.data import Batch

PURPOSE_INIT = 2


@dataclass
class AttentionControl:
    """Per-layer changes to attention; entries are indexed by layer, None leaves a layer alone.

    allowed[l]: bool, broadcastable to (E, n, H, S, S); positions outside are excluded before the
        softmax (on top of the causal mask). Every row must keep at least one allowed position.
    override[l]: (pattern, where); where `where` is true, the post-softmax attention is replaced by
        `pattern` (both broadcastable to (E, n, H, S, S)). The replaced entries pass no gradient to
        the query/key parameters, as in Singh et al.'s clamps.
    mix[l]: (pattern, strength); attention becomes attn + strength * (pattern - attn), strength
        broadcastable to (E, n, H, S, 1) (0 leaves a row alone, 1 forces it).
    ablate[l]: (keep, mean); each head's output row becomes keep * out + (1 - keep) * mean * (its
        batch mean), both broadcastable to (E, n, H, S, 1): zero ablation where mean = 0.
    ablate_mean[l]: (E, 1, H, S, dh), the value mean ablation uses instead of the batch mean. Evaluation
        sets it to the mean over a whole evaluation set, so that its numbers do not depend on how the
        set is cut into chunks (which depends on the ensemble size and the device).
    head_sums[l]: float64 (E, 1, H, S, dh); when present, forward adds the batch sum of the layer's head
        outputs (before ablation) to it, which is how those whole-set means are gathered chunk by chunk.
    """

    allowed: dict[int, torch.Tensor] = field(default_factory=dict)
    override: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    mix: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    ablate: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    ablate_mean: dict[int, torch.Tensor] = field(default_factory=dict)
    head_sums: dict[int, torch.Tensor] = field(default_factory=dict)


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
        self.mlp_w = nn.ParameterList([param(a, b) for a, b in itertools.pairwise(widths)])
        self.mlp_b = nn.ParameterList([param(b) for b in widths[1:]])

        for l, mask in enumerate(circuit_mask(m.circuit, t.N, m.layers)):
            allowed = causal(t.N) if mask is None else causal(t.N) & mask
            self.register_buffer(f"allowed_{l}", allowed, persistent=False)
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
        S, D, N = self.S, self.D, self.N
        dtype = batch.items.dtype
        pos = self.pos_fixed.view(1, 1, -1)
        if self.positions == "random_offset":
            pos = pos + batch.offset.unsqueeze(-1)
        # One-hot by comparison, not F.one_hot, which checks its input range on the host and so
        # would break CUDA-graph capture.
        onehot = pos.expand(E, n, S).unsqueeze(-1) == torch.arange(self.P, device=pos.device)
        with torch.no_grad():
            base = torch.zeros(E, n, S, self.Dm, dtype=dtype, device=batch.items.device)
            base[:, :, 0::2, :D] = batch.items
            label_rows = slice(None) if self.label_tokens == "fixed" else slice(0, None, 2)
            base[:, :, label_rows, D:] = onehot[:, :, label_rows].to(dtype)
        # Label content enters as a one-hot product so its gradient is one small matmul.
        at_labels = torch.zeros(E, n, S, self.L, dtype=dtype, device=base.device)
        at_labels[:, :, label_slice(N)] = batch.labels.unsqueeze(-1) == torch.arange(
            self.L, device=base.device
        )
        table = self.label_emb if self.label_tokens == "learned" else F.pad(self.label_vec, (0, self.P))
        return base + torch.bmm(at_labels.view(E, n * S, self.L), table).view(E, n, S, self.Dm)

    def forward(
        self,
        tokens: torch.Tensor,
        control: AttentionControl | None = None,
        record: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits (E, n, L) at the query position, and the attention (E, n, H, S, S) of each layer
        if `record` (otherwise an empty list)."""
        E, n, S, Dm = tokens.shape
        x = tokens
        patterns: list[torch.Tensor] = []
        for l in range(self.n_layers):
            h = self._normed(x, l)
            if l == self.n_layers - 1 and not record:
                hq = x[:, :, -1] + self._query_attention(h, l, control)
                break
            # Three products on slices of W_QKV keep q, k, v contiguous: no permute copies.
            flat = h.reshape(E, n * S, Dm)
            q, k, v = (
                torch.bmm(flat, w).view(E, n, S, self.H, self.dh).transpose(2, 3)  # (E, n, H, S, dh)
                for w in self.wqkv[l].split(self.dq, dim=-1)
            )
            scores = q @ k.transpose(-1, -2)  # unscaled, as in Eq. 1
            attn = self._attention(scores, l, control, _every_row)
            if record:
                patterns.append(attn)
            heads = attn @ v  # (E, n, H, S, dh)
            if control is not None and l in control.head_sums:
                # float64: the sum is exact whatever the chunking, so the whole-set mean is too
                control.head_sums[l] += heads.sum(1, keepdim=True, dtype=torch.float64)
            heads = _ablated(heads, l, control, _every_row)
            out = heads.transpose(2, 3).reshape(E, n * S, self.dq)
            if self.use_w_o:
                out = torch.bmm(out, self.wo[l])
            x = x + out.view(E, n, S, Dm)
            hq = x[:, :, -1]
        return self._readout(hq), patterns

    def _normed(self, x: torch.Tensor, l: int) -> torch.Tensor:
        if not self.use_ln:
            return x
        E, Dm = self.E, self.Dm
        return F.layer_norm(x, (Dm,)) * self.ln_w[l].view(E, 1, 1, Dm) + self.ln_b[l].view(E, 1, 1, Dm)

    def _attention(
        self, scores: torch.Tensor, l: int, control: AttentionControl | None, rows: Rows
    ) -> torch.Tensor:
        """Layer l's attention from its scores, with the circuit mask and every clamp of `control`
        applied to the rows a path computes (`rows`: all of them, or the query's alone)."""
        allowed = getattr(self, f"allowed_{l}")
        if control is not None and l in control.allowed:
            allowed = allowed & control.allowed[l]
        attn = torch.softmax(scores.masked_fill(~rows(allowed), float("-inf")), dim=-1)
        if control is None:
            return attn
        if l in control.override:
            pattern, where = control.override[l]
            attn = torch.where(rows(where), rows(pattern).to(attn.dtype), attn)
        if l in control.mix:
            target, strength = control.mix[l]
            attn = attn + rows(strength) * (rows(target) - attn)
        return attn

    def _query_attention(self, h: torch.Tensor, l: int, control: AttentionControl | None) -> torch.Tensor:
        """The last layer's output at the query position only, which is all the read-out uses.

        Same function as the full layer, reassociated so that no per-token key or value is formed:
        scores_j = (W_K^T q) . h_j and output = W_V^T (sum_j a_j h_j). This makes the last layer
        nearly free, about a third off the training step of the default 2-layer model.
        """
        E, n, _S, Dm = h.shape
        H, dh, dq = self.H, self.dh, self.dq
        w = self.wqkv[l]
        q = torch.bmm(h[:, :, -1], w[..., :dq]).view(E, n, H, dh).transpose(1, 2)  # (E, H, n, dh)
        wk = w[..., dq : 2 * dq].reshape(E, Dm, H, dh).permute(0, 2, 3, 1)  # (E, H, dh, Dm)
        qk = (q @ wk).permute(0, 2, 3, 1)  # (E, n, Dm, H)
        scores = (h @ qk).transpose(2, 3)  # (E, n, H, S)
        attn = self._attention(scores, l, control, _query_row)
        z = (attn @ h).transpose(1, 2)  # (E, H, n, Dm)
        wv = w[..., 2 * dq :].reshape(E, Dm, H, dh).transpose(1, 2)  # (E, H, Dm, dh)
        heads = _ablated((z @ wv).transpose(1, 2), l, control, _query_row)  # (E, n, H, dh)
        out = heads.reshape(E, n, dq)
        if self.use_w_o:
            out = torch.bmm(out, self.wo[l])
        return out

    def _readout(self, hq: torch.Tensor) -> torch.Tensor:
        for i, (w, b) in enumerate(zip(self.mlp_w, self.mlp_b, strict=True)):
            hq = torch.baddbmm(b.unsqueeze(1), hq, w)
            if i < len(self.mlp_w) - 1:
                hq = torch.relu(hq)
        return hq


# The rows of an attention tensor a path computes. Every control is written for full maps
# (..., S, S) and its per-row tensors (..., S, 1); the query-only path takes each one's last row.
Rows = Callable[[torch.Tensor], torch.Tensor]


def _every_row(t: torch.Tensor) -> torch.Tensor:
    return t


def _query_row(t: torch.Tensor) -> torch.Tensor:
    return t[..., -1, :]


def _ablated(heads: torch.Tensor, l: int, control: AttentionControl | None, rows: Rows) -> torch.Tensor:
    """Head outputs (E, n, H, [S,] dh) with ablated rows replaced by zero or by their batch mean (a
    constant: no gradient flows through the mean), or by the whole-set mean where evaluation gives
    one (`ablate_mean`)."""
    if control is None or l not in control.ablate:
        return heads
    keep, mean = (rows(t) for t in control.ablate[l])
    fixed = control.ablate_mean.get(l)
    average = heads.detach().mean(1, keepdim=True) if fixed is None else rows(fixed)
    return keep * heads + (1 - keep) * (mean * average)
