import contextvars
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Dict, List, Optional, Tuple

from torch_nri._validation import check_int, check_real, check_skip_first
from torch_nri.datasets import SYSTEMS, get_system
from torch_nri.device import check_device_name
from torch_nri.graphs import CANDIDATE_GRAPHS, check_candidate_graph, check_position_features
from torch_nri.losses import check_prior
from torch_nri.nn.chunking import DEFAULT_CHECKPOINT_MEMORY
from torch_nri.nn.ri_encoder import INTER_SCOPES
from torch_nri.protocol import check_protocol
from torch_nri.training.registry import (DECODERS, ENCODERS, MODELS, part_options,
                                         resolve_decoder)
from torch_nri.training.run_dir import RunDirectory

PRECISIONS = ("fp32", "bf16", "fp16")
SEQUENCE_MODELS = ("gru", "attention")
#: The groups of the options (:func:`option`), in the order in which
#: ``torch-nri train --help`` shows them, and their titles there.
OPTION_GROUPS = {"data": "data",
                 "physics": "physics of the simulated systems (default: the simulator's)",
                 "model": "model", "device": "device, memory and speed",
                 "training": "training", "evaluation": "test protocol", "output": "output"}
# Set while a saved run's configuration is read: its parts need not be
# registered in this process (evaluating needs only the checkpoint).
_READING_RUN = contextvars.ContextVar("reading_run", default=False)
# The numeric fields and their smallest values, checked before any work: a
# wrong value fails here, not after simulating the data or training.
_INTEGERS = dict(num_nodes=2, num_train=1, num_valid=1, num_test=1, encoder_hidden=1,
                 decoder_hidden=1, num_edge_types=1, checkpoint_memory=1, epochs=1,
                 lr_decay=1, prediction_steps=1, seed=0, horizon=1)
_OPTIONAL_INTEGERS = dict(length=1, test_length=1, sample_freq=1, k=1, data_seed=0,
                          checkpoint_chunk_size=1, burn_in_steps=1, threads=1, observed_steps=1,
                          batch_size=1, warmup_epochs=1, train_segments=1)
# name: (low, high, low_open, high_open); None where the field may be None.
_REALS = dict(tau=(0, None, True, False), variance=(0, None, True, False),
              lr=(0, None, True, False), gamma=(0, 1, True, False))
_OPTIONAL_REALS = dict(dropout=(0, 1, False, True), max_seconds=(0, None, True, False),
                       graph_radius=(0, None, True, False),
                       symmetry_weight=(0, None, False, False),
                       tau_final=(0, None, True, False))
#: The NRI paper's settings (supplement D) of the fields whose default
#: depends on the model, its encoder or the system (:class:`TrainConfig`):
#: what a field takes where none of those sets it.
PAPER_DEFAULTS: Dict[str, Any] = dict(encoder="mlp", skip_first=False, prior=None,
                                      batch_size=128, dropout=0.0, symmetry_weight=0.0,
                                      decoder_sequence_model=None)
_STRINGS = ("system", "data_root", "graph", "model", "decoder", "sequence_model",
            "device", "precision", "out")


def option(default: Any = dataclasses.MISSING, *, help: str, group: str,
           choices: Optional[Collection[str]] = None, metavar: Optional[str] = None,
           simulated: bool = False,
           default_factory: Callable[[], Any] = dataclasses.MISSING) -> Any:
    r"""A field of :class:`TrainConfig` with what describes it as an option
    (its ``metadata``), from which ``torch-nri train`` builds its flag and
    :class:`TrainConfig` checks its value.

    Args:
        default: The field's default (or ``default_factory``, as for
            :func:`dataclasses.field`).
        help (str): What the option does, in a sentence: the flag's help.
        group (str): The group of options it belongs to, one of
            :data:`OPTION_GROUPS`.
        choices (collection of str, optional): The values it may take: a
            tuple, or a registry whose names are read when the value is
            checked (:func:`option_choices`). (default: :obj:`None`, any)
        metavar (str, optional): The name of one value in the flag's help.
            (default: the field's name)
        simulated (bool, optional): Whether it describes simulated data
            only, so that it does not apply to data of your own.
            (default: :obj:`False`)
    """
    if group not in OPTION_GROUPS:
        raise ValueError(f"'group' must be one of {tuple(OPTION_GROUPS)}, got {group!r}")
    return field(default=default, default_factory=default_factory,
                 metadata=dict(help=help, group=group, choices=choices, metavar=metavar,
                               simulated=simulated))


