r"""The encoders and decoders that :func:`~torch_nri.training.train` can
build, by the names of :class:`~torch_nri.training.TrainConfig`
(``encoder="mlp"``, ``decoder="st"``, ...): each entry says which layer class
it is, how its arguments follow from the configuration and the data, and
which configuration options it reads. A decoder or encoder of your own is one
:func:`register_decoder` or :func:`register_encoder` call; the training loop
and the test protocol never name a layer class.
"""
import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from torch_nri.datasets import SpringsDataset, get_system
from torch_nri.models.base import layer_name
from torch_nri.nn import (CNNBlock, CNNEncoder, DNRIEncoder, MLPDecoder, MLPEncoder, NRIDecoder,
                          RIEncoder, RNNDecoder, SpringsSimulationDecoder, STDecoder)

# (config, training dataset, number of edge types) -> the layer's keyword arguments.
KwargsFn = Callable[[Any, Any, int], Dict[str, Any]]


@dataclass(frozen=True)
class Part:
    r"""A registered encoder or decoder.

    Attributes:
        cls (type): The layer class.
        kwargs (callable): ``kwargs(config, train_set, num_edge_types)``, the
            constructor's arguments for a :class:`TrainConfig` and the
            training dataset (its ``num_features``, its first item's number
            of steps, its ``stats``).
        options (tuple of str): The :class:`TrainConfig` fields that only
            some parts read and this one does; such a field set away from
            its default for a run whose parts do not read it is an error.
        fixed_window (bool): Whether the layer takes trajectories of one
            length only (it flattens the steps), so that the test protocol
            must show it as many steps as training did.
        min_window (int): The fewest steps the layer reads.
        check (callable, optional): ``check(config)`` raises a
            :class:`ValueError` for a configuration the part cannot serve.
        defaults (dict, optional): Defaults of :class:`TrainConfig` fields
            that the part's paper sets, e.g. NRI-MPM's symmetry prior for its
            encoder; a value may be a function of the configuration.
            (default: none)
    """
    cls: type
    kwargs: KwargsFn
    options: Tuple[str, ...] = ()
    fixed_window: bool = False
    min_window: int = 1
    check: Optional[Callable[[Any], None]] = None
    defaults: Mapping[str, Any] = field(default_factory=dict)


def _num_steps(train_set: Any) -> int:
    return train_set[0].x.size(1)


def _mlp_encoder(config, train_set, num_edge_types):
    return dict(in_channels=_num_steps(train_set) * train_set.num_features,
                hidden_channels=config.encoder_hidden, num_edge_types=num_edge_types,
                factor=config.factor, dropout=config.dropout, batch_norm=config.batch_norm,
                **_checkpointing(config))


def _cnn_encoder(config, train_set, num_edge_types):
    return dict(in_channels=train_set.num_features, hidden_channels=config.encoder_hidden,
                num_edge_types=num_edge_types, factor=config.factor, dropout=config.dropout,
                position_features=config.position_features)


def _ri_encoder(config, train_set, num_edge_types):
    return dict(in_channels=_num_steps(train_set) * train_set.num_features,
                hidden_channels=config.encoder_hidden, num_edge_types=num_edge_types,
                sequence_model=config.sequence_model, intra=config.intra, inter=config.inter,
                inter_scope=config.inter_scope, dropout=config.dropout,
                batch_norm=config.batch_norm, **_checkpointing(config))


def _checkpointing(config) -> Dict[str, Any]:
    # The memory options, and the declared positions that every layer but the
    # simulator takes.
    return dict(checkpoint=config.checkpoint, checkpoint_chunk_size=config.checkpoint_chunk_size,
                checkpoint_memory=config.checkpoint_memory,
                position_features=config.position_features)


def _dnri_encoder(config, train_set, num_edge_types):
    return dict(in_channels=train_set.num_features, hidden_channels=config.encoder_hidden,
                num_edge_types=num_edge_types, dropout=config.dropout,
                batch_norm=config.batch_norm, **_checkpointing(config))


