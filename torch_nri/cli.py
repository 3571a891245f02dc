"""The ``torch-nri`` console command (also ``python -m torch_nri``).

Every error of every subcommand, a usage error of argparse or a bad value,
file or directory found later, takes one path (:func:`_fail`): one line
``torch-nri CMD: error: MESSAGE`` on stderr and exit status 2, no traceback.
Options are checked (:class:`~torch_nri.training.TrainConfig`) before any
data is simulated or any model trained."""
import argparse
import json
import os
import sys
from typing import Any, Dict, List, NoReturn, Optional

from torch_nri import __version__
from torch_nri.datasets import SYSTEMS, physics_parameters
from torch_nri.graphs import CANDIDATE_GRAPHS

# The data options, shared by generate, train and baseline so that the same
# flags describe the same data (and the same cache) everywhere.
DATA_FIELDS = ("system", "num_nodes", "num_train", "num_valid", "num_test", "length",
               "test_length", "sample_freq", "data_root", "data", "graph", "k", "graph_radius",
               "position_features", "data_seed")
_HELP = {
    "system": "simulated system",
    "length": "integration steps of train/valid systems (default: the system's, T = 49)",
    "test_length": "integration steps of test systems (default: the system's, T = 99)",
    "sample_freq": "integration steps between samples (default: the system's)",
    "data_root": "root directory of the simulated datasets' cache",
    "data": "your own trajectories: a directory with train.npz, valid.npz and test.npz "
            "(x [samples, T, N, F]; optional relations: integer edges [samples, N, N] or "
            "[samples, T, N, N], or an edge_list of rows (sample, [step,] sender, receiver, "
            "type))",
    "graph": "candidate graph of each system: full, knn (the --k nearest neighbours) or "
             "radius (every pair within --graph-radius), of the positions at the first step "
             "(at every step where the relations change over time)",
    "k": "neighbours of the knn graph",
    "graph_radius": "distance within which two objects are candidates in the radius graph, "
                    "in the units of the positions (raw, before scaling)",
    "position_features": "indices of the features that are coordinates, e.g. 0 1: every "
                         "encoder and decoder then sees relative positions only "
                         "(translation invariant; keep it off for systems with walls), and "
                         "the knn and radius graphs and the plots of large systems use "
                         "them; a simulated system's must be its positions (none: not "
                         "declared, absolute inputs, graphs on features 0 and 1)",
    "data_seed": "seed of the data (default: --seed)",
}


# The optional fields that take a list of values, and the name of a value.
_LIST_FIELDS = {"position_features": "INDEX"}


def _fail(prog: str, message: str) -> NoReturn:
    # The one error path: one line, whatever the message, and exit status 2.
    sys.stderr.write(f"{prog}: error: {' '.join(str(message).split())}\n")
    raise SystemExit(2)


class _StoreFlag(argparse.Action):
    # A store that also records the flag given (dest + "_flag"), for an
    # error about a value that two flags set (generate's --out, --data-root).
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_flag", option_string)


class _Parser(argparse.ArgumentParser):
    # argparse's usage errors, without the usage lines, through _fail.
    def error(self, message: str) -> NoReturn:
        _fail(self.prog, message)


def _describe(error: Exception) -> str:
    # An OSError names its file and its reason, not "[Errno 13]".
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error)


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _add_option(parser: argparse.ArgumentParser, field: str, value: Any,
                choices: Optional[tuple] = None, help: Optional[str] = None) -> None:
    # One TrainConfig field as a flag of the type of its default (a list: one or more).
    if isinstance(value, bool):
        parser.add_argument(_flag(field), action=argparse.BooleanOptionalAction, default=value,
                            help=help)
        return
    kind = {int: int, float: float, str: str}.get(type(value))
    if value is None:  # the optional fields: integers, but for these
        kind = {"max_seconds": float, "data": str, "dropout": float, "graph_radius": float,
                "decoder_sequence_model": str, "encoder": str}.get(field, int)
    parser.add_argument(_flag(field), type=kind, default=value, choices=choices,
                        action=_StoreFlag if field == "data_root" else None,
                        nargs="+" if field in _LIST_FIELDS else None,
                        metavar=_LIST_FIELDS.get(field),
                        help=f"{help + ' ' if help else ''}(default: {value})")


