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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from icmeta.errors import ConfigError
from icmeta.settings.interventions import Intervention, check_all
from icmeta.settings.spec import Rule, Settings, check_value, fail, setting

TASK_MAPS = ("shift", "random")
BASE_LABELS = ("random", "balanced")
P_B_SEMANTICS = ("paper", "code")
POSITIONS = ("item_index", "token", "random_offset")
LABEL_TOKENS = ("learned", "fixed")
CIRCUITS = ("none", "ncc", "scc", "fcc")
# Items are (mu + eps z) / sqrt(1 + eps^2) in float32; above this eps^2 overflows and every item is 0.
EPS_MAX = 1.8e19


@dataclass(frozen=True)
class TaskConfig(Settings):
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

    section = "task"

    K: int = setting(64, "number of classes", lo=2)
    L: int = setting(32, "number of labels", lo=2)
    T: int = setting(3, "number of tasks", lo=1)
    N: int = setting(4, "context pairs", lo=1)
    D: int = setting(63, "item dimension", lo=1)
    P: int = setting(65, "width of the position one-hot", lo=1)
    eps: float = setting(0.1, "within-class item noise", lo=0.0)
    B: int = setting(1, "burstiness: copies of each context class", lo=1)
    p_B: float = setting(0.0, "probability that the query's class is in the context", lo=0.0, hi=1.0)
    alpha: float = setting(0.0, "Zipf exponent of the class distribution", lo=0.0)
    beta: float = setting(0.0, "Zipf exponent of the task distribution", lo=0.0)
    task_map: str = setting(
        "shift", "shift (code) or random (paper text) class-to-label maps", choices=TASK_MAPS
    )
    base_labels: str = setting("random", "labels drawn with replacement, or balanced", choices=BASE_LABELS)
    p_B_semantics: str = setting("paper", "where the query's class comes from", choices=P_B_SEMANTICS)
    positions: str = setting("item_index", "what the position one-hot encodes", choices=POSITIONS)
    label_tokens: str = setting("learned", "learned or fixed label embeddings", choices=LABEL_TOKENS)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.eps > EPS_MAX:
            fail(
                "task.eps",
                self.eps,
                f"items are (mu + eps z) / sqrt(1 + eps^2) in float32, where eps^2 overflows above "
                f"{EPS_MAX:g} and every item becomes 0; use task.eps <= {EPS_MAX:g} (items are pure "
                f"noise long before)",
            )
        if self.B > self.N:
            fail("task.B", self.B, f"burstiness must not exceed the context length N = {self.N}")
        if self.N % self.B:
            fail("task.B", self.B, f"N = {self.N} must be a multiple of B")
        if self.L > self.K and self.base_labels == "balanced":
            fail("task.L", self.L, f"a balanced (bijective) label map needs L <= K = {self.K}")
        if self.base_labels == "balanced" and self.K % self.L:
            fail("task.K", self.K, f"a balanced label map needs K to be a multiple of L = {self.L}")
        if self.T > self.L:
            fail("task.T", self.T, f"at most L = {self.L} distinct tasks exist")
        # TaskSampler.sample draws N/B distinct context classes and one more outside them for the
        # query, whatever p_B and p_B_semantics (torch.where evaluates both branches, so the outside
        # class is drawn even at p_B = 1); fewer classes fail mid-run in torch's top-k.
        n_distinct = self.N // self.B
        if n_distinct + 1 > self.K:
            fail(
                "task.K",
                self.K,
                f"each sequence draws N/B = {n_distinct} distinct context classes plus one outside them "
                f"for the query, so K must be at least N/B + 1 = {n_distinct + 1}; raise task.K, or "
                f"raise task.B or lower task.N",
            )
        if self.positions == "item_index" and self.P < self.N + 1:
            fail("task.P", self.P, f"item_index positions need P >= N + 1 = {self.N + 1}")
        if self.positions != "item_index" and self.P < 2 * self.N + 1:
            fail("task.P", self.P, f"{self.positions} positions need P >= 2N + 1 = {2 * self.N + 1}")

    @property
    def seq_len(self) -> int:
        return 2 * self.N + 1

    @property
    def d_model(self) -> int:
        return self.D + self.P


