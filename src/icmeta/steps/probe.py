"""The workflow step that probes one pretrained model (or checkpoint) on SST-2: what the probe rule calls."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from icmeta.io import write_table
from icmeta.probe import ProbeError, models, sst2
from icmeta.probe.prompts import make_prompts
from icmeta.probe.run import probe
from icmeta.training.device import resolve_device


def probe_model(
    spec: Mapping[str, Any],
    data_dir: str | Path,
    prompts: Mapping[str, Any],
    dtype: str,
    batch_size: int,
    device: str,
    out_metrics: str | Path,
    out_predictions: str | Path,
    out_summary: str | Path,
) -> None:
    """Probe one model (or one checkpoint) on the configured prompts; writes its three tables."""
    model_spec = models.ModelSpec(**spec)
    data = sst2.load(data_dir)
    queries = data.validation.head(prompts["queries"])
    if len(queries) < prompts["queries"]:
        raise ProbeError(
            f"probe.prompts.queries = {prompts['queries']} but the validation split has "
            f"{len(data.validation)} sentences"
        )
    built = make_prompts(
        data.train, queries, prompts["k"], prompts["selection"], prompts["seed"], prompts["label_names"]
    )
    dev = resolve_device(device)
    model, tokenizer = models.load(model_spec, dtype, dev)
    metrics, predictions = probe(model, tokenizer, built, prompts["label_names"], batch_size, dev)
    ident = {"model": model_spec.name, "revision": model_spec.revision or "", "step": model_spec.step}
    summary = {
        **ident,
        "layers": int(metrics["layer"].max()) + 1,
        "heads": int(metrics["head"].max()) + 1,
        "prompts": len(built),
        "k": prompts["k"],
        "accuracy": float(predictions["correct"].mean()),
        "device": str(dev),
        "dtype": dtype,
    }
    write_table(metrics, out_metrics)
    write_table(predictions, out_predictions)
    write_table(pd.DataFrame([summary]), out_summary)
    del model
    if dev.type == "cuda":
        torch.cuda.empty_cache()