def _add_data_options(parser: argparse.ArgumentParser, simulated_only: bool = False) -> None:
    # simulated_only: `generate SYSTEM`, the system positional and no --data.
    from torch_nri.training import TrainConfig

    defaults = TrainConfig()
    group = parser.add_argument_group("data")
    if simulated_only:
        group.add_argument("system", choices=tuple(SYSTEMS), help=_HELP["system"])
    for field in DATA_FIELDS:
        if simulated_only and field in ("system", "data"):
            continue
        choices = {"system": tuple(SYSTEMS), "graph": CANDIDATE_GRAPHS}.get(field)
        _add_option(group, field, getattr(defaults, field), choices, _HELP.get(field))
    physics = parser.add_argument_group("physics of the simulated systems (default: the "
                                        "simulator's)")
    for name, parameter in physics_parameters().items():
        systems = [system for system, cls in SYSTEMS.items()
                   if name in cls.physics_parameters()]
        # A flag pair --walls / --no-walls for a boolean (type=bool reads "False" as True).
        kind = (dict(action=argparse.BooleanOptionalAction) if parameter.type is bool
                else dict(type=parameter.type, nargs="+" if parameter.sequence else None))
        physics.add_argument(_flag(name), dest=f"physics:{name}", default=None,
                             help=f"{', '.join(systems)}", **kind)


def _data_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    values = vars(args)
    kwargs = {field: values[field] for field in DATA_FIELDS if field in values}
    kwargs["physics"] = {key.split(":", 1)[1]: value for key, value in values.items()
                         if key.startswith("physics:") and value is not None}
    return kwargs


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    from torch_nri.training import DECODERS, ENCODERS, TrainConfig
    from torch_nri.nn.ri_encoder import INTER_SCOPES
    from torch_nri.training.config import PRECISIONS, SEQUENCE_MODELS
    from torch_nri.training.registry import MODELS

    choices = {"model": tuple(MODELS), "encoder": tuple(ENCODERS),
               "precision": PRECISIONS, "sequence_model": SEQUENCE_MODELS,
               "decoder_sequence_model": SEQUENCE_MODELS, "inter_scope": INTER_SCOPES}
    helps = {"decoder": f"one of {', '.join(DECODERS)}, or package.module:Class of an "
                        f"NRIDecoder of your own",
             "encoder": "none: the model's (dnri for --model dnri, else mlp)",
             "device": "auto (CUDA when available), cpu, cuda or cuda:N",
             "compile": "run the training and validation steps through torch.compile",
             "tf32": "TF32 matrix multiplies on CUDA",
             "deterministic": "deterministic algorithms only, so that a seed repeats a CUDA "
                              "run bit for bit (slower; CPU runs repeat without it)",
             "inter_scope": "the ri encoder's inter-edge sets: each graph's nodes (the "
                            "paper's) or each receiver's senders and itself (large sparse "
                            "graphs)",
             "checkpoint_memory": "with --checkpoint and no --checkpoint-chunk-size: the bytes "
                                  "of per-edge tensors per chunk, which sets the chunk size",
             "dropout": "dropout probability; none: the model's paper value (0.5 for "
                        "--model supervised, else 0)"}
    _add_data_options(parser)
    unresolved = {"dropout": None, "encoder": None}  # resolved per model in the config
    for field, value in {**TrainConfig().to_dict(), **unresolved}.items():
        if field in DATA_FIELDS or field == "physics":
            continue
        if field == "progress":
            parser.add_argument("--no-progress", dest="progress", action="store_false",
                                help="no progress bars")
        elif field == "prior":
            parser.add_argument(_flag(field), type=float, nargs="+", default=None,
                                help="prior over edge types, e.g. 0.91 0.03 0.03 0.03")
        else:
            _add_option(parser, field, value, choices.get(field), helps.get(field))


def _train_config(args: argparse.Namespace):
    from torch_nri.training import TrainConfig

    fields = TrainConfig().to_dict().keys()
    options = {k: v for k, v in vars(args).items() if k in fields}
    return TrainConfig(**{**options, **_data_kwargs(args)})


