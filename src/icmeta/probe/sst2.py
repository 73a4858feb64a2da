"""GLUE SST-2: demonstrations from the train split, queries from the 872-sentence validation split.

The data come either from a local copy (config `probe.data.path`: a directory with GLUE's `train.tsv`
and `dev.tsv`) or from GLUE's archive, downloaded once and checked against a pinned MD5 (the one
torchtext pins for the same URL) before anything is written where the workflow looks for it.
"""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from icmeta.io import atomic_path
from icmeta.probe import ProbeError

SPLITS = {"train": "train.tsv", "validation": "dev.tsv"}  # GLUE's file names
VALIDATION_SIZE = 872
DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class Sst2:
    train: pd.DataFrame  # sentence, label (0 negative, 1 positive)
    validation: pd.DataFrame


def read_split(path: str | Path) -> pd.DataFrame:
    """One GLUE SST-2 TSV (header `sentence<TAB>label`); quoting off, as GLUE writes raw sentences."""
    path = Path(path)
    if not path.is_file():
        raise ProbeError(
            f"SST-2 file {path} does not exist; set probe.data.path to a directory holding "
            f"{' and '.join(SPLITS.values())} (GLUE layout), or leave it empty to download"
        )
    table = pd.read_csv(path, sep="\t", quoting=3, dtype={"sentence": str})
    if list(table.columns[:2]) != ["sentence", "label"]:
        raise ProbeError(
            f"{path}: expected the GLUE columns 'sentence' and 'label', got {list(table.columns)}"
        )
    table["sentence"] = table["sentence"].str.strip()
    return table[["sentence", "label"]].astype({"label": int})


def load(directory: str | Path) -> Sst2:
    d = Path(directory)
    return Sst2(read_split(d / SPLITS["train"]), read_split(d / SPLITS["validation"]))


def download(url: str, md5: str, out_dir: str | Path) -> None:
    """Fetch GLUE's SST-2 archive, check its MD5, and write train.tsv and dev.tsv atomically."""
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            payload = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise ProbeError(
            f"cannot download SST-2 from {url} ({err}); without network, set probe.data.path in the "
            f"config to a directory holding GLUE's SST-2 {' and '.join(SPLITS.values())}"
        ) from None
    digest = hashlib.md5(payload).hexdigest()
    if digest != md5:
        raise ProbeError(f"SST-2 archive from {url} has MD5 {digest}, expected {md5} (probe.data.md5)")
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for name in SPLITS.values():
            member = next(m for m in archive.namelist() if m.endswith(f"/{name}"))
            with atomic_path(Path(out_dir) / name) as tmp:
                tmp.write_bytes(archive.read(member))
