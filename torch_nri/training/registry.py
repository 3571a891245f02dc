r"""The encoders and decoders that :func:`~torch_nri.training.train` can
build, by the names of :class:`~torch_nri.training.TrainConfig`
(``encoder="mlp"``, ``decoder="st"``, ...): each entry says which layer class
it is, how its arguments follow from the configuration and the data, and
which configuration options it reads. A decoder or encoder of your own is one
:func:`register_decoder` or :func:`register_encoder` call; the training loop
and the test protocol never name a layer class.
"""
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

from torch_nri.nn import (CNNBlock, CNNEncoder, MLPDecoder, MLPEncoder, NRIDecoder, RIEncoder,
                          RNNDecoder, SpringsSimulationDecoder, STDecoder)

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
    """
    cls: type
    kwargs: KwargsFn
    options: Tuple[str, ...] = ()
    fixed_window: bool = False
    min_window: int = 1
    check: Optional[Callable[[Any], None]] = None


def _num_steps(train_set: Any) -> int:
    return train_set[0].x.size(1)


def _mlp_encoder(config, train_set, num_edge_types):
    return dict(in_channels=_num_steps(train_set) * train_set.num_features,
                hidden_channels=config.encoder_hidden, num_edge_types=num_edge_types,
                factor=config.factor, dropout=config.dropout, batch_norm=config.batch_norm)


def _cnn_encoder(config, train_set, num_edge_types):
    return dict(in_channels=train_set.num_features, hidden_channels=config.encoder_hidden,
                num_edge_types=num_edge_types, factor=config.factor, dropout=config.dropout)


def _ri_encoder(config, train_set, num_edge_types):
    return dict(in_channels=_num_steps(train_set) * train_set.num_features,
                hidden_channels=config.encoder_hidden, num_edge_types=num_edge_types,
                sequence_model=config.sequence_model, intra=config.intra, inter=config.inter,
                dropout=config.dropout, batch_norm=config.batch_norm)


def _memory(config) -> Dict[str, Any]:
    return dict(checkpoint=config.checkpoint, checkpoint_chunk_size=config.checkpoint_chunk_size,
                skip_no_edges=config.skip_no_edges)


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
                hidden_channels=config.decoder_hidden, sequence_model=config.sequence_model,
                skip_first=config.skip_first, dropout=config.dropout)


def _simulation_decoder(config, train_set, num_edge_types):
    # The data's own physics, in physical units (SpringsDataset's properties).
    return dict(position_range=list(train_set.stats.range_of("position")),
                velocity_range=list(train_set.stats.range_of("velocity")),
                spring_constants=train_set.spring_constants, box_size=train_set.box_size,
                time_step=train_set.time_step)


def _check_simulation(config) -> None:
    from torch_nri.datasets import SpringsDataset

    if config.data is not None or config.system != "springs":
        source = f"--data {config.data}" if config.data is not None else config.system
        raise ValueError(f"decoder='sim' is the springs simulator; it needs the simulated "
                         f"springs data, not {source}")
    spring_types = SpringsDataset.resolve_physics(config.physics)["spring_types"]
    if config.num_edge_types != len(spring_types):
        raise ValueError(f"decoder='sim' has one edge type per spring type of the data "
                         f"({len(spring_types)}: spring_types={spring_types}), got "
                         f"num_edge_types={config.num_edge_types}")


_MEMORY = ("checkpoint", "checkpoint_chunk_size", "skip_no_edges")

ENCODERS: Dict[str, Part] = {
    "mlp": Part(MLPEncoder, _mlp_encoder, ("factor", "batch_norm"), fixed_window=True),
    "cnn": Part(CNNEncoder, _cnn_encoder, ("factor",), min_window=CNNBlock.min_steps),
    "ri": Part(RIEncoder, _ri_encoder, ("batch_norm", "sequence_model", "intra", "inter"),
               fixed_window=True),
}

DECODERS: Dict[str, Part] = {
    "mlp": Part(MLPDecoder, _mlp_decoder, _MEMORY),
    "rnn": Part(RNNDecoder, _rnn_decoder, _MEMORY),
    "st": Part(STDecoder, _st_decoder, ("sequence_model",)),
    "sim": Part(SpringsSimulationDecoder, _simulation_decoder, check=_check_simulation),
}


def _standard_kwargs(cls: type) -> KwargsFn:
    # The arguments of the usual names that the class's constructor takes.
    accepted = inspect.signature(cls).parameters

    def kwargs(config, train_set, num_edge_types):
        values = dict(in_channels=train_set.num_features, num_edge_types=num_edge_types,
                      hidden_channels=config.decoder_hidden, skip_first=config.skip_first,
                      dropout=config.dropout)
        return {name: value for name, value in values.items() if name in accepted}

    return kwargs


def register_decoder(name: str, cls: type, kwargs: Optional[KwargsFn] = None,
                     options: Tuple[str, ...] = ()) -> type:
    r"""Makes a decoder of your own (a subclass of
    :class:`~torch_nri.nn.NRIDecoder`) available as
    ``TrainConfig(decoder=name)``. Without ``kwargs``, it is built with those
    of ``in_channels``, ``num_edge_types``, ``hidden_channels``
    (``config.decoder_hidden``), ``skip_first`` and ``dropout`` that its
    constructor takes. Returns ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, NRIDecoder)):
        raise ValueError(f"a registered decoder must be a subclass of "
                         f"torch_nri.nn.NRIDecoder, got {cls!r}")
    DECODERS[name] = Part(cls, kwargs or _standard_kwargs(cls), tuple(options))
    return cls


def register_encoder(name: str, cls: type, kwargs: KwargsFn,
                     options: Tuple[str, ...] = (), fixed_window: bool = False,
                     min_window: int = 1) -> type:
    r"""Makes an encoder of your own (a module mapping ``(x, edge_index)``
    to logits ``[E, K]``) available as ``TrainConfig(encoder=name)``, built
    with ``kwargs(config, train_set, num_edge_types)`` (see :class:`Part`
    for the other arguments). Returns ``cls``."""
    ENCODERS[name] = Part(cls, kwargs, tuple(options), fixed_window, min_window)
    return cls


def part_options() -> Dict[str, Tuple[str, ...]]:
    r"""Each part-specific option and the parts that read it, e.g.
    ``{"checkpoint": ("mlp decoder", "rnn decoder"), ...}``."""
    readers: Dict[str, Tuple[str, ...]] = {}
    for kind, table in (("encoder", ENCODERS), ("decoder", DECODERS)):
        for name, part in table.items():
            for option in part.options:
                readers[option] = readers.get(option, ()) + (f"{name} {kind}",)
    return readers
