"""The ``torch-nri`` console command (also ``python -m torch_nri``)."""
import argparse
import os
from typing import List, Optional

from torch_nri import __version__
from torch_nri.training.config import (DECODERS, ENCODERS, MODELS, PRECISIONS, SEQUENCE_MODELS,
                                       SYSTEM_FEATURES)

SYSTEMS = tuple(SYSTEM_FEATURES)
CHOICES = {"system": SYSTEMS, "model": MODELS, "encoder": ENCODERS, "decoder": DECODERS,
           "graph": ("full", "knn"), "precision": PRECISIONS, "sequence_model": SEQUENCE_MODELS}


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


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    from torch_nri.training import TrainConfig

    defaults = TrainConfig()
    for field, value in defaults.to_dict().items():
        flag = "--" + field.replace("_", "-")
        if field == "progress":
            parser.add_argument("--no-progress", dest="progress", action="store_false",
                                help="no progress bars")
        elif isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        elif field == "prior":
            parser.add_argument(flag, type=float, nargs="+", default=None,
                                help="prior over edge types, e.g. 0.91 0.03 0.03 0.03")
        else:
            kind = {int: int, float: float, str: str}.get(type(value), None)
            if value is None:  # k, burn_in_steps, threads, checkpoint_chunk_size, max_seconds
                kind = float if field == "max_seconds" else int
            parser.add_argument(flag, type=kind, default=value, choices=CHOICES.get(field),
                                help=f"(default: {value})")


