"""The ``torch-nri`` console command (also ``python -m torch_nri``).

Every error of every subcommand, a usage error of argparse or a bad value,
file or directory found later, takes one path (:func:`_fail`): one line
``torch-nri CMD: error: MESSAGE`` on stderr and exit status 2, no traceback.
Options are checked (:class:`~torch_nri.training.TrainConfig`) before any
data is simulated or any model trained."""
import argparse
import dataclasses
import json
import os
import sys
import typing
from typing import Any, Dict, List, NoReturn, Optional, Tuple, Union

from torch_nri import __version__
from torch_nri.datasets import SYSTEMS, physics_parameters
from torch_nri.io import describe_error

# The groups of the data options, shared by generate, train and baseline so
# that the same flags describe the same data (and the same cache) everywhere.
DATA_GROUPS = ("data", "physics")


# The physics parameters of the simulators, each an option of the data
# (the systems that read it are added to the help).
_PHYSICS_HELP = {
    "spring_types": "relative spring constant of each edge type, type 0 being no spring "
                    "(0), e.g. 0 0.5 1 for three types",
    "spring_probs": "probability of each spring type, one per --spring-types value "
                    "(default: uniform)",
    "interaction_strength": "scale of the interactions: the factor of the spring constants, "
                            "or the Coulomb constant of the charges",
    "box_size": "half-width of the square box whose walls the objects bounce off",
    "loc_std": "standard deviation of the objects' Gaussian start positions",
    "vel_norm": "initial speed of every object, in a random direction",
    "dt": "integration time step of the simulator",
    "num_neighbors": "springs only between each object and this many of its nearest "
                     "neighbours at the start, for large sparse systems (default: all pairs)",
    "density": "objects per unit area of a uniform start in a square, instead of the "
               "Gaussian start (the gas layout of proximity systems)",
    "walls": "elastic walls at plus and minus --box-size; --no-walls for free space",
    "charge_prob": "probability that a particle's charge is positive",
    "cutoff": "distance beyond which charges do not interact, found with a Verlet list "
              "(default: all pairs interact)",
    "skin": "margin of the Verlet list beyond --cutoff, in units of distance",
    "edge_prob": "probability that two oscillators are coupled",
    "coupling_strength": "coupling constant k of the coupled pairs of oscillators",
    "omega_range": "range LOW HIGH of the oscillators' intrinsic frequencies",
    "features": "the model's inputs: authors (the NRI code's scaled phase velocity, sine of "
                "the phase and scaled frequency) or analytic",
    "scale_length": "with --features authors, the integration steps over whose samples each "
                    "oscillator's phase velocity is scaled",
    "layout": "start layout of the proximity particles: auto, crossing or gas",
    "radius": "distance within which two proximity particles push each other",
    "push": "strength c of the push between two close proximity particles",
}



def _fail(prog: str, message: str) -> NoReturn:
    # The one error path: one line, whatever the message, and exit status 2.
    sys.stderr.write(f"{prog}: error: {' '.join(str(message).split())}\n")
    raise SystemExit(2)


class _StoreFlag(argparse.Action):
    # A store that also records the flag given (dest + "_flag"), for an
    # error about a value that two flags set (generate's --out, --data-root):
    # the store of every TrainConfig option.
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_flag", option_string)


class _Parser(argparse.ArgumentParser):
    # argparse's usage errors, without the usage lines, through _fail.
    def error(self, message: str) -> NoReturn:
        _fail(self.prog, message)


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _add_option(parser: argparse.ArgumentParser, option: dataclasses.Field) -> None:
    # One TrainConfig field as a flag, from its metadata (config.option): a
    # bool as a flag pair (--x / --no-x), any other of the type its annotation
    # names (a list: one or more values).
    from torch_nri.training.config import option_choices

    help, default = option.metadata["help"], option.default
    kind, nargs = _value_type(option.type)
    if kind is bool:
        parser.add_argument(_flag(option.name), action=argparse.BooleanOptionalAction,
                            default=default, help=help)
        return
    parser.add_argument(_flag(option.name), type=kind, default=default,
                        choices=option_choices(option), action=_StoreFlag, nargs=nargs,
                        metavar=option.metadata["metavar"],
                        help=help if "(default:" in help else f"{help} (default: {default})")


