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
from torch_nri.io import describe_error

# The data options, shared by generate, train and baseline so that the same
# flags describe the same data (and the same cache) everywhere.
DATA_FIELDS = ("system", "num_nodes", "num_train", "num_valid", "num_test", "length",
               "test_length", "sample_freq", "data_root", "data", "graph", "k", "graph_radius",
               "position_features", "data_seed")
_HELP = {
    "system": "the simulated system: springs, charged particles, Kuramoto oscillators or "
              "proximity (particles that push each other when close; relations that change "
              "over time)",
    "num_nodes": "objects in each simulated system",
    "num_train": "simulated systems in the training split",
    "num_valid": "simulated systems in the validation split",
    "num_test": "simulated systems in the test split",
    "length": "integration steps of train/valid systems (default: the system's, T = 49)",
    "test_length": "integration steps of test systems (default: the system's, T = 99)",
    "sample_freq": "integration steps between samples (default: the system's)",
    "data_root": "root directory of the simulated datasets' cache, where each dataset is "
                 "simulated once and read by later runs",
    "data": "your own trajectories instead of a simulated system: a directory with "
            "train.npz, valid.npz and test.npz (x [samples, T, N, F]; optional relations: "
            "integer edges [samples, N, N] or [samples, T, N, N], or an edge_list of rows "
            "(sample, [step,] sender, receiver, type)) (default: none, the simulated --system)",
    "graph": "candidate graph of each system: full, knn (the --k nearest neighbours) or "
             "radius (every pair within --graph-radius), of the positions at the first step "
             "(at every step where the relations change over time)",
    "k": "neighbours of each receiver in the knn candidate graph (--graph knn)",
    "graph_radius": "distance within which two objects are candidates in the radius graph "
                    "(--graph radius), in the units of the positions (raw, before scaling)",
    "position_features": "indices of the features that are coordinates, e.g. 0 1: every "
                         "encoder and decoder then sees relative positions only "
                         "(translation invariant; keep it off for systems with walls), and "
                         "the knn and radius graphs and the plots of large systems use "
                         "them; a simulated system's must be its positions (none: not "
                         "declared, absolute inputs, graphs on features 0 and 1)",
    "data_seed": "seed that draws the data alone, so that runs of several seeds can share "
                 "one dataset (default: --seed)",
}

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
                        help=help if help and "(default:" in help
                        else f"{help + ' ' if help else ''}(default: {value})")


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
                else dict(type=parameter.type, nargs="+" if parameter.sequence else None,
                          metavar=name.upper()))
        text = _PHYSICS_HELP.get(name, "a physics parameter of the simulator")
        physics.add_argument(_flag(name), dest=f"physics:{name}", default=None,
                             help=f"{text} (systems: {', '.join(systems)})", **kind)


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
    helps = {"model": "what to train: nri, dnri (a graph per step with a learned prior), "
                      "supervised (the encoder alone, on the true relations), full-graph or "
                      "true-graph (the decoder alone, on the fully connected or the true "
                      "graph)",
             "decoder": f"decoder that predicts the trajectories: one of {', '.join(DECODERS)} "
                        f"(sim: the springs simulator), or package.module:Class of an "
                        f"NRIDecoder of your own",
             "encoder": f"encoder that infers the edge types: one of {', '.join(ENCODERS)} "
                        f"(default: the model's, dnri for --model dnri, else mlp)",
             "encoder_hidden": "hidden size of the encoder's layers",
             "decoder_hidden": "hidden size of the decoder's layers and messages",
             "num_edge_types": "number of edge types K that the model infers, the type "
                               "no edge included where --skip-first",
             "skip_first": "edge type 0 means no edge: it passes no messages in the decoder",
             "factor": "the mlp and cnn encoders' second pass from edges to nodes and back "
                       "(the paper's factor graph); --no-factor for the encoder without it",
             "sequence_model": "sequence model of the ri encoder and the st decoder: gru, or "
                               "attention (exactly equivariant self-attention)",
             "decoder_sequence_model": "sequence model of the st decoder where it differs "
                                       "from the ri encoder's (default: --sequence-model)",
             "intra": "the ri encoder's intra-edge interaction over each receiver's incoming "
                      "edges; --no-intra for the ablation without it",
             "inter": "the ri encoder's inter-edge interaction over the receivers of each "
                      "graph (or neighbourhood, --inter-scope); --no-inter for the ablation "
                      "without it",
             "batch_norm": "batch normalisation in the encoder's MLPs (mlp, ri and dnri "
                           "encoders)",
             "tau": "temperature of the Gumbel-softmax samples of the edge types",
             "hard": "hard (one-hot, straight-through) samples of the edge types in training "
                     "instead of soft ones",
             "variance": "fixed variance of the Gaussian likelihood of the predicted "
                         "trajectories",
             "symmetry_weight": "weight of NRI-MPM's soft symmetry prior in the loss, which "
                                "pulls the types of i to j and j to i together (100 in that "
                                "paper)",
             "hard_symmetry": "the edges i to j and j to i both take the logits and the sample "
                              "of the one from the lower node index (NRI-MPM's hard "
                              "symmetry)",
             "checkpoint": "recompute the per-edge activations in the backward pass instead of "
                           "keeping them: less memory for large graphs, more time",
             "checkpoint_chunk_size": "with --checkpoint, the number of edges recomputed at "
                                      "once (default: chosen from --checkpoint-memory)",
             "skip_no_edges": "the mlp and rnn decoders skip the edges that pass no messages "
                              "(weight zero on every message type, as with --skip-first and "
                              "hard samples)",
             "precision": "precision of training and validation: fp32, bf16 (autocast) or fp16 "
                          "(autocast with gradient scaling); the test stays in float32",
             "epochs": "passes over the training set",
             "max_seconds": "time budget in seconds: training ends after the first epoch that "
                            "passes it (default: no budget)",
             "batch_size": "systems in each training batch",
             "lr": "learning rate of the Adam optimiser",
             "lr_decay": "epochs between two decays of the learning rate",
             "gamma": "factor of each decay of the learning rate, in (0, 1]",
             "prediction_steps": "the decoder is fed the true state every this many steps in "
                                 "training and its own predictions in between (M, 10 in the "
                                 "paper)",
             "burn_in_steps": "feed the decoder the true states of this many first steps in "
                              "training and its own predictions after, instead of "
                              "--prediction-steps (default: the decoder's way; the rnn "
                              "decoder burns in on all but the last --prediction-steps)",
             "seed": "seed of the training (initialisation, shuffling, sampling) and, unless "
                     "--data-seed, of the data",
             "threads": "CPU threads of torch (default: torch's own choice)",
             "observed_steps": "steps that the test protocol shows the model before it "
                               "forecasts (default: the training trajectories' length)",
             "horizon": "steps that the test protocol forecasts after the observed ones, "
                        "on the model's own predictions",
             "dynamic_graph": "re-infer the graph at every forecast step of the test, from the "
                              "decoder's own inputs",
             "out": "directory of the run: config.json, best.pt, last.pt, log.csv, "
                    "results.json and the plots",
             "device": "device that trains and tests the model: auto (CUDA when available), "
                       "cpu, cuda or cuda:N",
             "compile": "run the training and validation steps through torch.compile",
             "tf32": "let CUDA multiply float32 matrices in TF32 (faster, less precise)",
             "deterministic": "deterministic algorithms only, so that a seed repeats a CUDA "
                              "run bit for bit (slower; CPU runs repeat without it)",
             "inter_scope": "the ri encoder's inter-edge sets: each graph's nodes (the "
                            "paper's) or each receiver's senders and itself (large sparse "
                            "graphs)",
             "checkpoint_memory": "with --checkpoint and no --checkpoint-chunk-size: the bytes "
                                  "of per-edge tensors per chunk, which sets the chunk size",
             "dropout": "dropout probability of the encoder and the decoder (default: the "
                        "model's paper value, 0.5 for --model supervised, else 0)"}
    _add_data_options(parser)
    unresolved = {"dropout": None, "encoder": None}  # resolved per model in the config
    for field, value in {**TrainConfig().to_dict(), **unresolved}.items():
        if field in DATA_FIELDS or field == "physics":
            continue
        if field == "progress":
            parser.add_argument("--no-progress", dest="progress", action="store_false",
                                help="show no progress bars (for logs and batch jobs)")
        elif field == "prior":
            parser.add_argument(_flag(field), type=float, nargs="+", default=None,
                                help="prior probability of each edge type in the KL term, one "
                                     "per type, e.g. 0.91 0.03 0.03 0.03 (default: uniform)")
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

    parser = _Parser(
        prog="torch-nri", description="Neural relational inference for PyTorch Geometric.")
    parser.add_argument("--version", action="version", version=f"torch-nri {__version__}")
    subparsers = parser.add_subparsers(dest="command")  # of the class _Parser too

    gen = subparsers.add_parser("generate", help="simulate a dataset and cache it")
    _add_data_options(gen, simulated_only=True)
    gen.add_argument("--out", dest="data_root", default=argparse.SUPPRESS, action=_StoreFlag,
                     help="root directory of the cache: the same as --data-root")
    gen.add_argument("--seed", type=int, default=42,
                     help="seed of the data, as train's --seed draws it unless --data-seed "
                          "(default: 42)")
    gen.add_argument("--force", action="store_true",
                     help="simulate the dataset again even if it is cached")

    train_parser = subparsers.add_parser("train", help="train NRI, NRI-MPM or a baseline "
                                         "(--model)")
    _add_train_options(train_parser)
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
    _add_data_options(base_parser)
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