def _generate(args: argparse.Namespace) -> int:
    from torch_nri.datasets import get_system
    from torch_nri.io import check_output_dir
    from torch_nri.training import TrainConfig, dataset_options

    config = TrainConfig(**_data_kwargs(args), seed=args.seed, progress=True)
    # Named as typed: --out and --data-root set the same directory.
    check_output_dir(config.data_root, getattr(args, "data_root_flag", None) or "--data-root")
    dataset = get_system(config.system)(config.data_root, force_reload=args.force,
                                        **dataset_options(config))
    print(f"{config.system}: {config.num_train}/{config.num_valid}/{config.num_test} systems "
          f"of {config.num_nodes} objects, cached in {dataset.processed_dir}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from torch_nri.training import train

    config = _train_config(args)
    results = train(config, resume=args.resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, every rank has the same results
        _print_results(results)
        print(f"run saved in {config.out} (best.pt, last.pt, log.csv, *.png)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from torch_nri.datasets import MinMaxStats, TrajectoryDataset
    from torch_nri.training import TrainConfig, evaluate_run, trajectory_options

    config = TrainConfig.load(args.run_dir)
    test_set = None
    if args.data is not None:
        stats_path = os.path.join(args.run_dir, "stats.json")
        try:
            with open(stats_path) as f:
                stats = MinMaxStats.from_dict(json.load(f))
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise ValueError(f"{stats_path} (the run's normalisation, needed for --data) is "
                             f"missing or not readable: {_describe(error)}") from None
        test_set = TrajectoryDataset(args.data, stats=stats, **trajectory_options(config))
    results = evaluate_run(args.run_dir, config=config, test_set=test_set, device=args.device)
    if args.json:
        keys = ("accuracy", "f1", "mse", "auroc", "candidate_recall", "accuracy_per_step",
                "f1_per_step")
        print(json.dumps({key: results[key] for key in keys if key in results}))
    else:
        _print_results(results)
    return 0


def _print_results(results: dict) -> None:
    mse = results.get("mse", [])  # the supervised encoder predicts no paths
    steps = [s for s in (1, 10, 20) if s <= len(mse)]
    accuracy = results.get("accuracy")
    print(f"{'edge accuracy':<18}" + ("n/a" if accuracy is None else f"{100 * accuracy:.1f}%"))
    for key, label in (("f1", "edge F1"), ("candidate_recall", "candidate recall")):
        if results.get(key) is not None:
            print(f"{label:<18}{100 * results[key]:.1f}%")
    for s in steps:
        print(f"{f'MSE {s} step' + ('s' if s > 1 else ''):<18}{mse[s - 1]:.3e}")


def _baseline(args: argparse.Namespace) -> int:
    from torch_nri.baselines import PATH_BASELINES, check_baseline_options, run_baseline
    from torch_nri.io import atomic_write_text, check_output_dir
    from torch_nri.training import TrainConfig, build_datasets

    # Everything is checked before the data is simulated or a baseline fitted.
    options = dict(hidden=args.hidden, epochs=args.epochs, lr=args.lr, seed=args.seed,
                   max_seconds=args.max_seconds, observed_steps=args.observed_steps,
                   horizon=args.horizon, device=args.device)
    check_baseline_options(**options)
    config = TrainConfig(**_data_kwargs(args), seed=args.seed, progress=False,
                         observed_steps=args.observed_steps, horizon=args.horizon)
    if args.name in PATH_BASELINES:
        config.check_protocol()
    if args.out is not None:
        check_output_dir(args.out)
    results = run_baseline(args.name, build_datasets(config), **options)
    data = (os.path.basename(os.path.normpath(config.data)) if config.data is not None
            else f"{config.system}-{config.num_nodes}")
    name = f"{data} {args.name}"
    if "mse" in results:
        mse = results["mse"]
        steps = [s for s in (1, 10, 20) if s <= len(mse)]
        print(f"{name}: MSE {'/'.join(map(str, steps))} steps "
              f"{' / '.join(f'{mse[s - 1]:.2e}' for s in steps)}")
    else:
        print(f"{name}: test accuracy {100 * results['accuracy']:.1f}% "
              f"(threshold {results['threshold']:.3f}, absolute={results['absolute']})")
    if args.out is not None:
        atomic_write_text(json.dumps(results, indent=2), os.path.join(args.out, "results.json"))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from torch_nri.training.demo import run_demo

    overrides = {"device": args.device}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    run_demo(args.out, args.data_root, paper=args.paper, **overrides)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from torch_nri.baselines import BASELINES

    parser = _Parser(
        prog="torch-nri", description="Neural relational inference for PyTorch Geometric.")
    parser.add_argument("--version", action="version", version=f"torch-nri {__version__}")
    subparsers = parser.add_subparsers(dest="command")  # of the class _Parser too

    gen = subparsers.add_parser("generate", help="simulate a dataset and cache it")
    _add_data_options(gen, simulated_only=True)
    gen.add_argument("--out", dest="data_root", default=argparse.SUPPRESS, action=_StoreFlag,
                     help="the same as --data-root")
    gen.add_argument("--seed", type=int, default=42, help="seed of the data (default: 42)")
    gen.add_argument("--force", action="store_true", help="regenerate even if cached")

    train_parser = subparsers.add_parser("train", help="train NRI, NRI-MPM or a baseline "
                                         "(--model)")
    _add_train_options(train_parser)
    train_parser.add_argument("--resume", action="store_true",
                              help="continue the run in --out from its last checkpoint")

    eval_parser = subparsers.add_parser("evaluate", help="test a trained run")
    eval_parser.add_argument("run_dir")
    eval_parser.add_argument("--data", default=None,
                             help="raw trajectories .npz (x [samples, T, N, F], optional edges "
                                  "or edge_list), on the run's candidate graph")
    eval_parser.add_argument("--json", action="store_true", help="print one JSON object")


    base_parser = subparsers.add_parser("baseline", help="fit and test a baseline that is "
                                        "not an NRI model (see also train --model)")
    base_parser.add_argument("name", choices=BASELINES)
    _add_data_options(base_parser)
    base_parser.add_argument("--seed", type=int, default=42)
    base_parser.add_argument("--epochs", type=int, default=10, help="LSTM baselines: epochs")
    base_parser.add_argument("--max-seconds", type=float, default=None,
                             help="LSTM baselines: training time budget")
    base_parser.add_argument("--lr", type=float, default=None,
                             help="LSTM baselines: learning rate (default: 1e-3 for "
                                  "lstm-correlation, 5e-4 for the path LSTMs)")
    base_parser.add_argument("--hidden", type=int, default=256, help="LSTM baselines: size")
    base_parser.add_argument("--observed-steps", type=int, default=None,
                             help="path baselines: observed steps of the test protocol "
                                  "(default: the training length)")
    base_parser.add_argument("--horizon", type=int, default=20,
                             help="path baselines: predicted steps (default: 20)")
    base_parser.add_argument("--out", default=None, help="also write results.json here")

    demo_parser = subparsers.add_parser("demo", help="simulate springs, train NRI, evaluate")
    demo_parser.add_argument("--out", default="runs/demo")
    demo_parser.add_argument("--data-root", default="data")
    demo_parser.add_argument("--epochs", type=int, default=None)
    demo_parser.add_argument("--paper", action="store_true",
                             help="the NRI paper's setting (50k systems, hidden 256, 500 "
                                  "epochs, two free edge types: days on a CPU) instead of "
                                  "the demo's")
    for sub in (eval_parser, base_parser, demo_parser):
        sub.add_argument("--device", default="auto",
                         help="auto (CUDA when available), cpu, cuda or cuda:N (default: auto)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    r"""Runs the command line ``argv`` (default: ``sys.argv[1:]``) and
    returns its exit status: 0, or 2 after a one-line error on stderr."""
    parser = build_parser()
    handlers = {"generate": _generate, "train": _train, "evaluate": _evaluate,
                "baseline": _baseline, "demo": _demo}
    try:
        args, unknown = parser.parse_known_args(argv)
        prog = f"torch-nri {args.command}" if args.command else parser.prog
        if unknown:  # said by the subcommand, as its other usage errors are
            _fail(prog, f"unrecognized arguments: {' '.join(unknown)}")
        if args.command not in handlers:
            parser.print_help()
            return 0
        try:
            return handlers[args.command](args)
        except (ValueError, OSError) as error:  # bad values, files and directories
            _fail(prog, _describe(error))
    except SystemExit as exit:  # _fail, --help, --version
        return 0 if exit.code is None else exit.code
