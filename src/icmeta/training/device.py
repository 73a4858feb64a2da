"""Which device a run uses, and which training path (CUDA graph, eager CUDA, CPU) it takes and why.

Kept apart from the trainer so that code that only needs a device (the SST-2 probe) does not import
the training loop, and so that the reason a run is slow is decided in one place and can be logged.
"""

from __future__ import annotations

import torch

from icmeta.errors import ConfigError

GRAPH = "CUDA graph"
EAGER_CUDA = "eager CUDA"
CPU = "CPU"


def resolve_device(name: str) -> torch.device:
    """'auto' takes CUDA when present; asking for CUDA without one is an error, not a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device '{name}' was requested but no CUDA GPU is visible to PyTorch "
            f"(torch {torch.__version__}); use device 'auto' or 'cpu'"
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise ConfigError(f"device '{name}' is not supported; use 'auto', 'cpu' or 'cuda[:i]'")
    return torch.device(name)


def torch_summary() -> str:
    """What PyTorch sees, in one line: a CPU-only build and a build that finds no driver look alike
    from `is_available()` alone, but need different fixes."""
    build = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    return f"torch {torch.__version__}, {build}, CUDA devices visible: {torch.cuda.device_count()}"


def planned_path(device: torch.device, cuda_graphs: bool) -> tuple[str, str]:
    """The training path for `device` before any graph capture is tried, and the reason for it.

    A CUDA graph is only planned here: whether capture works is known after the trainer tries it.
    """
    if device.type == "cuda":
        if cuda_graphs:
            return GRAPH, "the whole training step is to be captured as one CUDA graph"
        return EAGER_CUDA, "cuda_graphs disabled"
    threads = torch.get_num_threads()
    if torch.cuda.is_available():
        return CPU, f"device 'cpu' requested although CUDA is present: CPU with {threads} threads"
    return CPU, f"no CUDA device: CPU with {threads} threads; {torch_summary()}"
