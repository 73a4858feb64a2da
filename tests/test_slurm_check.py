"""A SLURM profile whose training jobs fit no node is named with the setting to change, before
anything is submitted (a job that can never start waits in the queue without a word)."""

import yaml

from icmeta.steps.slurm_check import Request, never_fits, partitions, problems, training_request
from snakemake_runs import REPO

SINFO = "main*|2|23593|(null)\ngpu|32|512000|gpu:a100:4\ngpu|64|256000|gpu:h100:8(S:0-1)\n"


def test_each_partition_is_read_as_its_largest_node():
    found = partitions(SINFO)
    assert found["main"].default and (found["main"].cpus, found["main"].gpus) == (2, 0)
    assert (found["gpu"].cpus, found["gpu"].mem_mb, found["gpu"].gpus) == (64, 512000, 8)


def test_the_shipped_profile_names_its_placeholder_partition_and_fits_once_set():
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    found = partitions(SINFO)
    (problem,) = problems(training_request(profile), found, "p.yaml")
    assert "partition 'cpu' does not exist here (partitions: gpu, main)" in problem
    profile["default-resources"]["slurm_partition"] = "main"
    profile["set-resources"]["train"]["mem_mb"] = 4000
    assert problems(training_request(profile), found, "p.yaml") == []


def test_too_many_threads_too_much_memory_or_gpus_on_a_cpu_partition_are_each_named():
    found = partitions(SINFO)
    (cpus,) = problems(Request("main", 4, 1000, 0), found, "p.yaml")
    assert "asks for 4 CPUs and the largest node of partition 'main' has 2" in cpus
    assert "set-threads: {train: 2}" in cpus
    (mem,) = problems(Request("main", 2, 30000, 0), found, "p.yaml")
    assert "30000 MB" in mem
    (gpus,) = problems(Request(None, 2, None, 1), found, "p.yaml")  # the default partition: main
    assert "asks for 1 GPU(s) and partition 'main' has none per node" in gpus
    assert problems(Request("gpu", 16, 64000, 4), found, "p.yaml") == []


def test_a_gpu_device_makes_the_training_rule_ask_for_one():
    profile = {"default-resources": {"slurm_partition": "gpu"}, "set-threads": {"train": 4}}
    assert training_request(profile, "cuda").gpus == 1 and training_request(profile, "cpu").gpus == 0
    assert training_request(profile).cpus == 4
    assert (
        training_request({"set-resources": {"train": {"gres": "gpu:a100:2", "cpus_per_gpu": 8}}}).cpus == 16
    )


def test_threads_above_every_node_are_refused_with_the_fix():
    found = partitions(SINFO)
    assert never_fits("train", 64, found) is None
    assert "no node of this cluster has more than 64" in never_fits("train", 65, found)
    assert never_fits("train", 4, {}) is None  # sinfo told nothing: no verdict