def _memory(config) -> Dict[str, Any]:
    return dict(**_checkpointing(config), skip_no_edges=config.skip_no_edges)


def _mlp_decoder(config, train_set, num_edge_types):
    hidden = config.decoder_hidden
    return dict(in_channels=train_set.num_features, num_edge_types=num_edge_types,
                msg_hidden_channels=hidden, msg_out_channels=hidden, hidden_channels=hidden,
                skip_first=config.skip_first, dropout=config.dropout, **_memory(config))


def _rnn_decoder(config, train_set, num_edge_types):
    return dict(in_channels=train_set.num_features, num_edge_types=num_edge_types,
                hidden_channels=config.decoder_hidden, skip_first=config.skip_first,
                dropout=config.dropout, **_memory(config))


def _st_decoder(config, train_set, num_edge_types):
    return dict(in_channels=train_set.num_features, num_edge_types=num_edge_types,
                hidden_channels=config.decoder_hidden,
                sequence_model=config.decoder_sequence_model or config.sequence_model,
                skip_first=config.skip_first, dropout=config.dropout, **_checkpointing(config))


def _simulation_decoder(config, train_set, num_edge_types):
    # The data's own physics, in physical units (SpringsDataset's properties).
    return dict(**SpringsSimulationDecoder.ranges_of(train_set.stats),
                spring_constants=train_set.spring_constants, box_size=train_set.box_size,
                time_step=train_set.time_step)


def _check_simulation(config) -> None:
    system = get_system(config.system)
    if config.data is not None or not issubclass(system, SpringsDataset):
        source = f"data={config.data!r}" if config.data is not None else config.system
        raise ValueError(f"decoder='sim' is the springs simulator; it needs the simulated "
                         f"springs data, not {source}")
    spring_types = system.resolve_physics(config.physics)["spring_types"]
    if config.position_features is not None:
        raise ValueError(f"decoder='sim' is the springs simulator, which reads absolute "
                         f"positions (its walls are fixed in space); 'position_features' "
                         f"(relative positions for the learned layers) does not apply, got "
                         f"{config.position_features}")
    if config.num_edge_types != len(spring_types):
        raise ValueError(f"decoder='sim' has one edge type per spring type of the data "
                         f"({len(spring_types)}: spring_types={spring_types}), got "
                         f"num_edge_types={config.num_edge_types}")


_CHECKPOINTING = ("checkpoint", "checkpoint_chunk_size", "checkpoint_memory")
_MEMORY = _CHECKPOINTING + ("skip_no_edges",)

def _on_kuramoto(config) -> bool:
    return config.data is None and config.system == "kuramoto"


def _nri_mpm_symmetry_weight(config) -> float:
    # NRI-MPM appendix E: lambda = 100, but 1 (5 objects) and 1000 (10) on Kuramoto.
    if _on_kuramoto(config):
        return 1.0 if config.num_nodes <= 5 else 1000.0
    return 100.0


def _nri_mpm_decoder_sequence_model(config) -> Optional[str]:
    # NRI-MPM appendix E: attention in the decoder on Kuramoto (GRUs elsewhere:
    # None, the encoder's --sequence-model).
    return "attention" if _on_kuramoto(config) else None


ENCODERS: Dict[str, Part] = {
    "mlp": Part(MLPEncoder, _mlp_encoder, ("factor", "batch_norm") + _CHECKPOINTING,
                fixed_window=True),
    "cnn": Part(CNNEncoder, _cnn_encoder, ("factor",), min_window=CNNBlock.min_steps),
    "ri": Part(RIEncoder, _ri_encoder, ("batch_norm", "sequence_model", "intra", "inter",
                                        "inter_scope") + _CHECKPOINTING, fixed_window=True,
               defaults={"symmetry_weight": _nri_mpm_symmetry_weight}),
    # A graph per step, with its learned prior: the encoder of model="dnri" only.
    "dnri": Part(DNRIEncoder, _dnri_encoder, ("batch_norm",) + _CHECKPOINTING, min_window=2),
}

