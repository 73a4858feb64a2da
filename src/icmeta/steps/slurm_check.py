"""Whether a SLURM profile's training jobs can start on the cluster at hand, asked before anything
is submitted.

A job that asks for more CPUs, memory or GPUs than any node of its partition has, or for a partition
that does not exist, waits in the queue for ever (`PENDING`, reason `PartitionConfig` or
`ReqNodeNotAvail`) and Snakemake says nothing about it. `sinfo` knows each partition's nodes; the
profile says what the jobs ask for.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icmeta.errors import ConfigError
from icmeta.settings.execution import gpu_expected
from icmeta.steps.config_files import read_config_file
from icmeta.steps.plan import TRAIN_THREADS

SINFO_FORMAT = "%P|%c|%m|%G"  # partition, CPUs per node, memory per node (MB), generic resources
GRES_GPUS = re.compile(r"gpu(?::[\w.-]+)?:(\d+)")  # gpu:4, gpu:a100:4 -> 4


@dataclass(frozen=True)
class Partition:
    name: str
    default: bool
    cpus: int  # of its largest node
    mem_mb: int
    gpus: int


@dataclass(frozen=True)
class Request:
    partition: str | None  # None: the cluster's default partition
    cpus: int
    mem_mb: int | None
    gpus: int


def partitions(sinfo: str) -> dict[str, Partition]:
    """Each partition's largest node, from `sinfo -h -o SINFO_FORMAT` (one line per node kind)."""
    found: dict[str, Partition] = {}
    for line in sinfo.splitlines():
        if not line.strip():
            continue
        name, cpus, mem, gres = line.strip().split("|")
        default = name.endswith("*")
        name = name.rstrip("*")
        gpus = sum(int(n) for n in GRES_GPUS.findall(gres))
        before = found.get(name)
        node = Partition(name, default, int(cpus.rstrip("+")), int(mem.rstrip("+")), gpus)
        if before:
            node = Partition(
                name,
                default,
                max(before.cpus, node.cpus),
                max(before.mem_mb, node.mem_mb),
                max(before.gpus, gpus),
            )
        found[name] = node
    return found


def training_request(profile: dict[str, Any], device: str = "cpu") -> Request:
    """What a training job asks for under `profile` (a parsed profile config.yaml) when the
    workflow's `execution.device` is `device` (the rule asks for a GPU where training uses one)."""
    resources = {
        **(profile.get("default-resources") or {}),
        **(profile.get("set-resources") or {}).get("train", {}),
    }
    threads = int((profile.get("set-threads") or {}).get("train", TRAIN_THREADS))
    gpus = int(resources.get("gpu", 0) or 0) or int(gpu_expected(device))
    gres = str(resources.get("gres", ""))
    if not gpus and (match := GRES_GPUS.search(gres)):
        gpus = int(match[1])
    per_gpu = int(resources.get("cpus_per_gpu", 0) or 0)
    partition = resources.get("slurm_partition")
    mem = resources.get("mem_mb")
    return Request(
        str(partition).strip("'\"") if partition else None,
        max(threads, per_gpu * gpus),
        int(mem) if mem is not None else None,
        gpus,
    )


def problems(request: Request, found: dict[str, Partition], profile_path: str) -> list[str]:
    """Why a training job could never start, each with the setting to change; [] if it can."""
    if not found:
        return ["sinfo lists no partition: is this a SLURM login node?"]
    if request.partition is None:
        part = next((p for p in found.values() if p.default), None)
        if part is None:
            return [f"no slurm_partition is set in {profile_path} and the cluster has no default partition"]
    elif request.partition not in found:
        return [
            f"partition '{request.partition}' does not exist here (partitions: {', '.join(sorted(found))}); "
            f"set slurm_partition in the SITE SETTINGS of {profile_path}"
        ]
    else:
        part = found[request.partition]
    out = []
    if request.cpus > part.cpus:
        out.append(
            f"a training job asks for {request.cpus} CPUs and the largest node of partition '{part.name}' "
            f"has {part.cpus}: set `set-threads: {{train: {part.cpus}}}` (or fewer) in {profile_path}"
        )
    if request.mem_mb is not None and request.mem_mb > part.mem_mb:
        out.append(
            f"a training job asks for {request.mem_mb} MB and the largest node of partition '{part.name}' "
            f"has {part.mem_mb} MB: lower mem_mb under set-resources: train in {profile_path}"
        )
    if request.gpus > part.gpus:
        out.append(
            f"a training job asks for {request.gpus} GPU(s) and partition '{part.name}' has "
            f"{part.gpus or 'none'} per node: on CPU nodes leave execution.device at cpu or auto, and "
            f"drop gpu/gres from {profile_path}; on a GPU cluster set the GPU partition there"
        )
    return out


def cluster_nodes() -> dict[str, Partition] | None:
    """This cluster's partitions, or None where sinfo cannot tell (not a SLURM login node)."""
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", SINFO_FORMAT], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    return partitions(out)


def never_fits(rule: str, cpus: int, found: dict[str, Partition]) -> str | None:
    """Why a job of `rule` asking for `cpus` CPUs fits no node of any partition, with the fix."""
    largest = max((p.cpus for p in found.values()), default=0)
    if not found or cpus <= largest:
        return None
    return (
        f"{rule} jobs ask for {cpus} CPUs and no node of this cluster has more than {largest}: they "
        f"would wait in the queue for ever; set `set-threads: {{{rule}: {largest}}}` (or fewer) in the "
        f"profile (icmeta slurm-check PROFILE checks its other settings)"
    )


def check_profile(
    profile_dir: str | Path, device: str = "cpu", sinfo: str | None = None
) -> tuple[Request, list[str]]:
    """The training request of the profile in `profile_dir` for training on `device`, and its
    problems on this cluster (`sinfo` output, queried here when not given)."""
    path = Path(profile_dir) / "config.yaml"
    profile = read_config_file(path)
    found = cluster_nodes() if sinfo is None else partitions(sinfo)
    if found is None:
        raise ConfigError("sinfo could not list the cluster's partitions; run this on a SLURM login node")
    request = training_request(profile, device)
    return request, problems(request, found, str(path))
