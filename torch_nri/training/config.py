import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

SYSTEM_FEATURES = {"springs": 4, "charged": 4, "kuramoto": 3}
PRECISIONS = ("fp32", "bf16", "fp16")
ENCODERS = ("mlp", "cnn", "ri")
DECODERS = ("mlp", "rnn", "st", "sim")
MODELS = ("nri", "supervised", "full-graph", "true-graph")
SEQUENCE_MODELS = ("gru", "attention")


@dataclass
class TrainConfig:
    r"""Everything that defines a training run. The defaults are the NRI
    paper's (supplement D): Adam with learning rate 5e-4 halved every 200
    epochs, batch 128, hidden size 256, :math:`\tau = 0.5`, soft samples in
    training, teacher forcing every 10 steps, 500 epochs, 50k/10k/10k
    systems. ``encoder="ri"`` and ``decoder="st"`` are NRI-MPM's
    (:class:`~torch_nri.nn.RIEncoder`, :class:`~torch_nri.nn.STDecoder`, with
    ``sequence_model``, and the ablations ``intra`` and ``inter``);
    ``symmetry_weight`` and ``hard_symmetry`` its symmetry prior.
    ``checkpoint``, ``checkpoint_chunk_size`` and ``skip_no_edges``
    are the decoder's memory options (:class:`~torch_nri.nn.MLPDecoder`);
    ``precision`` runs training and validation under :func:`torch.autocast`
    (``"bf16"``, or ``"fp16"`` with gradient scaling); the test evaluation
    stays in float32. ``model`` picks NRI or one of its baselines trained by
    the same loop: ``"supervised"`` (the encoder alone on the true relations,
    :class:`~torch_nri.models.SupervisedEncoder`), ``"full-graph"`` and
    ``"true-graph"`` (the decoder alone on a given graph,
    :class:`~torch_nri.models.FixedGraphModel`); ``decoder="sim"`` is NRI
    (sim.), the springs simulator as decoder
    (:class:`~torch_nri.nn.SpringsSimulationDecoder`). ``max_seconds`` ends
    training after the first epoch that passes this much training time (a
    wall-time budget). ``data_seed`` (default: ``seed``) draws the data
    alone, so runs of several seeds can share one dataset. Every field is a
    ``torch-nri train`` option (``num_nodes`` is ``--num-nodes``)."""
    # data
    system: str = "springs"
    num_nodes: int = 5
    num_train: int = 50000
    num_valid: int = 10000
    num_test: int = 10000
    data_root: str = "data"
    graph: str = "full"
    k: Optional[int] = None
    data_seed: Optional[int] = None
    # model
    model: str = "nri"
    encoder: str = "mlp"
    decoder: str = "mlp"
    encoder_hidden: int = 256
    decoder_hidden: int = 256
    num_edge_types: int = 2
    skip_first: bool = False
    prior: Optional[List[float]] = None
    factor: bool = True
    sequence_model: str = "gru"
    intra: bool = True
    inter: bool = True
    batch_norm: bool = True
    dropout: float = 0.0
    tau: float = 0.5
    hard: bool = False
    variance: float = 5e-5
    symmetry_weight: float = 0.0
    hard_symmetry: bool = False
    # memory and speed (large N)
    checkpoint: bool = False
    checkpoint_chunk_size: Optional[int] = None
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
    horizon: int = 20
    dynamic_graph: bool = False
    # output
    out: str = "runs/nri"
    progress: bool = True

    def __post_init__(self) -> None:
        checks = [
            (self.system in SYSTEM_FEATURES, f"'system' must be one of "
             f"{sorted(SYSTEM_FEATURES)}, got {self.system!r}"),
            (self.encoder in ENCODERS, f"'encoder' must be one of {ENCODERS}, got "
             f"{self.encoder!r}"),
            (self.decoder in DECODERS, f"'decoder' must be one of {DECODERS}, got "
             f"{self.decoder!r}"),
            (self.model in MODELS, f"'model' must be one of {MODELS}, got {self.model!r}"),
            (self.decoder != "sim" or self.system == "springs",
             f"decoder='sim' is the springs simulator; the system is {self.system!r}"),
            (self.decoder != "sim" or self.num_edge_types == 2,
             f"decoder='sim' has two edge types (no spring, spring), got num_edge_types="
             f"{self.num_edge_types}"),
            (self.model != "full-graph" or not self.skip_first,
             "the full graph has one edge type, which must pass messages: 'skip_first' "
             "cannot be set with model='full-graph'"),
            (self.max_seconds is None or self.max_seconds > 0,
             f"'max_seconds' must be positive, got {self.max_seconds}"),
            (self.sequence_model in SEQUENCE_MODELS, f"'sequence_model' must be one of "
             f"{SEQUENCE_MODELS}, got {self.sequence_model!r}"),
            (self.decoder != "st" or not (self.checkpoint or self.skip_no_edges),
             "'checkpoint' and 'skip_no_edges' are options of the mlp and rnn decoders, "
             "not of decoder='st'"),
            (self.batch_norm or self.encoder in ("mlp", "ri"),
             "'batch_norm=False' is an option of the mlp and ri encoders"),
            (self.symmetry_weight >= 0, f"'symmetry_weight' must be non-negative, got "
             f"{self.symmetry_weight}"),
            (self.precision in PRECISIONS, f"'precision' must be one of {PRECISIONS}, got "
             f"{self.precision!r}"),
            (self.epochs >= 1, f"'epochs' must be at least 1, got {self.epochs}"),
            (self.batch_size >= 1, f"'batch_size' must be at least 1, got {self.batch_size}"),
            (self.lr > 0, f"'lr' must be positive, got {self.lr}"),
            (self.prior is None or len(self.prior) == self.num_edge_types,
             f"'prior' needs one probability per edge type ({self.num_edge_types}), "
             f"got {self.prior}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def num_features(self) -> int:
        return SYSTEM_FEATURES[self.system]

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