DECODERS: Dict[str, Part] = {
    "mlp": Part(MLPDecoder, _mlp_decoder, _MEMORY),
    "rnn": Part(RNNDecoder, _rnn_decoder, _MEMORY),
    "st": Part(STDecoder, _st_decoder,
               ("sequence_model", "decoder_sequence_model") + _CHECKPOINTING,
               defaults={"decoder_sequence_model": _nri_mpm_decoder_sequence_model}),
    "sim": Part(SpringsSimulationDecoder, _simulation_decoder, check=_check_simulation),
}


#: The TrainConfig fields that only some encoders or decoders read (their
#: ``options``); every other field is read by the loop or by every part.
PART_OPTIONS = frozenset(option for table in (ENCODERS, DECODERS)
                         for part in table.values() for option in part.options)


def _standard_kwargs(cls: type) -> KwargsFn:
    # The arguments of the usual names that the class's constructor takes.
    accepted = inspect.signature(cls).parameters

    def kwargs(config, train_set, num_edge_types):
        values = dict(in_channels=train_set.num_features, num_edge_types=num_edge_types,
                      hidden_channels=config.decoder_hidden, skip_first=config.skip_first,
                      dropout=config.dropout, position_features=config.position_features)
        if config.position_features is not None and "position_features" not in accepted:
            raise ValueError(f"the decoder {cls.__name__} takes no 'position_features', got "
                             f"{config.position_features}")
        return {name: value for name, value in values.items() if name in accepted}

    return kwargs


def _register(table: Dict[str, Part], kind: str, name: str, part: Part) -> None:
    if table.get(name, part).cls is not part.cls and name in _BUILT_IN[kind]:
        raise ValueError(f"{name!r} is a built-in {kind}; register yours under another name")
    unknown = sorted(set(part.options) - PART_OPTIONS)
    if unknown:
        raise ValueError(f"the options of a {kind} must be among the part-specific "
                         f"TrainConfig fields {sorted(PART_OPTIONS)}, got {unknown}")
    if part.cls.__module__ == "__main__":
        warnings.warn(f"{part.cls.__name__} is defined in __main__: its checkpoints name it "
                      f"{layer_name(part.cls)!r}, which no other process can import; define it "
                      f"in a module to load them elsewhere", stacklevel=3)
    table[name] = part