@dataclass(frozen=True)
class ModelConfig(Settings):
    """Attention-only network (paper Sec. 3.2; code `TransformerICL`; docs/method.md, "Network").

    d_qkv is the total query/key/value width split over the heads (the code's reading of Tab. 3).
    w_o adds the paper's output projection (the code has none; then d_qkv must equal d_model).
    circuit restricts attention from initialisation to one phase's circuit (App. C; docs/method.md).
    """

    section = "model"

    layers: int = setting(2, "attention layers", lo=1)
    heads: int = setting(1, "heads per layer", lo=1)
    d_qkv: int = setting(128, "query/key/value width, split over the heads", lo=1)
    w_o: bool = setting(False, "an output projection after each attention layer")
    layernorm: bool = setting(False, "layer normalisation before each layer")
    mlp_depth: int = setting(2, "hidden layers of the classifier", lo=0)
    mlp_width: int = setting(128, "width of the classifier's hidden layers", lo=1)
    circuit: str = setting(
        "none", "attention restricted to one phase's circuit from step 0", choices=CIRCUITS
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.d_qkv % self.heads:
            fail("model.d_qkv", self.d_qkv, f"must be divisible by heads = {self.heads}")
        if self.circuit != "none" and self.layers < 2:
            fail("model.circuit", self.circuit, "circuit masks need at least 2 layers")


@dataclass(frozen=True)
class StopRule(Settings):
    """End a run early once held-out accuracy (`acc`, the id set) has stayed at or above `acc` at every
    evaluation of the last `hold` steps, and of the last `hold_decades` of log-step; `optim.steps`
    stays the cap.

    A run spends most of its steps on plateaus and on the last phase's slow climb to 100 %; a long
    grid costs what it needs when each run stops once it has held the top for a while. The phase
    detector reads plateaus on log-step, so a fixed hold that shows an early run's last phase cuts a
    late run's short: 30k steps after 100k is 0.11 decades, below the detector's shortest plateau.
    `hold_decades` grows the hold with the step instead.
    """

    section = "optim.stop"
    acc: float = setting(doc="the accuracy a run must hold", above=0.0, hi=1.0)
    hold: int = setting(doc="for this many steps", lo=0)
    hold_decades: float = setting(0.0, "and for this many decades of log-step (0: steps alone)", lo=0.0)

    def since(self, last: int) -> float:
        """The step from which a run evaluated last at `last` must have held `acc`."""
        return min(last - self.hold, last / 10**self.hold_decades)

    def reached(self, evaluations: Sequence[tuple[int, float]]) -> bool:
        """Whether a run evaluated at (step, accuracy) pairs, in step order, stops at its last one.

        Every evaluation from `since(last)` through the last must be at or above `acc`, and the run
        must have been evaluated at or before that step: a hold is never shortened by a run being
        young.
        """
        if not evaluations:
            return False
        since = self.since(evaluations[-1][0])
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
        if not isinstance(value, Mapping) or not {"acc", "hold"} <= set(value) <= set(
            cls.__dataclass_fields__
        ):
            fail(
                "optim.stop",
                value,
                "must be a mapping {acc: <0..1], hold: <steps>} with an optional hold_decades: <decades>, "
                "or null (no stop)",
            )
        return cls.from_dict(value)


@dataclass(frozen=True)
class OptimConfig(Settings):
    """Vanilla SGD on the query label's cross-entropy (paper Tab. 3), and the evaluation cadence.

    eval_every = 100 matches the paper's ΔAcc grid (Δt = 100); eval_size = 2048 held-out sequences
    keeps the accuracy noise (σ ≈ 0.01) well below the 0.025 phase threshold (docs/method.md).
    """

    section = "optim"

    lr: float = setting(0.01, "SGD learning rate", above=0.0)
    batch: int = setting(128, "sequences per step", lo=1)
    steps: int = setting(200_000, "training steps (the cap, where a stop rule is set)", lo=1)
    eval_every: int = setting(100, "steps between evaluations", lo=1)
    eval_size: int = setting(2048, "held-out sequences per evaluation set", lo=1)
    # Log-spaced at fixed steps (10^(i/k)), not spread over the cap, so that a run extended to a
    # longer cap keeps the checkpoints a run straight to that cap has (9 per decade: 50 to 200k).
    checkpoints_per_decade: int = setting(
        9, "checkpoints kept per decade of steps (log-spaced, plus step 0 and the last); 0: those two", lo=0
    )
    # The convergence stop (`StopRule`); None trains to `steps`, and is left out of to_dict() so that
    # runs without a stop keep the hash they had before the field existed.
    stop: StopRule | None = setting(
        None,
        "end a run once id accuracy has stayed >= acc at every evaluation of the last hold steps "
        "(steps stays the cap); null trains to steps",
    )
    # Evaluate the secondary sets (rla, rand_label, copy, official, tasks) only every this many steps,
    # a multiple of eval_every; other evaluations measure the id set alone and leave the secondary
    # columns empty. They are three quarters of the evaluation time, and the id set is what phases,
    # the paper's rule and the stop read. None: every evaluation is full (left out of to_dict()).
    full_eval_every: int | None = setting(
        None,
        "evaluate the secondary sets only every this many steps, a multiple of eval_every; null: always",
        lo=1,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", StopRule.from_value(self.stop))
        super().__post_init__()
        if self.steps % self.eval_every:
            fail(
                "optim.steps",
                self.steps,
                f"must be a multiple of optim.eval_every = {self.eval_every}, so that a run's last step "
                f"is an evaluation of the grid a longer run evaluates on",
            )
        if self.full_eval_every is not None and self.full_eval_every % self.eval_every:
            fail(
                "optim.full_eval_every",
                self.full_eval_every,
                f"must be a multiple of optim.eval_every = {self.eval_every} (or null: every evaluation)",
            )

    def full_eval_due(self, step: int) -> bool:
        """Whether the evaluation at `step` measures every set: always at the end of training."""
        every = self.full_eval_every
        return every is None or step % every == 0 or step == self.steps


_SEED_RULE = Rule(lo=0, hi=2**31 - 1)
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
    # Train-time clamps (icmeta.settings.interventions.Intervention); left out of to_dict() when empty, so
    # that runs without any keep the hash they had before interventions existed.
    interventions: tuple = ()

    def __post_init__(self) -> None:
        check_value("seed", self.seed, int, _SEED_RULE)
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
                    fail(
                        f"optim.{name}",
                        size,
                        f"interventions[{mean_ablated[0]}] mean-ablates a head, and the mean over one "
                        f"sequence is that sequence's own output, so nothing would be ablated; raise "
                        f"optim.{name} to 2 or more, or use ablation: zero",
                    )
        if self.optim.eval_size < self.task.T:
            fail(
                "optim.eval_size",
                self.optim.eval_size,
                f"the per-task evaluation set gives sequence i task i mod T, so it needs at least "
                f"task.T = {self.task.T} sequences (a task without one reports accuracy 0); raise "
                f"optim.eval_size or lower task.T",
            )
        if not self.model.w_o and self.model.d_qkv != self.task.d_model:
            fail(
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
            fail(
                sorted(unknown)[0],
                data[sorted(unknown)[0]],
                f"unknown key; known: {', '.join([*SECTIONS, 'seed', 'interventions'])}",
            )
        parts = {name: section.from_dict(data.get(name) or {}, name) for name, section in SECTIONS.items()}
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
        if out["optim"].get("stop", {}).get("hold_decades") == 0.0:  # likewise
            del out["optim"]["stop"]["hold_decades"]
        return out

    def hash(self) -> str:
        """A stable 12-hex-digit hash of the run's identity: equal for equal values, whatever their
        source.

        The step cap is not part of it. SGD at a constant learning rate on a per-step data stream makes
        a run to 400k steps the continuation of the same run to 100k, so raising `optim.steps` extends
        a finished run from its last state instead of naming a new run (`icmeta.training.train`).
        """
        identity = self.to_dict()
        del identity["optim"]["steps"]
        blob = json.dumps(identity, sort_keys=True, separators=(",", ":"))
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
        fail("interventions", specs, "must be a list of interventions (see icmeta.settings.interventions)")
    return tuple(
        s if isinstance(s, Intervention) else Intervention.from_dict(s, f"interventions[{i}]")
        for i, s in enumerate(specs)
    )


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
