"""The probe's configuration (config key `probe`): which data, prompts and models it reads."""

from __future__ import annotations

from dataclasses import dataclass

from icmeta.probe.models import DTYPES
from icmeta.probe.prompts import SELECTIONS
from icmeta.settings.spec import Settings, setting


@dataclass(frozen=True)
class ProbeData(Settings):
    section = "probe.data"
    path: str = setting(
        "", "a directory with GLUE's SST-2 train.tsv and dev.tsv; empty downloads url into resources/sst2"
    )
    url: str = setting("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip", "where SST-2 is downloaded from")
    md5: str = setting(
        "9f81648d4199384278b86e315dac217c",
        "the archive's checksum, as torchtext pins it",
        pattern="^[0-9a-f]{32}$",
    )


@dataclass(frozen=True)
class ProbePrompts(Settings):
    section = "probe.prompts"
    k: int = setting(2, "demonstrations per prompt", lo=1)
    selection: str = setting("one_per_class", "how demonstrations are drawn", choices=SELECTIONS)
    seed: int = setting(0, "seed of the demonstrations' draw", lo=0)
    queries: int = setting(872, "dev-set sentences probed (872: all of them)", lo=1)
    label_names: tuple[str, ...] = setting(["Negative", "Positive"], "the label words", min_items=2)


@dataclass(frozen=True)
class ProbeCheckpoints(Settings):
    section = "probe.checkpoints"
    name: str = setting("", "the model; may contain {step}")
    revision: str | None = setting("step{step}", "its hub revision; may contain {step}")
    steps: tuple[int, ...] = setting([], "pre-training steps probed; empty: none", lo=0, unique=True)


@dataclass(frozen=True)
class ProbeSettings(Settings):
    """The SST-2 probe of pretrained language models (docs/probe.md)."""

    section = "probe"
    active: bool = setting(False, "run the probe with the grid")
    data: ProbeData = setting(ProbeData, "where SST-2 comes from")
    prompts: ProbePrompts = setting(ProbePrompts, "the few-shot prompts")
    models: tuple[str, ...] = setting(
        ["gpt2-xl"], "Hugging Face causal LMs, hub names or local directories written by save_pretrained"
    )
    checkpoints: ProbeCheckpoints = setting(
        ProbeCheckpoints, "one model at several pre-training steps; name and revision may contain {step}"
    )
    dtype: str = setting("float32", "the models' float type", choices=DTYPES)
    batch_size: int = setting(8, "prompts per forward pass", lo=1)