def _value_type(annotation: Any) -> Tuple[type, Optional[str]]:
    # The type of a field's values (Optional[X]: X) and the nargs of a list
    # (List[X]: one or more X).
    if typing.get_origin(annotation) is Union:
        annotation, = (arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0], "+"
    return annotation, None


def _add_config_options(parser: argparse.ArgumentParser, groups: Tuple[str, ...],
                        simulated_only: bool = False) -> None:
    # The TrainConfig options of ``groups``, an argument group each in the
    # order of OPTION_GROUPS; the physics group holds the simulators'
    # parameters, each a flag. simulated_only: `generate SYSTEM`, the system
    # positional and no --data.
    from torch_nri.training.config import OPTION_GROUPS, option_choices, options

    for group, title in OPTION_GROUPS.items():
        if group not in groups:
            continue
        arguments = parser.add_argument_group(title)
        if group == "physics":  # TrainConfig.physics: a flag per physics parameter
            _add_physics_options(arguments)
            continue
        for option in options(group):
            if simulated_only and option.name == "system":
                arguments.add_argument("system", choices=option_choices(option),
                                       help=option.metadata["help"])
            elif not (simulated_only and option.name == "data"):
                _add_option(arguments, option)


def _add_physics_options(group: argparse._ArgumentGroup) -> None:
    # A flag for each physics parameter of the simulators: TrainConfig.physics.
    for name, parameter in physics_parameters().items():
        systems = [system for system, cls in SYSTEMS.items()
                   if name in cls.physics_parameters()]
        # A flag pair --walls / --no-walls for a boolean (type=bool reads "False" as True).
        kind = (dict(action=argparse.BooleanOptionalAction) if parameter.type is bool
                else dict(type=parameter.type, nargs="+" if parameter.sequence else None,
                          metavar=name.upper()))
        text = _PHYSICS_HELP.get(name, "a physics parameter of the simulator")
        group.add_argument(_flag(name), dest=f"physics:{name}", default=None,
                           help=f"{text} (systems: {', '.join(systems)})", **kind)


def _data_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    from torch_nri.training.config import options

    values = vars(args)
    kwargs = {option.name: values[option.name] for option in options("data")
              if option.name in values}
    kwargs["physics"] = {key.split(":", 1)[1]: value for key, value in values.items()
                         if key.startswith("physics:") and value is not None}
    return kwargs


def _train_config(args: argparse.Namespace):
    from torch_nri.training import TrainConfig
    from torch_nri.training.config import options

    values = vars(args)
    given = {option.name: values[option.name] for option in options()
             if option.name in values}
    return TrainConfig(**{**given, **_data_kwargs(args)})


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
    from torch_nri.training import TrainConfig, evaluate_run, run_dataset

    config = TrainConfig.load(args.run_dir)
    test_set = None if args.data is None else run_dataset(args.run_dir, args.data, config)
    results = evaluate_run(args.run_dir, config=config, test_set=test_set, device=args.device,
                           shared=args.shared)
    if args.json:
        keys = ("accuracy", "f1", "mse", "auroc", "candidate_recall", "accuracy_per_step",
                "f1_per_step", *SHARED_KEYS)
        print(json.dumps({key: results[key] for key in keys if key in results}))
    else:
        _print_results(results)
    return 0


# What `evaluate --shared` adds to the results.
SHARED_KEYS = ("shared_accuracy", "shared_f1", "shared_auroc", "shared_labels_differ")


def _infer(args: argparse.Namespace) -> int:
    from torch_nri.training import TrainConfig, infer_graph, plot_inferred_graph, run_dataset
    from torch_nri.training.inference import check_sample, graph_format

    graph_format(args.out)  # before any work
    config = TrainConfig.load(args.run_dir)
    data = run_dataset(args.run_dir, args.data, config)
    if args.plot:
        check_sample(args.sample, data)
    graph = infer_graph(args.run_dir, data, shared=args.shared, undirected=args.undirected,
                        device=args.device)
    graph.save(args.out)
    systems = f"{graph.num_samples} system{'s' if graph.num_samples != 1 else ''}"
    what = f"the mean of {systems}" if graph.shared else systems
    print(f"{graph.probs.size(0)} edges ({what}, {graph.num_edge_types} edge types) written "
          f"to {args.out}")
    if args.plot:
        path = os.path.splitext(args.out)[0] + ".png"
        plot_inferred_graph(graph, data, path, sample=args.sample)
        print(f"plot of system {args.sample} saved in {path}")
    return 0


