"""The training state on disk: saved so that no kill or full disk loses the last good one, and read
back with a message that names the file and the fix when it is damaged.

Each save first writes the new state beside the old one, then keeps the old one as `<name>.prev`
before the new one takes its name: a kill at any point, a full disk or a file damaged afterwards
(a copy cut short, a crash of the file system) leaves one good state to resume from.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from icmeta.errors import DamagedRunFile
from icmeta.io import write_json, write_torch

log = logging.getLogger(__name__)

# What every state holds; a file without them is not a training state.
KEYS = ("hashes", "step", "model", "rows", "maps", "map_steps", "train_log")


SUMMARY_SUFFIX = ".pt.json"


class DiskFull(OSError):
    """The disk filled while the state was saved; the message says which and what to do."""


def previous(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def save(state: dict[str, Any], path: Path) -> None:
    """Write `state` to `path`, keeping the state it replaces as `previous(path)`."""
    fresh = path.with_name(path.name + ".new")
    try:
        write_torch(state, fresh)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        kept = f"the state at {path} is unchanged" if path.is_file() else "no earlier state was saved"
        raise DiskFull(
            errno.ENOSPC,
            f"no space left on the device while saving the training state {path} at step "
            f"{state['step']} ({kept}): free space on that disk and run the same command again, "
            f"and training resumes from the last saved state",
        ) from None
    if path.is_file():
        os.replace(path, previous(path))
    os.replace(fresh, path)
    # What a plan needs (how far these runs are) without loading torch or the state.
    reached = {"hashes": state["hashes"], "step": state["step"], "stopped_at": state["stopped_at"]}
    write_json(reached, summary(path))


def summary(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def steps_done(directory: Path) -> dict[str, tuple[int, bool]]:
    """Run hash -> (the step its saved state under `directory` reached, whether it stopped there).

    Read from the states' summaries, so that a plan made at every workflow parse stays cheap.
    """
    done: dict[str, tuple[int, bool]] = {}
    for found in sorted(directory.rglob(f"*{SUMMARY_SUFFIX}")):
        try:
            reached = json.loads(found.read_text())
            for run_hash, stop in zip(reached["hashes"], reached["stopped_at"], strict=True):
                done[run_hash] = (reached["step"], False) if stop is None else (stop, True)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a plan is an estimate: a summary it cannot read counts as no state
    return done


def load(path: Path, device: torch.device | str) -> dict[str, Any] | None:
    """The saved state at `path`, or the one before it where `path` is damaged; None if there is none.

    A damaged state with no good one before it is refused with the files named: training cannot go
    on from it, and starting again from step 0 is the user's call.
    """
    candidates = [p for p in (path, previous(path)) if p.is_file()]
    if not candidates:
        return None
    problems = []
    for candidate in candidates:
        try:
            state = torch.load(candidate, map_location=device, weights_only=False)
            missing = [k for k in KEYS if k not in state] if isinstance(state, dict) else list(KEYS)
            if missing:
                raise ValueError(f"it lacks {', '.join(missing)}")
        except Exception as err:  # torch raises many kinds on a cut or corrupt file
            problems.append(f"{candidate} ({type(err).__name__}: {err})")
            continue
        if problems:
            log.warning("training state %s is damaged; resuming from the one before it", problems[0])
        return state
    files = " and ".join(str(p) for p in candidates)
    raise DamagedRunFile(
        f"the training state cannot be read: {'; '.join(problems)}. Delete {files} to train "
        f"these runs again from step 0"
    )


def remove(path: Path) -> None:
    for p in (path, previous(path), path.with_name(path.name + ".new"), summary(path)):
        p.unlink(missing_ok=True)
