"""icmeta: in-context meta-learning circuits (Minegishi et al. 2025), reproducible and fast."""

from icmeta.config import ConfigError, ModelConfig, OptimConfig, RunConfig, TaskConfig

__all__ = ["ConfigError", "ModelConfig", "OptimConfig", "RunConfig", "TaskConfig"]
__version__ = "0.1.0"