def register_decoder(name: str, cls: type, kwargs: Optional[KwargsFn] = None,
                     options: Tuple[str, ...] = ()) -> type:
    r"""Makes a decoder of your own (a subclass of
    :class:`~torch_nri.nn.NRIDecoder`) available as
    ``TrainConfig(decoder=name)``. Without ``kwargs``, it is built with those
    of ``in_channels``, ``num_edge_types``, ``hidden_channels``
    (``config.decoder_hidden``), ``skip_first`` and ``dropout`` that its
    constructor takes. ``options`` are the part-specific fields of
    :class:`~torch_nri.training.TrainConfig` it reads (:data:`PART_OPTIONS`).
    A decoder named by its import path, ``decoder="package.module:MyDecoder"``,
    is registered so when a configuration names it. Returns ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, NRIDecoder)):
        raise ValueError(f"a registered decoder must be a subclass of "
                         f"torch_nri.nn.NRIDecoder, got {cls!r}")
    _register(DECODERS, "decoder", name, Part(cls, kwargs or _standard_kwargs(cls),
                                              tuple(options)))
    return cls


def register_encoder(name: str, cls: type, kwargs: KwargsFn,
                     options: Tuple[str, ...] = (), fixed_window: bool = False,
                     min_window: int = 1) -> type:
    r"""Makes an encoder of your own (a module mapping ``(x, edge_index)``
    to logits ``[E, K]``) available as ``TrainConfig(encoder=name)``, built
    with ``kwargs(config, train_set, num_edge_types)`` (see :class:`Part`
    for the other arguments). Returns ``cls``."""
    _register(ENCODERS, "encoder", name, Part(cls, kwargs, tuple(options), fixed_window,
                                              min_window))
    return cls


def resolve_decoder(name: str) -> bool:
    r"""Whether ``name`` is a decoder, registered or, as
    ``"module:qualname"``, importable (it is then registered)."""
    if name in DECODERS:
        return True
    if ":" not in name:
        return False
    from torch_nri.models.base import resolve_layer

    register_decoder(name, resolve_layer(name))
    return True


def part_options() -> Dict[str, Tuple[str, ...]]:
    r"""Each part-specific option and the parts that read it, e.g.
    ``{"checkpoint": ("mlp decoder", "rnn decoder"), ...}``."""
    readers: Dict[str, Tuple[str, ...]] = {}
    for kind, table in (("encoder", ENCODERS), ("decoder", DECODERS)):
        for name, part in table.items():
            for option in part.options:
                readers[option] = readers.get(option, ()) + (f"{name} {kind}",)
    return readers


@dataclass(frozen=True)
class ModelSpec:
    r"""A model that :func:`~torch_nri.training.train` can train, by the
    name of ``TrainConfig(model=...)``.

    Attributes:
        config (callable): ``config(config, train_set)``, the model config
            (:meth:`~torch_nri.models.ConfigurableModel.from_config`).
        needs_relations (bool): Whether it is trained on the true relations.
        samples_edge_types (bool): Whether it decodes with Gumbel-softmax
            samples of the edge types (so that ``tau`` and ``tau_final``
            apply). (default: :obj:`False`)
        infers_graph (bool): Whether it infers a graph that it decodes with
            (so that the graph can be re-inferred during a forecast).
        uses_encoder (bool): Whether it has an encoder (the test protocol
            then shows it the encoder's window).
        uses_decoder (bool): Whether it has a decoder (it then predicts
            trajectories). (default: :obj:`True`)
        check (callable, optional): ``check(config)`` raises a
            :class:`ValueError` for a configuration the model cannot serve.
        defaults (dict, optional): The model's own defaults of
            :class:`TrainConfig` fields, which come before its parts' and the
            system's (``TrainConfig`` lists the order), e.g. its paper's
            dropout. (default: none)
    """
    config: Callable[[Any, Any], Dict[str, Any]]
    needs_relations: bool = False
    infers_graph: bool = False
    samples_edge_types: bool = False
    uses_encoder: bool = True
    check: Optional[Callable[[Any], None]] = None
    uses_decoder: bool = True
    defaults: Mapping[str, Any] = field(default_factory=dict)


def _spec(table: Dict[str, Part], name: str, config, train_set,
          num_edge_types: int) -> Dict[str, Any]:
    part = table[name]
    return {"name": layer_name(part.cls), "kwargs": part.kwargs(config, train_set,
                                                                num_edge_types)}


def _nri(config, train_set):
    K = config.num_edge_types
    return {"model": "NRI", "encoder": _spec(ENCODERS, config.encoder, config, train_set, K),
            "decoder": _spec(DECODERS, config.decoder, config, train_set, K),
            "num_edge_types": K, "tau": config.tau, "hard": config.hard, "prior": config.prior,
            "variance": config.variance, "symmetry_weight": config.symmetry_weight,
            "hard_symmetry": config.hard_symmetry}


def _dnri(config, train_set):
    K = config.num_edge_types
    return {"model": "DNRI", "encoder": _spec(ENCODERS, config.encoder, config, train_set, K),
            "decoder": _spec(DECODERS, config.decoder, config, train_set, K),
            "num_edge_types": K, "tau": config.tau, "hard": config.hard,
            "variance": config.variance, "prior": config.prior}


def _check_static_encoder(config) -> None:
    if config.encoder == "dnri":
        raise ValueError(f"encoder='dnri' infers a graph per step with its prior; it is the "
                         f"encoder of model='dnri', not of model={config.model!r}")


def _check_dnri(config) -> None:
    if config.encoder != "dnri":
        raise ValueError(f"model='dnri' infers its graphs with encoder='dnri', got "
                         f"encoder={config.encoder!r}")
    if config.decoder in DECODERS and not DECODERS[config.decoder].cls.step_weights:
        raise ValueError(f"model='dnri' decodes a graph per step; decoder={config.decoder!r} "
                         f"takes one graph (decoders that take a graph per step: "
                         f"{[n for n, p in DECODERS.items() if p.cls.step_weights]})")
    for option in ("symmetry_weight", "hard_symmetry"):
        if getattr(config, option):
            raise ValueError(f"'{option}' is an option of model='nri', not of model='dnri'")


def _supervised(config, train_set):
    K = config.num_edge_types
    return {"model": "SupervisedEncoder", "num_edge_types": K,
            "encoder": _spec(ENCODERS, config.encoder, config, train_set, K)}


def _given_graph(graph: str):
    def model(config, train_set):
        K = 1 if graph == "full" else config.num_edge_types  # the full graph has one type
        return {"model": "FixedGraphModel", "graph": graph, "num_edge_types": K,
                "decoder": _spec(DECODERS, config.decoder, config, train_set, K),
                "variance": config.variance}
    return model


def _check_full_graph(config) -> None:
    if config.skip_first:
        raise ValueError("the full graph has one edge type, which must pass messages: "
                         "'skip_first' cannot be set with model='full-graph'")


# Only NRI's loss has NRI-MPM's symmetry prior: the other models have none
# whatever their encoder.
_NO_SYMMETRY = {"symmetry_weight": 0.0}
MODELS: Dict[str, ModelSpec] = {
    "nri": ModelSpec(_nri, infers_graph=True, samples_edge_types=True,
                     check=_check_static_encoder),
    "dnri": ModelSpec(_dnri, samples_edge_types=True, check=_check_dnri,
                      defaults={"encoder": "dnri", **_NO_SYMMETRY}),
    # The supervised baseline's dropout: NRI supplement D.1.1.
    "supervised": ModelSpec(_supervised, needs_relations=True, check=_check_static_encoder,
                            uses_decoder=False, defaults={"dropout": 0.5, **_NO_SYMMETRY}),
    # The full graph has one type, which passes messages.
    "full-graph": ModelSpec(_given_graph("full"), uses_encoder=False, check=_check_full_graph,
                            defaults={"skip_first": False, **_NO_SYMMETRY}),
    "true-graph": ModelSpec(_given_graph("true"), needs_relations=True, uses_encoder=False,
                            defaults=_NO_SYMMETRY),
}

_BUILT_IN = {"encoder": frozenset(ENCODERS), "decoder": frozenset(DECODERS)}


def model_layers(config) -> Dict[str, Optional[str]]:
    r"""The layer classes that the model of a
    :class:`~torch_nri.training.TrainConfig` is built of, as its checkpoint's
    model config names them (:func:`~torch_nri.models.base.layer_name`):
    ``{"encoder": "MLPEncoder", "decoder": "MLPDecoder"}``, :obj:`None` for
    a part the model does not have. A part that is not registered in this
    process (a saved run's decoder of your own) is left out: its class is
    not known here."""
    spec = MODELS[config.model]
    layers: Dict[str, Optional[str]] = {}
    for part, table, used in (("encoder", ENCODERS, spec.uses_encoder),
                              ("decoder", DECODERS, spec.uses_decoder)):
        name = getattr(config, part)
        if not used:
            layers[part] = None
        elif name in table:
            layers[part] = layer_name(table[name].cls)
    return layers
