"""Loading a Hugging Face causal LM (a hub name, a hub name at a revision, or a local directory) with
eager attention, so that attention weights are returned, and failing clearly when it cannot be had."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from icmeta.probe import ProbeError

if TYPE_CHECKING:
    import torch

# torch's names; torch itself is imported only to load a model, because the workflow reads
# `probe_runs` from this module every time it parses.
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class ModelSpec:
    name: str  # hub id or local directory
    revision: str | None = None  # hub revision, e.g. Pythia's "step1000"
    step: int | None = None  # the pre-training step of a checkpoint, for plots
    config_key: str = "probe.models"  # where the spec came from, named in errors


def _from_pretrained(loader, spec: ModelSpec, **kwargs):
    """Local directory or hub cache first; the network only if that fails and it is allowed."""
    if Path(spec.name).is_dir():
        return loader.from_pretrained(spec.name, **kwargs)
    try:
        return loader.from_pretrained(spec.name, revision=spec.revision, local_files_only=True, **kwargs)
    except OSError:
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        raise ProbeError(_missing(spec, "HF_HUB_OFFLINE is set and it is not in the local cache"))
    try:
        return loader.from_pretrained(spec.name, revision=spec.revision, **kwargs)
    except OSError as err:
        raise ProbeError(_missing(spec, str(err).splitlines()[0])) from None


def _missing(spec: ModelSpec, why: str) -> str:
    at = f" at revision {spec.revision}" if spec.revision else ""
    return (
        f"cannot load model '{spec.name}'{at}: {why}. Without network, set {spec.config_key} to a "
        f"local directory written by save_pretrained (model and tokenizer), or fill the Hugging "
        f"Face cache first"
    )


def load(spec: ModelSpec, dtype: str, device: torch.device):
    """(model, tokenizer), the model in eval mode on `device`; the tokenizer must be a fast one,
    because prompt positions come from its character offsets."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ProbeError(f"probe.dtype = {dtype!r}; use one of {', '.join(DTYPES)}")
    tokenizer = _from_pretrained(AutoTokenizer, spec)
    if not tokenizer.is_fast:
        raise ProbeError(f"model '{spec.name}' has no fast tokenizer; the probe needs character offsets")
    weights = getattr(torch, dtype)
    model = _from_pretrained(AutoModelForCausalLM, spec, dtype=weights, attn_implementation="eager")
    return model.to(device).eval(), tokenizer


def slug(name: str) -> str:
    """A model name or path as one directory name: `EleutherAI/pythia-160m` -> `EleutherAI--pythia-160m`."""
    return re.sub(r"[^\w.-]+", "-", name.replace("/", "--")).strip("-.") or "model"


def probe_runs(settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Run id (its directory under results/probe/) -> ModelSpec fields, from config key `probe`.

    `models` lists hub names or local directories. `checkpoints` is one model at several pre-training
    steps: `name` and `revision` may contain `{step}` (Pythia: revision `step{step}`; a local series:
    name `/ckpts/step{step}`, revision null).
    """
    runs = {
        f"models/{slug(name)}": {"name": name, "config_key": "probe.models"} for name in settings["models"]
    }
    if len(runs) != len(settings["models"]):
        raise ProbeError("probe.models: two model names map to the same directory; list each model once")
    ckpt = settings["checkpoints"]
    for step in ckpt["steps"]:
        if not ckpt["name"]:
            raise ProbeError("probe.checkpoints.steps is set but probe.checkpoints.name is empty")
        revision = ckpt["revision"].format(step=step) if ckpt["revision"] else None
        runs[f"checkpoints/{slug(ckpt['name'].replace('{step}', ''))}/step~{step}"] = {
            "name": ckpt["name"].format(step=step),
            "revision": revision,
            "step": step,
            "config_key": "probe.checkpoints.name",
        }
    return runs
