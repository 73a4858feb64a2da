"""Run configuration: one frozen, validated object per training run.

Every field carries the paper's default (Minegishi et al. 2025, Tab. 3). Where the paper and the
authors' code disagree the field is a switch; docs/method.md, "Paper vs. official code", lists each
choice and its default. Validation happens at construction so that a bad value fails before any work starts,
with an error naming the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from icmeta.errors import ConfigError
from icmeta.interventions import Intervention, check_all


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"config field '{name}' = {value!r} is invalid: {allowed}")


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(name, value, f"must be an integer >= {lo}")
    if value < lo or (hi is not None and value > hi):
        _fail(name, value, f"must be an integer in [{lo}, {hi if hi is not None else 'inf'})")


def _check_float(name: str, value: Any, lo: float, hi: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(name, value, "must be a number")
    # NaN passes every comparison below, and YAML's .nan/.inf are numbers: both would train on NaN
    # (an infinite Zipf exponent gives 0 * inf weights) or silently as another value (p_B = nan as 0).
    if not math.isfinite(value):
        _fail(name, value, "must be a finite number")
    if value < lo or (hi is not None and value > hi):
        _fail(name, value, f"must be a number in [{lo}, {hi if hi is not None else 'inf'}]")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(name, value, f"must be one of {', '.join(choices)}")


TASK_MAPS = ("shift", "random")
BASE_LABELS = ("random", "balanced")
P_B_SEMANTICS = ("paper", "code")
POSITIONS = ("item_index", "token", "random_offset")
LABEL_TOKENS = ("learned", "fixed")
CIRCUITS = ("none", "ncc", "scc", "fcc")
# Items are (mu + eps z) / sqrt(1 + eps^2) in float32; above this eps^2 overflows and every item is 0.
EPS_MAX = 1.8e19


@dataclass(frozen=True)
class TaskConfig:
    """The in-context meta-learning task (paper Sec. 3.1, App. A/E/F; docs/method.md, "Task").

    task_map: 'shift' is the authors' code, label (b(k)+tau) mod L; 'random' is the paper's text, an
        independent random class->label map per task.
    base_labels: 'random' draws b(k) uniformly with replacement (code); 'balanced' gives every label
        K/L classes (a bijection when K = L), needed for the SCC-theory experiment.
    p_B_semantics: 'paper' keeps the query class out of the context unless drawn with probability p_B;
        'code' draws the query from the class distribution over all K classes in that case, so it lands
        in the context by chance.
    positions: 'item_index' (code: items carry the one-hot of their pair index, fixed), 'token' (every
        token carries the one-hot of its token index), 'random_offset' (paper text: token index plus a
        random per-sequence offset).
    label_tokens: 'learned' 128-d embeddings without position (code V3) or 'fixed' random D-d vectors
        plus the one-hot position (paper text, Reddy).
    """

    K: int = 64
    L: int = 32
    T: int = 3
    N: int = 4
    D: int = 63
    P: int = 65
    eps: float = 0.1
    B: int = 1
    p_B: float = 0.0
    alpha: float = 0.0
    beta: float = 0.0
    task_map: str = "shift"
    base_labels: str = "random"
    p_B_semantics: str = "paper"
    positions: str = "item_index"
    label_tokens: str = "learned"

    def __post_init__(self) -> None:
        _check_int("task.K", self.K, 2)
        _check_int("task.L", self.L, 2)
        _check_int("task.T", self.T, 1)
        _check_int("task.N", self.N, 1)
        _check_int("task.D", self.D, 1)
        _check_int("task.P", self.P, 1)
        _check_float("task.eps", self.eps, 0.0)
        if self.eps > EPS_MAX:
            _fail(
                "task.eps",
                self.eps,
                f"items are (mu + eps z) / sqrt(1 + eps^2) in float32, where eps^2 overflows above "
                f"{EPS_MAX:g} and every item becomes 0; use task.eps <= {EPS_MAX:g} (items are pure "
                f"noise long before)",
            )
        _check_int("task.B", self.B, 1)
        _check_float("task.p_B", self.p_B, 0.0, 1.0)
        _check_float("task.alpha", self.alpha, 0.0)
        _check_float("task.beta", self.beta, 0.0)
        _check_choice("task.task_map", self.task_map, TASK_MAPS)
        _check_choice("task.base_labels", self.base_labels, BASE_LABELS)
        _check_choice("task.p_B_semantics", self.p_B_semantics, P_B_SEMANTICS)
        _check_choice("task.positions", self.positions, POSITIONS)
        _check_choice("task.label_tokens", self.label_tokens, LABEL_TOKENS)
        if self.B > self.N:
            _fail("task.B", self.B, f"burstiness must not exceed the context length N = {self.N}")
        if self.N % self.B:
            _fail("task.B", self.B, f"N = {self.N} must be a multiple of B")
        if self.L > self.K and self.base_labels == "balanced":
            _fail("task.L", self.L, f"a balanced (bijective) label map needs L <= K = {self.K}")
        if self.base_labels == "balanced" and self.K % self.L:
            _fail("task.K", self.K, f"a balanced label map needs K to be a multiple of L = {self.L}")
        if self.T > self.L:
            _fail("task.T", self.T, f"at most L = {self.L} distinct tasks exist")
        # TaskSampler.sample draws N/B distinct context classes and one more outside them for the
        # query, whatever p_B and p_B_semantics (torch.where evaluates both branches, so the outside
        # class is drawn even at p_B = 1); fewer classes fail mid-run in torch's top-k.
        n_distinct = self.N // self.B
        if n_distinct + 1 > self.K:
            _fail(
                "task.K",
                self.K,
                f"each sequence draws N/B = {n_distinct} distinct context classes plus one outside them "
                f"for the query, so K must be at least N/B + 1 = {n_distinct + 1}; raise task.K, or "
                f"raise task.B or lower task.N",
            )
        if self.positions == "item_index" and self.P < self.N + 1:
            _fail("task.P", self.P, f"item_index positions need P >= N + 1 = {self.N + 1}")
        if self.positions != "item_index" and self.P < 2 * self.N + 1:
            _fail("task.P", self.P, f"{self.positions} positions need P >= 2N + 1 = {2 * self.N + 1}")

    @property
    def seq_len(self) -> int:
        return 2 * self.N + 1

    @property
    def d_model(self) -> int:
        return self.D + self.P


@dataclass(frozen=True)
class ModelConfig:
    """Attention-only network (paper Sec. 3.2; code `TransformerICL`; docs/method.md, "Network").

    d_qkv is the total query/key/value width split over the heads (the code's reading of Tab. 3).
    w_o adds the paper's output projection (the code has none; then d_qkv must equal d_model).
    circuit restricts attention from initialisation to one phase's circuit (App. C; docs/method.md).
    """

    layers: int = 2
    heads: int = 1
    d_qkv: int = 128
    w_o: bool = False
    layernorm: bool = False
    mlp_depth: int = 2
    mlp_width: int = 128
    circuit: str = "none"

    def __post_init__(self) -> None:
        _check_int("model.layers", self.layers, 1)
        _check_int("model.heads", self.heads, 1)
        _check_int("model.d_qkv", self.d_qkv, 1)
        _check_int("model.mlp_depth", self.mlp_depth, 0)
        _check_int("model.mlp_width", self.mlp_width, 1)
        _check_choice("model.circuit", self.circuit, CIRCUITS)
        for name in ("w_o", "layernorm"):
            if not isinstance(getattr(self, name), bool):
                _fail(f"model.{name}", getattr(self, name), "must be true or false")
        if self.d_qkv % self.heads:
            _fail("model.d_qkv", self.d_qkv, f"must be divisible by heads = {self.heads}")
        if self.circuit != "none" and self.layers < 2:
            _fail("model.circuit", self.circuit, "circuit masks need at least 2 layers")


@dataclass(frozen=True)
class StopRule:
    """End a run early once held-out accuracy (`acc`, the id set) has stayed at or above `acc` at every
    evaluation of the last `hold` steps; `optim.steps` stays the cap.

    A run spends most of its steps on plateaus and on the last phase's slow climb to 100 %; a long
    grid costs what it needs when each run stops once it has held the top for a while.
    """

    acc: float
    hold: int

    def __post_init__(self) -> None:
        _check_float("optim.stop.acc", self.acc, 0.0, 1.0)
        if self.acc <= 0:
            _fail("optim.stop.acc", self.acc, "must be in (0, 1]: the accuracy a run must hold")
        _check_int("optim.stop.hold", self.hold, 0)

    def reached(self, evaluations: Sequence[tuple[int, float]]) -> bool:
        """Whether a run evaluated at (step, accuracy) pairs, in step order, stops at its last one.

        Every evaluation from step (last - hold) through the last must be at or above `acc`, and the
        run must have been evaluated at or before (last - hold): a hold is never shortened by a run
        being young.
        """
        if not evaluations:
            return False
        since = evaluations[-1][0] - self.hold
        for step, acc in reversed(evaluations):
            if acc < self.acc:
                return False
            if step <= since:
                return True
        return False

    @classmethod
    def from_value(cls, value: Any) -> StopRule | None:
        if value is None or isinstance(value, StopRule):
            return value
        if not isinstance(value, Mapping) or set(value) != {"acc", "hold"}:
            _fail("optim.stop", value, "must be a mapping {acc: <0..1], hold: <steps>} or null (no stop)")
        acc = value["acc"]
        if isinstance(acc, int) and not isinstance(acc, bool):  # `acc: 1` and `acc: 1.0`: one hash
            acc = float(acc)
        return cls(acc=acc, hold=value["hold"])


@dataclass(frozen=True)
class OptimConfig:
    """Vanilla SGD on the query label's cross-entropy (paper Tab. 3), and the evaluation cadence.

    eval_every = 100 matches the paper's ΔAcc grid (Δt = 100); eval_size = 2048 held-out sequences
    keeps the accuracy noise (σ ≈ 0.01) well below the 0.025 phase threshold (docs/method.md).
    """

    lr: float = 0.01
    batch: int = 128
    steps: int = 200_000
    eval_every: int = 100
    eval_size: int = 2048
    n_checkpoints: int = 50
    # The convergence stop (`StopRule`); None trains to `steps`, and is left out of to_dict() so that
    # runs without a stop keep the hash they had before the field existed.
    stop: StopRule | None = None
    # Evaluate the secondary sets (rla, rand_label, copy, official, tasks) only every this many steps,
    # a multiple of eval_every; other evaluations measure the id set alone and leave the secondary
    # columns empty. They are three quarters of the evaluation time, and the id set is what phases,
    # the paper's rule and the stop read. None: every evaluation is full (left out of to_dict()).
    full_eval_every: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", StopRule.from_value(self.stop))
        _check_float("optim.lr", self.lr, 0.0)
        if self.lr <= 0:
            _fail("optim.lr", self.lr, "must be > 0")
        _check_int("optim.batch", self.batch, 1)
        _check_int("optim.steps", self.steps, 1)
        _check_int("optim.eval_every", self.eval_every, 1)
        _check_int("optim.eval_size", self.eval_size, 1)
        _check_int("optim.n_checkpoints", self.n_checkpoints, 0)
        if self.full_eval_every is not None:
            _check_int("optim.full_eval_every", self.full_eval_every, 1)
            if self.full_eval_every % self.eval_every:
                _fail(
                    "optim.full_eval_every",
                    self.full_eval_every,
                    f"must be a multiple of optim.eval_every = {self.eval_every} (or null: every evaluation)",
                )

    def full_eval_due(self, step: int) -> bool:
        """Whether the evaluation at `step` measures every set: always at the end of training."""
        every = self.full_eval_every
        return every is None or step % every == 0 or step == self.steps


SECTIONS = {"task": TaskConfig, "model": ModelConfig, "optim": OptimConfig}
# Values that change only the data stream; runs differing in nothing else can share an ensemble.
DATA_VALUE_FIELDS = ("eps", "B", "p_B", "alpha", "beta", "T")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run; its hash names the run's content."""

    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    seed: int = 0
    # Train-time clamps (icmeta.interventions.Intervention); left out of to_dict() when empty, so
    # that runs without any keep the hash they had before interventions existed.
    interventions: tuple = ()

    def __post_init__(self) -> None:
        _check_int("seed", self.seed, 0, 2**31 - 1)
        if self.interventions:
            m, t = self.model, self.task
            check_all(
                self.interventions, m.layers, m.heads, t.N, self.optim.steps, "interventions", m.circuit
            )
            # Mean ablation replaces a head's output by its mean over the batch (or evaluation set);
            # over one sequence that mean is the output itself, and nothing would be ablated.
            mean_ablated = [
                i for i, s in enumerate(self.interventions) if s.kind == "ablate" and s.ablation == "mean"
            ]
            for name in ("batch", "eval_size"):
                size = getattr(self.optim, name)
                if mean_ablated and size < 2:
                    _fail(
                        f"optim.{name}",
                        size,
                        f"interventions[{mean_ablated[0]}] mean-ablates a head, and the mean over one "
                        f"sequence is that sequence's own output, so nothing would be ablated; raise "
                        f"optim.{name} to 2 or more, or use ablation: zero",
                    )
        if self.optim.eval_size < self.task.T:
            _fail(
                "optim.eval_size",
                self.optim.eval_size,
                f"the per-task evaluation set gives sequence i task i mod T, so it needs at least "
                f"task.T = {self.task.T} sequences (a task without one reports accuracy 0); raise "
                f"optim.eval_size or lower task.T",
            )
        if not self.model.w_o and self.model.d_qkv != self.task.d_model:
            _fail(
                "model.d_qkv",
                self.model.d_qkv,
                f"without W_O the heads write straight into the residual stream, so d_qkv must "
                f"equal D + P = {self.task.d_model}; set model.w_o: true to use another width",
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RunConfig:
        """Build from nested plain data (`{task: {...}, model: {...}, optim: {...}, seed: 0}`)."""
        data = dict(data or {})
        unknown = set(data) - set(SECTIONS) - {"seed", "interventions"}
        if unknown:
            _fail(
                sorted(unknown)[0],
                data[sorted(unknown)[0]],
                f"unknown key; known: {', '.join([*SECTIONS, 'seed', 'interventions'])}",
            )
        parts: dict[str, Any] = {}
        for name, section in SECTIONS.items():
            values = data.get(name) or {}
            if not isinstance(values, Mapping):
                _fail(name, values, "must be a mapping of field names to values")
            known = {f.name for f in fields(section)}
            for key in values:
                if key not in known:
                    _fail(f"{name}.{key}", values[key], f"unknown key; known: {', '.join(sorted(known))}")
            parts[name] = section(**_coerce(section, values))
        return cls(**parts, seed=data.get("seed", 0), interventions=_interventions(data.get("interventions")))

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; pass the path of a run YAML file")
        return cls.from_dict(yaml.safe_load(path.read_text()))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["interventions"] = [dict(i) for i in out["interventions"]]
        if not out["interventions"]:
            del out["interventions"]
        for key in ("stop", "full_eval_every"):  # absent: the hash runs had before the field existed
            if out["optim"][key] is None:
                del out["optim"][key]
        return out

    def hash(self) -> str:
        """A stable 12-hex-digit content hash: equal for equal values, whatever their source."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def replace(self, **changes: Any) -> RunConfig:
        """Return a copy with dotted-path changes applied, e.g. `replace(**{"task.T": 2})`."""
        data = self.to_dict()
        for path, value in changes.items():
            node = data
            *parents, leaf = path.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = value
        return RunConfig.from_dict(data)


def _interventions(specs: Any) -> tuple:
    if not specs:
        return ()
    if not isinstance(specs, list | tuple):
        _fail("interventions", specs, "must be a list of interventions (see icmeta.interventions)")
    return tuple(
        s if isinstance(s, Intervention) else Intervention.from_dict(s, f"interventions[{i}]")
        for i, s in enumerate(specs)
    )


def _coerce(section: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Accept YAML ints where floats are meant (`eps: 1`), nothing looser."""
    out = dict(values)
    for f in fields(section):
        if (
            f.name in out
            and f.type == "float"
            and isinstance(out[f.name], int)
            and not isinstance(out[f.name], bool)
        ):
            out[f.name] = float(out[f.name])
    return out


def check_ensemble(configs: list[RunConfig]) -> None:
    """Runs share one batched model only if they differ in seed and data values alone."""
    if not configs:
        raise ConfigError("an ensemble needs at least one run configuration")

    def shape_key(c: RunConfig) -> dict[str, Any]:
        d = c.to_dict()
        d.pop("seed")
        d.pop("interventions", None)  # members may carry different clamps
        d["optim"].pop("stop", None)  # and different convergence stops
        for name in DATA_VALUE_FIELDS:
            d["task"].pop(name)
        return d

    first = shape_key(configs[0])
    for i, c in enumerate(configs[1:], start=1):
        other = shape_key(c)
        if other != first:
            diff = _first_difference(first, other)
            raise ConfigError(
                f"run {i} cannot share an ensemble with run 0: '{diff}' differs; only seed and "
                f"{', '.join('task.' + n for n in DATA_VALUE_FIELDS)} may differ within an ensemble "
                f"(besides clamps and optim.stop)"
            )


def _first_difference(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> str:
    for key in a:
        if isinstance(a[key], dict):
            found = _first_difference(a[key], b[key], f"{prefix}{key}.")
            if found:
                return found
        elif a[key] != b[key]:
            return f"{prefix}{key}"
    return ""
