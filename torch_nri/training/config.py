import contextvars
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from torch_nri._validation import check_int, check_real, check_skip_first
from torch_nri.datasets import get_system
from torch_nri.device import check_device_name
from torch_nri.graphs import check_candidate_graph, check_position_features
from torch_nri.losses import check_prior
from torch_nri.nn.chunking import DEFAULT_CHECKPOINT_MEMORY
from torch_nri.nn.ri_encoder import INTER_SCOPES
from torch_nri.protocol import check_protocol
from torch_nri.training.registry import (DECODERS, ENCODERS, MODELS, part_options,
                                         resolve_decoder)
from torch_nri.training.run_dir import RunDirectory

PRECISIONS = ("fp32", "bf16", "fp16")
SEQUENCE_MODELS = ("gru", "attention")
# The options of simulated data, which do not apply to data of your own.
SIMULATED_DATA_OPTIONS = ("system", "num_nodes", "num_train", "num_valid", "num_test",
                          "length", "test_length", "sample_freq", "data_root", "data_seed")
# Set while a saved run's configuration is read: its parts need not be
# registered in this process (evaluating needs only the checkpoint).
_READING_RUN = contextvars.ContextVar("reading_run", default=False)
# The numeric fields and their smallest values, checked before any work: a
# wrong value fails here, not after simulating the data or training.
_INTEGERS = dict(num_nodes=2, num_train=1, num_valid=1, num_test=1, encoder_hidden=1,
                 decoder_hidden=1, num_edge_types=1, checkpoint_memory=1, epochs=1,
                 batch_size=1, lr_decay=1, prediction_steps=1, seed=0, horizon=1)
_OPTIONAL_INTEGERS = dict(length=1, test_length=1, sample_freq=1, k=1, data_seed=0,
                          checkpoint_chunk_size=1, burn_in_steps=1, threads=1, observed_steps=1)
# name: (low, high, low_open, high_open); None where the field may be None.
_REALS = dict(tau=(0, None, True, False), variance=(0, None, True, False),
              symmetry_weight=(0, None, False, False), lr=(0, None, True, False),
              gamma=(0, 1, True, False))
_OPTIONAL_REALS = dict(dropout=(0, 1, False, True), max_seconds=(0, None, True, False),
                       graph_radius=(0, None, True, False))
