"""Check the CUDA path and measure GPU training speed: the same as `icmeta doctor`.

Usage: python benchmarks/gpu_check.py [--seconds 5] [--ensembles 1 8 64 512] [--no-workflow]
Exit codes: 0 every check passed, 1 a check failed, 3 no CUDA GPU is visible.
"""

from __future__ import annotations

import sys

from icmeta.cli import main

if __name__ == "__main__":
    sys.exit(main(["doctor", *sys.argv[1:]]))