def options(group: Optional[str] = None) -> Tuple[dataclasses.Field, ...]:
    r"""The fields of :class:`TrainConfig`, in their order, or those of
    one ``group`` of :data:`OPTION_GROUPS`; each field's ``metadata`` is
    that of :func:`option`."""
    return tuple(f for f in dataclasses.fields(TrainConfig)
                 if group is None or f.metadata["group"] == group)


def option_choices(option_field: dataclasses.Field) -> Optional[Tuple[str, ...]]:
    r"""The values that the option of ``option_field`` may take now (the
    names of its registry, with those registered since), or :obj:`None`
    for an option with no fixed set."""
    choices = option_field.metadata["choices"]
    return None if choices is None else tuple(choices)


def _readers(readers) -> str:
    # ("mlp decoder", "rnn decoder", "st decoder", "ri encoder")
    # -> "the ri encoder and the mlp, rnn and st decoders"
    by_kind: Dict[str, List[str]] = {}
    for reader in readers:
        name, kind = reader.rsplit(" ", 1)
        by_kind.setdefault(kind, []).append(name)

    def listed(names: List[str]) -> str:
        return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]]))

    return " and ".join(f"the {listed(names)} {kind}{'s' if len(names) > 1 else ''}"
                        for kind, names in sorted(by_kind.items(), reverse=True))


