"""Atomic file output: a crash leaves either the previous file or none, never a truncated one."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write(path: str | Path, writer: Callable[[Path], Any]) -> None:
    with atomic_path(path) as tmp:
        writer(tmp)


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """CSV (gzip-compressed when the name ends in .gz)."""
    compression = "gzip" if str(path).endswith(".gz") else None
    _write(path, lambda tmp: df.to_csv(tmp, index=False, compression=compression))


def write_yaml(data: Any, path: str | Path) -> None:
    _write(path, lambda tmp: tmp.write_text(yaml.safe_dump(data, sort_keys=False)))


def write_json(data: Any, path: str | Path) -> None:
    _write(path, lambda tmp: tmp.write_text(json.dumps(data)))


def write_npz(path: str | Path, **arrays: np.ndarray) -> None:
    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    _write(path, writer)


def write_torch(obj: Any, path: str | Path) -> None:
    """Serialised in memory, then written and synced by Python: a full disk is then an `OSError`
    with errno ENOSPC, which callers can name, not torch's "basic_ios::clear: iostream error"."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)

    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(buffer.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())  # on disk before it replaces the previous file

    _write(path, writer)