_STRINGS = ("system", "data_root", "graph", "model", "decoder", "sequence_model",
            "device", "precision", "out")


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
    systems. ``encoder="ri"`` and ``decoder="st"`` are NRI-MPM's
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
    ``data_root`` exactly as ``torch-nri generate`` caches it; or, with
    ``data``, your own trajectories: a directory with ``train.npz``,
    ``valid.npz`` and ``test.npz``
    (:func:`~torch_nri.datasets.load_splits`). ``graph`` (``"full"``,
    ``"knn"`` or ``"radius"``) with ``k`` or ``graph_radius`` chooses the
    candidate graph of either, found on the positions: ``position_features``,
    the indices of the features that are coordinates (default: not
    declared, features 0 and 1; a simulated system's must be its
    ``"position"`` feature group). Declared, they also make every encoder and
    decoder translation invariant: they see each pair's relative position
    and no absolute one (:class:`~torch_nri.nn.NRIMessagePassing`; keep it
    off where walls fixed in space shape the physics, as in the papers'
    springs and charges). ``observed_steps`` is the encoder's window in
    the test protocol (:mod:`torch_nri.protocol`; default: the training
    trajectories' length, the papers' 49), recorded in the run's
    ``config.json`` when training starts.

    Every field is a ``torch-nri train`` option (``num_nodes`` is
    ``--num-nodes``; a physics parameter is its own option, e.g.
    ``--num-neighbors 10``)."""
    # data
    system: str = "springs"
    num_nodes: int = 5
    num_train: int = 50000
    num_valid: int = 10000
    num_test: int = 10000
    length: Optional[int] = None
    test_length: Optional[int] = None
    sample_freq: Optional[int] = None
    physics: Dict[str, Any] = field(default_factory=dict)
    data_root: str = "data"
    data: Optional[str] = None
    graph: str = "full"
    k: Optional[int] = None
    graph_radius: Optional[float] = None
    position_features: Optional[List[int]] = None
    data_seed: Optional[int] = None
    # model
    model: str = "nri"
    encoder: Optional[str] = None
    decoder: str = "mlp"
    encoder_hidden: int = 256
    decoder_hidden: int = 256
    num_edge_types: int = 2
    skip_first: bool = False
    prior: Optional[List[float]] = None
    factor: bool = True
    sequence_model: str = "gru"
    decoder_sequence_model: Optional[str] = None
    intra: bool = True
    inter: bool = True
    inter_scope: str = "graph"
    batch_norm: bool = True
    dropout: Optional[float] = None
    tau: float = 0.5
    hard: bool = False
    variance: float = 5e-5
    symmetry_weight: float = 0.0
    hard_symmetry: bool = False
    # device, memory and speed
    device: str = "auto"
    compile: bool = False
    tf32: bool = False
    deterministic: bool = False
    checkpoint: bool = False
    checkpoint_chunk_size: Optional[int] = None
    checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY
    skip_no_edges: bool = False
    precision: str = "fp32"
    # optimisation
    epochs: int = 500
    max_seconds: Optional[float] = None
    batch_size: int = 128
    lr: float = 5e-4
    lr_decay: int = 200
    gamma: float = 0.5
    prediction_steps: int = 10
    burn_in_steps: Optional[int] = None
    seed: int = 42
    threads: Optional[int] = None
    # evaluation
    observed_steps: Optional[int] = None
    horizon: int = 20
    dynamic_graph: bool = False
    # output
    out: str = "runs/nri"
    progress: bool = True

    def __post_init__(self) -> None:
        self._check_values()
        if self.dropout is None and self.model in MODELS:
            self.dropout = MODELS[self.model].dropout  # the paper's, per model
        if self.encoder is None:
            self.encoder = MODELS[self.model].encoder if self.model in MODELS else "mlp"
        known_parts = self.encoder in ENCODERS and self._decoder_known()
        checks = [
            (known_parts or _READING_RUN.get(),
             f"'encoder' must be one of {tuple(ENCODERS)}, got {self.encoder!r}"
             if self.encoder not in ENCODERS else
             f"'decoder' must be one of {tuple(DECODERS)} or 'module:Class' of a "
             f"torch_nri.nn.NRIDecoder, got {self.decoder!r}"),
            (self.model in MODELS, f"'model' must be one of {tuple(MODELS)}, got "
             f"{self.model!r}"),
            (self.sequence_model in SEQUENCE_MODELS, f"'sequence_model' must be one of "
             f"{SEQUENCE_MODELS}, got {self.sequence_model!r}"),
            (self.inter_scope in INTER_SCOPES, f"'inter_scope' must be one of "
             f"{INTER_SCOPES}, got {self.inter_scope!r}"),
            (self.decoder_sequence_model in (None, *SEQUENCE_MODELS),
             f"'decoder_sequence_model' must be one of {SEQUENCE_MODELS} (or None: "
             f"'sequence_model'), got {self.decoder_sequence_model!r}"),
            (self.precision in PRECISIONS, f"'precision' must be one of {PRECISIONS}, got "
             f"{self.precision!r}"),
            (not self.dynamic_graph or self.model not in MODELS
             or MODELS[self.model].infers_graph,
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
            if f.type is bool and not isinstance(getattr(self, f.name), bool):
                raise ValueError(f"'{f.name}' must be True or False, got "
                                 f"{getattr(self, f.name)!r}")

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
        defaults = TrainConfig.__dataclass_fields__
        given = [f"{name}={getattr(self, name)!r}" for name in SIMULATED_DATA_OPTIONS
                 if getattr(self, name) != defaults[name].default]
        if given:
            raise ValueError(f"{', '.join(given)} describe simulated data; the data of this "
                             f"run is your own (data={self.data!r}), whose files say it all")

    def _check_part_options(self) -> None:
        # An option that only some encoders or decoders read must be read by this run's.
        defaults = TrainConfig.__dataclass_fields__
        used = ENCODERS[self.encoder].options + DECODERS[self.decoder].options
        for option, readers in part_options().items():
            value = getattr(self, option)
            if option not in used and value != defaults[option].default:
                raise ValueError(f"'{option}={value!r}' is an option of {_readers(readers)}, "
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