def _train(args: argparse.Namespace) -> int:
    from torch_nri.training import TrainConfig, train

    fields = TrainConfig().to_dict().keys()
    config = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    results = train(config, resume=args.resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, every rank has the same results
        _print_results(results)
        print(f"run saved in {config.out} (best.pt, last.pt, log.csv, *.png)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from torch_nri.datasets import MinMaxStats, TrajectoryDataset
    from torch_nri.training import evaluate_run, load_config

    config = load_config(args.run_dir)
    test_set = None
    if args.data is not None:
        with open(os.path.join(args.run_dir, "stats.json")) as f:
            stats = MinMaxStats.from_dict(json.load(f))
        test_set = TrajectoryDataset(args.data, stats=stats, graph=config.graph, k=config.k)
    results = evaluate_run(args.run_dir, config=config, test_set=test_set)
    if args.json:
        print(json.dumps({key: results[key] for key in ("accuracy", "mse", "auroc")
                          if key in results}))
    else:
        _print_results(results)
    return 0


def _print_results(results: dict) -> None:
    mse = results.get("mse", [])  # the supervised encoder predicts no paths
    steps = [s for s in (1, 10, 20) if s <= len(mse)]
    accuracy = results.get("accuracy")
    print(f"{'edge accuracy':<16}" + ("n/a" if accuracy is None else f"{100 * accuracy:.1f}%"))
    for s in steps:
        print(f"{f'MSE {s} step' + ('s' if s > 1 else ''):<16}{mse[s - 1]:.3e}")


def _baseline(args: argparse.Namespace) -> int:
    import json

    import torch

    from torch_nri.baselines import (CorrelationBaseline, LSTMCorrelationBaseline,
                                     LSTMPathBaseline, as_arrays, static_mse)
    from torch_nri.io import atomic_write_text
    from torch_nri.training import TrainConfig, build_datasets

    config = TrainConfig(system=args.system, num_nodes=args.num_nodes, num_train=args.num_train,
                         num_valid=args.num_valid, num_test=args.num_test,
                         data_root=args.data_root, seed=args.seed, data_seed=args.data_seed,
                         progress=False)
    train_set, valid_set, test_set = build_datasets(config)
    x_train, edges_train = as_arrays(train_set)
    x_valid, edges_valid = as_arrays(valid_set)
    name = f"{args.system}-{args.num_nodes} {args.name}"
    lr = {} if args.lr is None else {"lr": args.lr}  # else each LSTM's own default
    if args.name in ("static", "lstm-single", "lstm-joint"):
        # Path prediction: 49 observed steps of each test system, then 20 predicted.
        x_test, _ = as_arrays(test_set)
        if args.name == "static":
            results = {"mse": static_mse(x_test), "num_examples": x_test.size(0)}
        else:
            torch.manual_seed(args.seed)
            joint = args.num_nodes if args.name == "lstm-joint" else None
            model = LSTMPathBaseline(config.num_features, args.hidden, num_nodes=joint)
            model.fit(x_train, epochs=args.epochs, seed=args.seed, valid=x_valid, **lr,
                      max_seconds=args.max_seconds)
            results = {**model.evaluate(x_test), "epochs": len(model.history)}
        mse = results["mse"]
        print(f"{name}: MSE 1/10/20 steps {mse[0]:.2e} / {mse[9]:.2e} / {mse[19]:.2e}")
    else:
        # The test systems are longer; like the encoders, the baseline sees their first T steps.
        x_test, edges_test = as_arrays(test_set, num_steps=x_train.size(1))
        # Thresholds are fitted on training and validation systems together (NRI's D.1.1).
        x_fit, edges_fit = torch.cat([x_train, x_valid]), torch.cat([edges_train, edges_valid])
        if args.name == "correlation":
            baseline = CorrelationBaseline().fit(x_fit, edges_fit)
            fitted = baseline
        else:  # the LSTM itself is trained on the training systems only
            torch.manual_seed(args.seed)
            baseline = LSTMCorrelationBaseline(config.num_features, args.hidden)
            baseline.fit(x_train, edges_train, epochs=args.epochs, seed=args.seed, **lr,
                         threshold_data=(x_fit, edges_fit), max_seconds=args.max_seconds)
            fitted = baseline.correlation
        results = {"accuracy": baseline.score(x_test, edges_test),
                   "threshold": fitted.threshold, "absolute": fitted.absolute,
                   "num_examples": x_test.size(0)}
        print(f"{name}: test accuracy {100 * results['accuracy']:.1f}% "
              f"(threshold {fitted.threshold:.3f}, absolute={fitted.absolute})")
    if args.out is not None:
        os.makedirs(args.out, exist_ok=True)
        atomic_write_text(json.dumps(results, indent=2), os.path.join(args.out, "results.json"))
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

    train_parser = subparsers.add_parser("train", help="train NRI, NRI-MPM or a baseline "
                                         "(--model)")
    _add_train_options(train_parser)
    train_parser.add_argument("--resume", action="store_true",
                              help="continue the run in --out from its last checkpoint")

    eval_parser = subparsers.add_parser("evaluate", help="test a trained run")
    eval_parser.add_argument("run_dir")
    eval_parser.add_argument("--data", default=None,
                             help="raw trajectories .npz (x [samples, T, N, F], optional edges)")
    eval_parser.add_argument("--json", action="store_true", help="print one JSON object")

    base_parser = subparsers.add_parser("baseline", help="fit and test a baseline that is "
                                        "not an NRI model (see also train --model)")
    base_parser.add_argument("name", choices=("correlation", "lstm-correlation", "static",
                                              "lstm-single", "lstm-joint"))
    base_parser.add_argument("--system", choices=SYSTEMS, default="springs")
    base_parser.add_argument("--num-nodes", type=int, default=5)
    base_parser.add_argument("--num-train", type=int, default=50000)
    base_parser.add_argument("--num-valid", type=int, default=10000)
    base_parser.add_argument("--num-test", type=int, default=10000)
    base_parser.add_argument("--data-root", default="data")
    base_parser.add_argument("--seed", type=int, default=42)
    base_parser.add_argument("--data-seed", type=int, default=None,
                             help="seed of the data (default: --seed)")
    base_parser.add_argument("--epochs", type=int, default=10, help="LSTM baselines: epochs")
    base_parser.add_argument("--max-seconds", type=float, default=None,
                             help="LSTM baselines: training time budget")
    base_parser.add_argument("--lr", type=float, default=None,
                             help="LSTM baselines: learning rate (default: 1e-3 for "
                                  "lstm-correlation, 5e-4 for the path LSTMs)")
    base_parser.add_argument("--hidden", type=int, default=256, help="LSTM baselines: size")
    base_parser.add_argument("--out", default=None, help="also write results.json here")

    demo_parser = subparsers.add_parser("demo", help="simulate springs, train NRI, evaluate")
    demo_parser.add_argument("--out", default="runs/demo")
    demo_parser.add_argument("--data-root", default="data")
    demo_parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    handlers = {"train": _train, "evaluate": _evaluate, "baseline": _baseline}
    if args.command in handlers:
        try:
            return handlers[args.command](args)
        except (ValueError, FileNotFoundError) as error:
            parser.exit(2, f"torch-nri {args.command}: error: {error}\n")
    if args.command == "generate":
        try:
            return _generate(args)
        except ValueError as error:
            parser.error(str(error))
    if args.command == "demo":
        from torch_nri.training.demo import run_demo

        overrides = {} if args.epochs is None else {"epochs": args.epochs}
        run_demo(args.out, args.data_root, **overrides)
        return 0
    parser.print_help()
    return 0
