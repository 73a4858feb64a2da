"""Counter-based random numbers: every draw is a pure function of (run seed, stream, step, index).

Why not a stateful `torch.Generator` for the per-step data: an ensemble trains E runs as one batched
computation, and a Generator cannot fill one tensor from E independent streams. Hashing counters gives
each member its own stream inside one vectorised call, on any device, so (a) a member sees the same
data whatever else shares its ensemble, (b) resuming needs no RNG state beyond the step, and (c) the
whole training step, sampling included, can be captured in a CUDA graph. Once-per-run draws (class
means, label maps, initial weights) use ordinary `torch.Generator`s seeded by `derive_seed`.

Values stay in [0, 2^32) inside int64 tensors; products may wrap past 2^63, which keeps the low 32
bits exact in two's complement, and the mask restores them.
"""

from __future__ import annotations

import torch

_M32 = 0xFFFFFFFF

# Stream identifiers keep training, evaluation and fixed draws apart.
STREAM_TRAIN = 1
STREAM_EVAL = 1000


def mix32(x: torch.Tensor) -> torch.Tensor:
    """Avalanche a 32-bit integer (Wellons' lowbias32 constants); x holds values in [0, 2^32)."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def _mix_int(x: int) -> int:
    x &= _M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def derive_seed(seed: int, purpose: int) -> int:
    """A seed for one purpose (data constants, initial weights, …) of one run."""
    return _mix_int(_mix_int(seed) ^ _mix_int(purpose + 0x9E3779B9))


def stream_keys(seeds: torch.Tensor, stream: int, step: torch.Tensor | int) -> torch.Tensor:
    """Per-member keys (E, 2) for one (stream, step); `step` may be a device tensor (graph capture)."""
    base = mix32(mix32(seeds & _M32) ^ _mix_int(stream))
    k1 = mix32(base ^ mix32(torch.as_tensor(step, dtype=torch.int64, device=seeds.device) & _M32))
    k2 = mix32(k1 ^ 0x5BD1E995)
    return torch.stack([k1, k2], dim=-1)


def uniforms(keys: torch.Tensor, counters: torch.Tensor) -> torch.Tensor:
    """Uniform floats in (0, 1) of shape (E, *counters.shape), one per counter, for each member key.

    Two rounds with two key words keep the streams of different members unrelated (a single XOR
    would make one member's stream a permutation of another's).
    """
    shape = (keys.shape[0],) + (1,) * counters.dim()
    h = mix32(counters.unsqueeze(0) ^ keys[:, 0].view(shape))
    h = mix32(h ^ keys[:, 1].view(shape))
    return ((h >> 8).to(torch.float32) + 0.5) * (1.0 / 16777216.0)


def normals_from(u1: torch.Tensor, u2: torch.Tensor) -> torch.Tensor:
    """Standard normals by Box–Muller: both outputs of each uniform pair, concatenated on the last axis."""
    radius = torch.sqrt(-2.0 * torch.log(u1))
    angle = (2.0 * torch.pi) * u2
    return torch.cat([radius * torch.cos(angle), radius * torch.sin(angle)], dim=-1)


def gumbel_from(u: torch.Tensor) -> torch.Tensor:
    return -torch.log(-torch.log(u))
