"""Print measured training speed (steps/s, model-steps/s) on CPU and, when present, CUDA.

Usage: python benchmarks/train_speed.py [--seconds 10] [--ensembles 1 8 64]
Prints numbers only; it asserts nothing.
"""

from __future__ import annotations

import argparse

import torch

from icmeta.training.bench import run_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--ensembles", type=int, nargs="+", default=[1, 8, 64])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for row in run_suite(device, tuple(args.ensembles), args.seconds):
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
