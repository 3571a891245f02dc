"""The ``torch-nri`` console command (also ``python -m torch_nri``)."""
import argparse
from typing import List, Optional

from torch_nri import __version__

SYSTEMS = ("springs", "charged", "kuramoto")


def _generate(args: argparse.Namespace) -> int:
    from torch_nri.datasets import ChargedDataset, KuramotoDataset, SpringsDataset

    dataset_cls = dict(springs=SpringsDataset, charged=ChargedDataset,
                       kuramoto=KuramotoDataset)[args.system]
    physics = {}
    if args.num_neighbors is not None:
        physics["num_neighbors"] = args.num_neighbors
    if args.cutoff is not None:
        physics["cutoff"] = args.cutoff
    dataset = dataset_cls(args.out, num_nodes=args.num_nodes, num_train=args.num_train,
                          num_valid=args.num_valid, num_test=args.num_test,
                          length=args.length, test_length=args.test_length,
                          sample_freq=args.sample_freq, seed=args.seed, graph=args.graph,
                          k=args.k, progress=True, force_reload=args.force, **physics)
    print(f"{args.system}: {args.num_train}/{args.num_valid}/{args.num_test} systems of "
          f"{args.num_nodes} objects, cached in {dataset.processed_dir}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="torch-nri", description="Neural relational inference for PyTorch Geometric.")
    parser.add_argument("--version", action="version", version=f"torch-nri {__version__}")
    subparsers = parser.add_subparsers(dest="command")

    gen = subparsers.add_parser("generate", help="simulate a dataset and cache it")
    gen.add_argument("system", choices=SYSTEMS)
    gen.add_argument("--out", default="data", help="dataset root directory (default: data)")
    gen.add_argument("--num-nodes", type=int, default=5)
    gen.add_argument("--num-train", type=int, default=50000)
    gen.add_argument("--num-valid", type=int, default=10000)
    gen.add_argument("--num-test", type=int, default=10000)
    gen.add_argument("--length", type=int, default=None,
                     help="integration steps of train/valid systems (default: T = 49)")
    gen.add_argument("--test-length", type=int, default=None,
                     help="integration steps of test systems (default: T = 99)")
    gen.add_argument("--sample-freq", type=int, default=None)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--graph", choices=("full", "knn"), default="full",
                     help="candidate graph of each item")
    gen.add_argument("--k", type=int, default=None, help="neighbours of the knn graph")
    gen.add_argument("--num-neighbors", type=int, default=None,
                     help="springs: only between this many nearest neighbours")
    gen.add_argument("--cutoff", type=float, default=None,
                     help="charged: interaction cut-off distance")
    gen.add_argument("--force", action="store_true", help="regenerate even if cached")

    subparsers.add_parser("demo", help="simulate springs, train NRI and evaluate it")
    args = parser.parse_args(argv)
    if args.command == "generate":
        try:
            return _generate(args)
        except ValueError as error:
            parser.error(str(error))
    if args.command == "demo":
        # The training loop lands with its own issue.
        print("torch-nri demo: not yet available (needs the training module); the "
              "layers, model, simulators and datasets are ready to use.")
        return 0
    parser.print_help()
    return 0
