"""The workflow step that downloads SST-2 once: what the sst2_data rule calls.

Apart from the probe itself so that changing how models are probed never downloads the data again.
"""

from __future__ import annotations

from pathlib import Path

from icmeta.probe import sst2


def fetch_sst2(url: str, md5: str, out_train: str | Path, out_dev: str | Path) -> None:
    out_dir = Path(out_train).parent
    if Path(out_dev).parent != out_dir:
        raise ValueError("train.tsv and dev.tsv must share a directory")
    sst2.download(url, md5, out_dir)