@dataclass
class TrainConfig:
    r"""Everything that defines a training run. The defaults are the NRI
    paper's (supplement D): Adam with learning rate 5e-4 halved every 200
    epochs, batch 128, hidden size 256, :math:`\tau = 0.5`, soft samples in
    training, teacher forcing every 10 steps, 500 epochs, 50k/10k/10k
    systems. Where the model, its encoder or the simulated system comes
    with its own paper's settings, those are the defaults instead: the
    fields of :data:`PAPER_DEFAULTS` (``encoder``, ``skip_first``,
    ``prior``, ``batch_size``, ``dropout``, ``symmetry_weight``,
    ``decoder_sequence_model``) are :obj:`None` until the configuration is
    made, then take the first value set by the model
    (:attr:`ModelSpec.defaults <torch_nri.training.registry.ModelSpec>`),
    its encoder and its decoder (:attr:`Part.defaults
    <torch_nri.training.registry.Part>`), the system
    (:attr:`~torch_nri.datasets.SimulatedDataset.training_defaults`, not
    for data of your own) and the NRI paper, in that order: e.g. the CNN
    encoder on charged particles and Kuramoto (NRI supplement D.1), type 0
    as "no edge" on Kuramoto, the dNRI code's sparsity prior and batches of
    16 on proximity, NRI-MPM's symmetry prior with its encoder (and its
    Kuramoto decoder's attention), dropout 0.5 for the supervised
    encoder. ``config.json`` holds the values taken.
    ``encoder="ri"`` and ``decoder="st"`` are NRI-MPM's
    (:class:`~torch_nri.nn.RIEncoder`, :class:`~torch_nri.nn.STDecoder`, with
    ``sequence_model``, for the decoder ``decoder_sequence_model`` where it
    differs (NRI-MPM's Kuramoto decoder adds attention), the ablations
    ``intra`` and ``inter``, and ``inter_scope="neighbourhood"`` for large
    sparse candidate graphs);
    ``symmetry_weight`` and ``hard_symmetry`` its symmetry prior.
    ``device`` is ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or
    ``"cuda:N"`` (not Apple's ``"mps"``); ``compile`` runs the training and
    validation steps through :func:`torch.compile`; ``tf32`` lets CUDA
    multiply float32 matrices in TF32; ``deterministic`` runs with
    :func:`torch.use_deterministic_algorithms`, so that a seed repeats a
    CUDA run bit for bit (slower; CPU runs repeat without it).
    ``checkpoint``, ``checkpoint_chunk_size`` and ``checkpoint_memory``
    (bytes) are the memory options of the encoder and the decoder
    (:class:`~torch_nri.nn.MLPEncoder`, :class:`~torch_nri.nn.MLPDecoder`),
    ``skip_no_edges`` the decoder's;
    ``precision`` runs training and validation under :func:`torch.autocast`
    (``"bf16"``, or ``"fp16"`` with gradient scaling); the test evaluation
    stays in float32. ``model`` picks NRI or one of its baselines trained by
    the same loop: ``"supervised"`` (the encoder alone on the true relations,
    :class:`~torch_nri.models.SupervisedEncoder`), ``"full-graph"`` and
    ``"true-graph"`` (the decoder alone on a given graph,
    :class:`~torch_nri.models.FixedGraphModel`), and ``"dnri"``, a graph per
    time step with a learned prior (:class:`~torch_nri.models.DNRI`, with
    its own ``encoder="dnri"``, the default for it, and a decoder that
    takes a graph per step: ``"mlp"`` or ``"rnn"``); ``decoder="sim"`` is NRI
    (sim.), the springs simulator as decoder
    (:class:`~torch_nri.nn.SpringsSimulationDecoder`). ``max_seconds`` ends
    training after the first epoch that passes this much training time (a
    wall-time budget). ``data_seed`` (default: ``seed``) draws the data
    alone, so runs of several seeds can share one dataset.

    The data is a simulated ``system`` of the registry
    (:data:`torch_nri.datasets.SYSTEMS`) with ``num_nodes``, the split sizes,
    ``length``, ``test_length``, ``sample_freq`` (default: the system's) and
    ``physics`` (the simulator's physics parameters, e.g.
    ``{"num_neighbors": 10}``; default: the simulator's), cached under
    ``data_root`` exactly as ``torch-nri generate`` caches it (with
    ``fresh_systems``, every epoch after the first trains on as many new
    systems, :meth:`~torch_nri.datasets.SimulatedDataset.resimulated`); or, with
    ``data``, your own trajectories: a directory with ``train.npz``,
    ``valid.npz`` and ``test.npz``
    (:func:`~torch_nri.datasets.load_splits`). ``graph`` (``"full"``,
    ``"knn"`` or ``"radius"``) with ``k`` or ``graph_radius`` chooses the
    candidate graph of either, found on the positions: ``position_features``,
    the indices of the features that are coordinates (default: not
    declared, features 0 and 1; a simulated system's must be its
    ``"position"`` feature group). Declared, they also make every encoder and
    decoder translation invariant: they see each pair's relative position
    and no absolute one (:class:`~torch_nri.nn.NRIMessagePassing`: a
    deviation from the papers, whose boxes have walls fixed in space; on
    their springs it trains better all the same and the demo uses it, on
    their charges it does not, :doc:`/fidelity`). ``observed_steps`` is
    the encoder's window in the test protocol (:mod:`torch_nri.protocol`;
    default: the training trajectories' length, the papers' 49), recorded
    in the run's ``config.json`` when training starts.

    Every field is a ``torch-nri train`` option (``num_nodes`` is
    ``--num-nodes``; a physics parameter is its own option, e.g.
    ``--num-neighbors 10``), described by its metadata (:func:`option`:
    its help, choices and group, :func:`options`)."""
    system: str = option(
        "springs", group="data", choices=SYSTEMS, simulated=True,
        help="the simulated system: springs, charged particles, Kuramoto oscillators or "
             "proximity (particles that push each other when close; relations that change "
             "over time)")
    num_nodes: int = option(5, group="data", simulated=True,
                            help="objects in each simulated system")
    num_train: int = option(50000, group="data", simulated=True,
                            help="simulated systems in the training split")
    num_valid: int = option(10000, group="data", simulated=True,
                            help="simulated systems in the validation split")
    num_test: int = option(10000, group="data", simulated=True,
                           help="simulated systems in the test split")
    length: Optional[int] = option(
        None, group="data", simulated=True,
        help="integration steps of train/valid systems (default: the system's, T = 49)")
    test_length: Optional[int] = option(
        None, group="data", simulated=True,
        help="integration steps of test systems (default: the system's, T = 99)")
    sample_freq: Optional[int] = option(
        None, group="data", simulated=True,
        help="integration steps between samples (default: the system's)")
    physics: Dict[str, Any] = option(
        default_factory=dict, group="physics",
        help="the simulator's physics parameters, e.g. {'num_neighbors': 10}, each its own "
             "option of the command line (default: the simulator's)")
    data_root: str = option(
        "data", group="data", simulated=True,
        help="root directory of the simulated datasets' cache, where each dataset is "
             "simulated once and read by later runs")
    fresh_systems: bool = option(
        False, group="data", simulated=True,
        help="train on new systems every epoch: after the first, each epoch simulates "
             "--num-train systems anew (its own seed, in memory, normalised as the cached "
             "split), so that no system is seen twice; the simulation counts in the epoch's "
             "time")
    data: Optional[str] = option(
        None, group="data",
        help="your own trajectories instead of a simulated system: a directory with "
             "train.npz, valid.npz and test.npz (x [samples, T, N, F]; optional relations: "
             "integer edges [samples, N, N] or [samples, T, N, N], or an edge_list of rows "
             "(sample, [step,] sender, receiver, type)) (default: none, the simulated --system)")
    graph: str = option(
        "full", group="data", choices=CANDIDATE_GRAPHS,
        help="candidate graph of each system: full, knn (the --k nearest neighbours) or "
             "radius (every pair within --graph-radius), of the positions at the first step "
             "(at every step where the relations change over time)")
    k: Optional[int] = option(
        None, group="data",
        help="neighbours of each receiver in the knn candidate graph (--graph knn)")
    graph_radius: Optional[float] = option(
        None, group="data",
        help="distance within which two objects are candidates in the radius graph "
             "(--graph radius), in the units of the positions (raw, before scaling)")
    position_features: Optional[List[int]] = option(
        None, group="data", metavar="INDEX",
        help="indices of the features that are coordinates, e.g. 0 1: every encoder and "
             "decoder then sees relative positions only (translation invariant; measured "
             "better on the walled springs, not on charges), and the knn and radius graphs "
             "and the plots of large systems use them; a simulated system's must be its "
             "positions (none: not declared, absolute inputs, graphs on features 0 and 1)")
    data_seed: Optional[int] = option(
        None, group="data", simulated=True,
        help="seed that draws the data alone, so that runs of several seeds can share one "
             "dataset (default: --seed)")
    model: str = option(
        "nri", group="model", choices=MODELS,
        help="what to train: nri, dnri (a graph per step with a learned prior), supervised "
             "(the encoder alone, on the true relations), full-graph or true-graph (the "
             "decoder alone, on the fully connected or the true graph)")
    encoder: Optional[str] = option(
        None, group="model", choices=ENCODERS,
        help=f"encoder that infers the edge types: one of {', '.join(ENCODERS)} (default: "
             f"dnri for --model dnri, else the system's: cnn for charged and kuramoto, "
             f"else mlp)")
    decoder: str = option(
        "mlp", group="model",
        help=f"decoder that predicts the trajectories: one of {', '.join(DECODERS)} (sim: the "
             f"springs simulator), or package.module:Class of an NRIDecoder of your own")
    encoder_hidden: int = option(256, group="model",
                                 help="hidden size of the encoder's layers")
    decoder_hidden: int = option(256, group="model",
                                 help="hidden size of the decoder's layers and messages")
    num_edge_types: int = option(
        2, group="model",
        help="number of edge types K that the model infers, the type no edge included where "
             "--skip-first")
    skip_first: Optional[bool] = option(
        None, group="model",
        help="edge type 0 means no edge: it passes no messages in the decoder (default: the "
             "system's: on for kuramoto and proximity, else off; off for --model full-graph)")
    prior: Optional[List[float]] = option(
        None, group="model",
        help="prior probability of each edge type in the KL term, one per type, e.g. 0.91 "
             "0.03 0.03 0.03 (default: the system's: 0.9 for type 0 and the rest shared for "
             "proximity, else uniform)")
    factor: bool = option(
        True, group="model",
        help="the mlp and cnn encoders' second pass from edges to nodes and back (the "
             "paper's factor graph); --no-factor for the encoder without it")
    sequence_model: str = option(
        "gru", group="model", choices=SEQUENCE_MODELS,
        help="sequence model of the ri encoder and the st decoder: gru, or attention "
             "(exactly equivariant self-attention)")
    decoder_sequence_model: Optional[str] = option(
        None, group="model", choices=SEQUENCE_MODELS,
        help="sequence model of the st decoder where it differs from the ri encoder's "
             "(default: attention on kuramoto, NRI-MPM's, else --sequence-model)")
    intra: bool = option(
        True, group="model",
        help="the ri encoder's intra-edge interaction over each receiver's incoming edges; "
             "--no-intra for the ablation without it")
    inter: bool = option(
        True, group="model",
        help="the ri encoder's inter-edge interaction over the receivers of each graph (or "
             "neighbourhood, --inter-scope); --no-inter for the ablation without it")
    inter_scope: str = option(
        "graph", group="model", choices=INTER_SCOPES,
        help="the ri encoder's inter-edge sets: each graph's nodes (the paper's) or each "
             "receiver's senders and itself (large sparse graphs)")
    batch_norm: bool = option(
        True, group="model",
        help="batch normalisation in the encoder's MLPs (mlp, ri and dnri encoders)")
    dropout: Optional[float] = option(
        None, group="model",
        help="dropout probability of the encoder and the decoder (default: the model's "
             "paper value, 0.5 for --model supervised, else 0)")
    tau: float = option(
        0.5, group="model",
        help="temperature of the Gumbel-softmax samples of the edge types")
    tau_final: Optional[float] = option(
        None, group="model",
        help="anneal the temperature geometrically from --tau in the first epoch to this in "
             "the last (--epochs) (default: none, --tau throughout)")
    hard: bool = option(
        False, group="model",
        help="hard (one-hot, straight-through) samples of the edge types in training instead "
             "of soft ones")
    variance: float = option(
        5e-5, group="model",
        help="fixed variance of the Gaussian likelihood of the predicted trajectories")
    symmetry_weight: Optional[float] = option(
        None, group="model",
        help="weight of NRI-MPM's soft symmetry prior in the loss, which pulls the types of "
             "i to j and j to i together (default: that paper's with --encoder ri and --model "
             "nri, 100, on kuramoto 1 for up to 5 objects and 1000 above; else 0)")
    hard_symmetry: bool = option(
        False, group="model",
        help="the edges i to j and j to i both take the logits and the sample of the one "
             "from the lower node index (NRI-MPM's hard symmetry)")
    device: str = option(
        "auto", group="device",
        help="device that trains and tests the model: auto (CUDA when available), cpu, cuda "
             "or cuda:N")
    compile: bool = option(
        False, group="device",
        help="run the training and validation steps through torch.compile")
    tf32: bool = option(
        False, group="device",
        help="let CUDA multiply float32 matrices in TF32 (faster, less precise)")
    deterministic: bool = option(
        False, group="device",
        help="deterministic algorithms only, so that a seed repeats a CUDA run bit for bit "
             "(slower; CPU runs repeat without it)")
    checkpoint: bool = option(
        False, group="device",
        help="recompute the per-edge activations in the backward pass instead of keeping "
             "them: less memory for large graphs, more time")
    checkpoint_chunk_size: Optional[int] = option(
        None, group="device",
        help="with --checkpoint, the number of edges recomputed at once (default: chosen from "
             "--checkpoint-memory)")
    checkpoint_memory: int = option(
        DEFAULT_CHECKPOINT_MEMORY, group="device",
        help="with --checkpoint and no --checkpoint-chunk-size: the bytes of per-edge tensors "
             "per chunk, which sets the chunk size")
    skip_no_edges: bool = option(
        False, group="device",
        help="the mlp and rnn decoders skip the edges that pass no messages (weight zero on "
             "every message type, as with --skip-first and hard samples)")
    precision: str = option(
        "fp32", group="device", choices=PRECISIONS,
        help="precision of training and validation: fp32, bf16 (autocast) or fp16 (autocast "
             "with gradient scaling); the test stays in float32")
    epochs: int = option(500, group="training", help="passes over the training set")
    max_seconds: Optional[float] = option(
        None, group="training",
        help="time budget in seconds: training ends after the first epoch that passes it "
             "(default: no budget)")
    batch_size: Optional[int] = option(
        None, group="training",
        help="systems in each training batch (default: the system's: 16 for proximity, else "
             "128)")
    lr: float = option(5e-4, group="training", help="learning rate of the Adam optimiser")
    lr_decay: int = option(200, group="training",
                           help="epochs between two decays of the learning rate")
    gamma: float = option(0.5, group="training",
                          help="factor of each decay of the learning rate, in (0, 1]")
    warmup_epochs: Optional[int] = option(
        None, group="training",
        help="raise the learning rate linearly to --lr over this many first epochs (default: "
             "none, --lr from the start)")
    prediction_steps: int = option(
        10, group="training",
        help="the decoder is fed the true state every this many steps in training and its "
             "own predictions in between (M, 10 in the paper)")
    train_segments: Optional[int] = option(
        None, group="training",
        help="the decoder's loss in training on this many segments of --prediction-steps "
             "steps from random starts per batch, instead of on every step (cheaper steps; "
             "decoders fed the ground truth every --prediction-steps; default: every step)")
    burn_in_steps: Optional[int] = option(
        None, group="training",
        help="feed the decoder the true states of this many first steps in training and its "
             "own predictions after, instead of --prediction-steps (default: the decoder's "
             "way; the rnn decoder burns in on all but the last --prediction-steps)")
    seed: int = option(
        42, group="training",
        help="seed of the training (initialisation, shuffling, sampling) and, unless "
             "--data-seed, of the data")
    threads: Optional[int] = option(
        None, group="training",
        help="CPU threads of torch (default: torch's own choice)")
    observed_steps: Optional[int] = option(
        None, group="evaluation",
        help="steps that the test protocol shows the model before it forecasts (default: "
             "the training trajectories' length)")
    horizon: int = option(
        20, group="evaluation",
        help="steps that the test protocol forecasts after the observed ones, on the "
             "model's own predictions")
    dynamic_graph: bool = option(
        False, group="evaluation",
        help="re-infer the graph at every forecast step of the test, from the decoder's own "
             "inputs")
    out: str = option(
        "runs/nri", group="output",
        help="directory of the run: config.json, best.pt, last.pt, log.csv, results.json and "
             "the plots")
    progress: bool = option(
        True, group="output",
        help="progress bars of the epochs and batches; --no-progress for logs and batch jobs")

    def __post_init__(self) -> None:
        self._check_values()
        self._check_choices()
        self._resolve_defaults()
        known_parts = self.encoder in ENCODERS and self._decoder_known()
        if not (known_parts or _READING_RUN.get()):
            raise ValueError(
                f"'encoder' must be one of {tuple(ENCODERS)}, got {self.encoder!r}"
                if self.encoder not in ENCODERS else
                f"'decoder' must be one of {tuple(DECODERS)} or 'module:Class' of a "
                f"torch_nri.nn.NRIDecoder, got {self.decoder!r}")
        checks = [
            (self.tau_final is None or MODELS[self.model].samples_edge_types,
             f"'tau_final' anneals the temperature of the sampled edge types; "
             f"model={self.model!r} samples none"),
            (self.train_segments is None or self.decoder not in DECODERS or (
                MODELS[self.model].uses_decoder and self.burn_in_steps is None
                and getattr(DECODERS[self.decoder].cls, "feeding", None) == "teacher_forcing"),
             f"'train_segments' rolls out segments of a decoder fed the ground truth every "
             f"'prediction_steps'; " + (
                 f"model={self.model!r} has no decoder" if not MODELS[self.model].uses_decoder
                 else f"burn_in_steps={self.burn_in_steps} feeds it by burn-in"
                 if self.burn_in_steps is not None
                 else f"decoder={self.decoder!r} is fed by burn-in")),
            (not self.dynamic_graph or MODELS[self.model].infers_graph,
             f"'dynamic_graph' re-infers the graph with the encoder; model={self.model!r} "
             f"infers no graph to decode with"),
            (self.data is None or not self.physics,
             f"'physics' describes simulated systems; the data of this run is your own "
             f"(data={self.data!r}), got physics={self.physics}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        # The form only: whether this machine has it is checked where training starts.
        check_device_name(self.device)
        check_skip_first(self.skip_first, self.num_edge_types)
        if self.prior is not None:
            self.prior = check_prior(self.prior, self.num_edge_types)
        system = get_system(self.system)
        if self.data is None:
            system.check_graph(self.graph, self.k, self.graph_radius, self.position_features)
            system.num_steps(self.length, self.sample_freq)  # lengths it can sample
            system.num_steps(self.test_length, self.sample_freq, test=True)
        else:
            check_candidate_graph(self.graph, self.k, self.graph_radius)
            self._check_own_data()  # position features against F: where the files are read
        if self.data is None:
            self.physics = {name: value for name, value in self.physics.items()
                            if value is not None}
            system.resolve_physics(self.physics)  # unknown names and bad values
        if MODELS[self.model].check is not None:
            MODELS[self.model].check(self)
        if not known_parts:
            return  # a saved run with parts of another process: nothing more to check
        self._check_part_options()
        for part in (ENCODERS[self.encoder], DECODERS[self.decoder]):
            if part.check is not None:
                part.check(self)

    def _resolve_defaults(self) -> None:
        # Each field of PAPER_DEFAULTS left None takes the first value that
        # the model, its encoder, its decoder, the system (simulated data
        # only) or the NRI paper sets, in that order; the encoder first, as
        # its own defaults follow from it. In a saved run, a None that means
        # something stays (prior: uniform; decoder_sequence_model: the
        # encoder's): the run may predate the defaults that would replace it.
        system = get_system(self.system).training_defaults if self.data is None else {}
        decoder = DECODERS[self.decoder].defaults if self.decoder in DECODERS else {}
        for name in PAPER_DEFAULTS:
            saved_none = _READING_RUN.get() and name in ("prior", "decoder_sequence_model")
            if getattr(self, name) is not None or saved_none:
                continue
            encoder = ENCODERS[self.encoder].defaults if self.encoder in ENCODERS else {}
            for layer in (MODELS[self.model].defaults, encoder, decoder, system,
                          PAPER_DEFAULTS):
                if name in layer:
                    value = layer[name]
                    setattr(self, name, value(self) if callable(value) else value)
                    break

    def _check_values(self) -> None:
        # Types and ranges of the plain fields, NaN and inf included. Numbers
        # of other types (numpy's) are stored as Python int and float, which
        # config.json can hold.
        for name, low in {**_INTEGERS, **_OPTIONAL_INTEGERS}.items():
            value = getattr(self, name)
            check_int(value, name, low, optional=name in _OPTIONAL_INTEGERS)
            setattr(self, name, None if value is None else int(value))
        for name, bounds in {**_REALS, **_OPTIONAL_REALS}.items():
            value = getattr(self, name)
            check_real(value, name, *bounds, optional=name in _OPTIONAL_REALS)
            setattr(self, name, None if value is None else float(value))
        for name in _STRINGS:
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"'{name}' must be a string, got {getattr(self, name)!r}")
        for name in ("data", "encoder", "decoder_sequence_model"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"'{name}' must be a string or None, got "
                                 f"{getattr(self, name)!r}")
        check_position_features(self.position_features)
        if self.position_features is not None:
            self.position_features = [int(index) for index in self.position_features]
        if not isinstance(self.physics, dict):
            raise ValueError(f"'physics' must be a dict of physics parameters, got "
                             f"{self.physics!r}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type is Optional[bool] and value is not None and not isinstance(value, bool):
                raise ValueError(f"'{f.name}' must be True, False or None (its default), got "
                                 f"{value!r}")
            if f.type is bool and not isinstance(value, bool):
                raise ValueError(f"'{f.name}' must be True or False, got {value!r}")

    def _check_choices(self) -> None:
        # The options with choices (option_choices), but the encoder: checked
        # with the decoder, as a saved run's may be of another process.
        for f in options():
            allowed, value = option_choices(f), getattr(self, f.name)
            if allowed is None or f.name == "encoder" or (value is None and f.default is None):
                continue
            if value not in allowed:
                optional = " (or None, its default)" if f.default is None else ""
                raise ValueError(f"'{f.name}' must be one of {allowed}{optional}, got "
                                 f"{value!r}")

    def check_protocol(self) -> None:
        r"""Raises unless the simulated test split will hold the steps of
        the test protocol (``observed_steps`` and ``horizon``): checked by
        :func:`~torch_nri.training.train` before it simulates or trains
        anything. Your own data (``data``) is checked when it is read."""
        if self.data is not None:
            return
        system = get_system(self.system)
        train_steps = system.num_steps(self.length, self.sample_freq)
        test_steps = system.num_steps(self.test_length, self.sample_freq, test=True)
        check_protocol(test_steps, self.observed_steps or train_steps, self.horizon,
                       source=f"the {self.system} test split (test_length="
                              f"{self.test_length or system.default_test_length}, "
                              f"sample_freq={self.sample_freq or system.default_sample_freq})")

    def _decoder_known(self) -> bool:
        try:
            return resolve_decoder(self.decoder)
        except ValueError:
            if _READING_RUN.get():
                return False
            raise

    def _check_own_data(self) -> None:
        given = [f"{f.name}={getattr(self, f.name)!r}" for f in options("data")
                 if f.metadata["simulated"] and getattr(self, f.name) != f.default]
        if given:
            raise ValueError(f"{', '.join(given)} describe simulated data; the data of this "
                             f"run is your own (data={self.data!r}), whose files say it all")

    def _check_part_options(self) -> None:
        # An option that only some encoders or decoders read must be read by this run's.
        defaults = TrainConfig.__dataclass_fields__
        used = ENCODERS[self.encoder].options + DECODERS[self.decoder].options
        for name, readers in part_options().items():
            value = getattr(self, name)
            if name not in used and value != defaults[name].default:
                raise ValueError(f"'{name}={value!r}' is an option of {_readers(readers)}, "
                                 f"not of encoder={self.encoder!r} and "
                                 f"decoder={self.decoder!r}")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def load(cls, run_dir: str) -> "TrainConfig":
        r"""The configuration of the run in ``run_dir`` (its ``config.json``,
        :meth:`~torch_nri.training.RunDirectory.read_config`).
        An encoder or decoder that was registered in the process that trained
        the run need not be registered here: evaluating needs only the
        checkpoint, which names the class."""
        saved = RunDirectory(run_dir).read_config()
        token = _READING_RUN.set(True)
        try:
            return cls.from_dict(saved)
        finally:
            _READING_RUN.reset(token)