def _print_results(results: dict) -> None:
    mse = results.get("mse", [])  # the supervised encoder predicts no paths
    steps = [s for s in (1, 10, 20) if s <= len(mse)]
    accuracy = results.get("accuracy")
    print(f"{'edge accuracy':<18}" + ("n/a" if accuracy is None else f"{100 * accuracy:.1f}%"))
    for key, label in (("f1", "edge F1"), ("candidate_recall", "candidate recall"),
                       ("shared_accuracy", "shared accuracy"), ("shared_f1", "shared F1")):
        if results.get(key) is not None:
            print(f"{label:<18}{100 * results[key]:.1f}%")
    if results.get("shared_auroc") is not None:
        print(f"{'shared AUROC':<18}{results['shared_auroc']:.3f}")
    if results.get("shared_labels_differ"):
        print("the systems' true relations differ: the shared graph is scored against each "
              "system's")
    for s in steps:
        print(f"{f'MSE {s} step' + ('s' if s > 1 else ''):<18}{mse[s - 1]:.3e}")


def _baseline(args: argparse.Namespace) -> int:
    from torch_nri.baselines import PATH_BASELINES, check_baseline_options, run_baseline
    from torch_nri.io import check_output_dir
    from torch_nri.training import RunDirectory, TrainConfig, build_datasets

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
        RunDirectory(args.out).write_results(results)
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
    from torch_nri.training.config import OPTION_GROUPS

    parser = _Parser(
        prog="torch-nri", description="Neural relational inference for PyTorch Geometric.")
    parser.add_argument("--version", action="version", version=f"torch-nri {__version__}")
    subparsers = parser.add_subparsers(dest="command")  # of the class _Parser too

    gen = subparsers.add_parser("generate", help="simulate a dataset and cache it")
    _add_config_options(gen, DATA_GROUPS, simulated_only=True)
    gen.add_argument("--out", dest="data_root", default=argparse.SUPPRESS, action=_StoreFlag,
                     help="root directory of the cache: the same as --data-root")
    gen.add_argument("--seed", type=int, default=42,
                     help="seed of the data, as train's --seed draws it unless --data-seed "
                          "(default: 42)")
    gen.add_argument("--force", action="store_true",
                     help="simulate the dataset again even if it is cached")

    train_parser = subparsers.add_parser("train", help="train NRI, NRI-MPM or a baseline "
                                         "(--model)")
    _add_config_options(train_parser, tuple(OPTION_GROUPS))
    train_parser.add_argument("--resume", action="store_true",
                              help="continue the run in --out from its last checkpoint")

    eval_parser = subparsers.add_parser("evaluate", help="test a trained run")
    eval_parser.add_argument("run_dir", help="directory of a run of torch-nri train (its "
                                             "config.json and best.pt)")
    eval_parser.add_argument("--data", default=None,
                             help="test the run on these raw trajectories instead of its own "
                                  "test split: an .npz with x [samples, T, N, F] and optional "
                                  "edges or edge_list, on the run's candidate graph")
    eval_parser.add_argument("--json", action="store_true",
                             help="print the results as one JSON object instead of a table")
    eval_parser.add_argument("--shared", action="store_true",
                             help="also score the systems' mean graph (every system must have "
                                  "the same candidate graph) against their relations")

    infer_parser = subparsers.add_parser("infer", help="write the inferred graph: every "
                                         "candidate edge's type probabilities")
    infer_parser.add_argument("run_dir", help="the run directory (its config.json, stats.json "
                                              "and best.pt)")
    infer_parser.add_argument("--data", required=True,
                              help="raw trajectories .npz (x [samples, T, N, F]; relations are "
                                   "not needed), read on the run's candidate graph from the "
                                   "steps that evaluate's encoder reads")
    infer_parser.add_argument("--out", required=True,
                              help="the graph file, .npz or .csv (the extension chooses the "
                                   "format): one row per candidate edge of each system (and "
                                   "step, for dnri)")
    infer_parser.add_argument("--shared", action="store_true",
                              help="write the mean over the systems of each edge's "
                                   "probabilities, without a sample column (every system "
                                   "must have the same candidate graph)")
    infer_parser.add_argument("--undirected", action="store_true",
                              help="also write each edge's probabilities averaged with its "
                                   "reverse edge's (probs_undirected; p0_undirected, ... in a "
                                   "CSV)")
    infer_parser.add_argument("--plot", action="store_true",
                              help="also draw the graph of one system over its positions and "
                                   "as a heat-map, into the --out path with .png")
    infer_parser.add_argument("--sample", type=int, default=0,
                              help="the system that --plot draws (default: 0)")


    base_parser = subparsers.add_parser("baseline", help="fit and test a baseline that is "
                                        "not an NRI model (see also train --model)")
    base_parser.add_argument("name", choices=BASELINES,
                             help="the baseline: correlation or lstm-correlation (edge "
                                  "recovery), static, lstm-single or lstm-joint (path "
                                  "prediction)")
    _add_config_options(base_parser, DATA_GROUPS)
    base_parser.add_argument("--seed", type=int, default=42,
                             help="seed of the LSTMs' initialisation and shuffling and, unless "
                                  "--data-seed, of the data (default: 42)")
    base_parser.add_argument("--epochs", type=int, default=10,
                             help="LSTM baselines: passes over the training set (default: 10)")
    base_parser.add_argument("--max-seconds", type=float, default=None,
                             help="LSTM baselines: training time budget in seconds (default: "
                                  "no budget)")
    base_parser.add_argument("--lr", type=float, default=None,
                             help="LSTM baselines: learning rate (default: 1e-3 for "
                                  "lstm-correlation, 5e-4 for the path LSTMs)")
    base_parser.add_argument("--hidden", type=int, default=256,
                             help="LSTM baselines: hidden size of the LSTMs (default: 256)")
    base_parser.add_argument("--observed-steps", type=int, default=None,
                             help="path baselines: steps that the test protocol shows before "
                                  "it predicts (default: the training length)")
    base_parser.add_argument("--horizon", type=int, default=20,
                             help="path baselines: steps predicted after the observed ones "
                                  "(default: 20)")
    base_parser.add_argument("--out", default=None,
                             help="also write the results to results.json in this directory")

    demo_parser = subparsers.add_parser("demo", help="simulate springs, train NRI, evaluate")
    demo_parser.add_argument("--out", default="runs/demo",
                             help="directory of the demo's run: checkpoints, log, results and "
                                  "plots (default: runs/demo)")
    demo_parser.add_argument("--data-root", default="data",
                             help="root directory of the simulated datasets' cache (default: "
                                  "data)")
    demo_parser.add_argument("--epochs", type=int, default=None,
                             help="passes over the training set (default: the demo's 60, or "
                                  "the paper's 500 with --paper)")
    demo_parser.add_argument("--paper", action="store_true",
                             help="the NRI paper's setting (50k systems, hidden 256, 500 "
                                  "epochs, two free edge types: days on a CPU) instead of "
                                  "the demo's")
    for sub in (eval_parser, infer_parser, base_parser, demo_parser):
        sub.add_argument("--device", default="auto",
                         help="device that runs the models: auto (CUDA when available), cpu, "
                              "cuda or cuda:N (default: auto)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    r"""Runs the command line ``argv`` (default: ``sys.argv[1:]``) and
    returns its exit status: 0, or 2 after a one-line error on stderr."""
    parser = build_parser()
    handlers = {"generate": _generate, "train": _train, "evaluate": _evaluate,
                "infer": _infer, "baseline": _baseline, "demo": _demo}
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
            _fail(prog, describe_error(error))
    except SystemExit as exit:  # _fail, --help, --version
        return 0 if exit.code is None else exit.code
