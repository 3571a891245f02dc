"""The ``torch-nri`` console command."""
import argparse
from typing import List, Optional

from torch_nri import __version__


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="torch-nri", description="Neural relational inference for PyTorch Geometric.")
    parser.add_argument("--version", action="version", version=f"torch-nri {__version__}")
    subparsers = parser.add_subparsers(dest="command")
    subparsers.add_parser("demo", help="simulate springs, train NRI and evaluate it")
    args = parser.parse_args(argv)
    if args.command == "demo":
        # The training loop and simulators land with their own issues.
        print("torch-nri demo: not yet available (needs the simulation and training "
              "modules); the layers, model, losses and metrics are ready to use.")
        return 0
    parser.print_help()
    return 0
