r"""The model protocol of :mod:`torch_nri.models`: what every model returns
(:class:`NRIOutput`), how it is built, saved and loaded
(:class:`ConfigurableModel`), and the calls through which the training loop
and the test protocol use any model without naming its class
(:meth:`~ConfigurableModel.infer_edges`, :meth:`~ConfigurableModel.objective`,
:meth:`~ConfigurableModel.training_kwargs`, :meth:`~ConfigurableModel.forecast`)."""
import importlib
import inspect
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Type

import torch
from torch import Tensor
from torch.nn import Module

from torch_nri import __version__
from torch_nri._validation import check_int, parameter_device
from torch_nri.graphs import GraphSizes
from torch_nri.io import atomic_torch_save
from torch_nri.losses import Objective, Prior, check_prior
from torch_nri.nn.decoder import DynamicGraph, NRIDecoder

#: The layout of the checkpoints this version writes; 1 is torch_nri 0.1.0's
#: (no version entry), whose decoder parameter names are mapped on loading.
CHECKPOINT_FORMAT = 2


@dataclass
class NRIOutput:
    r"""What one forward pass of a model of :mod:`torch_nri.models` returns.

    :class:`~torch_nri.models.NRI` fills every field; the baselines leave
    what they lack as :obj:`None`: no ``edge_logits`` and ``edge_probs``
    where the graph is given (:class:`~torch_nri.models.FixedGraphModel`), no
    ``edges``, ``predictions`` and ``targets`` without a decoder
    (:class:`~torch_nri.models.SupervisedEncoder`).

    Attributes:
        edge_logits (torch.Tensor): Encoder logits ``[E, K]``.
        edge_probs (torch.Tensor): :math:`q_\phi(z | x)`, ``[E, K]``.
        edges (torch.Tensor): The Gumbel-softmax sample fed to the decoder,
            ``[E, K]`` (one-hot when hard).
        predictions (torch.Tensor): Decoder predictions of steps
            :math:`2..T`, ``[N, T - 1, F]``.
        targets (torch.Tensor): The true steps :math:`2..T`, ``[N, T - 1, F]``.
        edge_index (torch.Tensor): The candidate edges ``[2, E]``.
        edge_type (torch.Tensor, optional): The true relations ``[E]``, where
            the model was given them.
        nll_scale (float, optional): The factor that makes the negative
            log-likelihood of ``predictions``, where they are a random subset
            of the steps (:func:`decode`), an estimate of that of all.
            (default: :obj:`1.0`)
    """
    edge_logits: Optional[Tensor]
    edge_probs: Optional[Tensor]
    edges: Optional[Tensor]
    predictions: Optional[Tensor]
    targets: Optional[Tensor]
    edge_index: Tensor
    edge_type: Optional[Tensor] = None
    nll_scale: float = 1.0


def decode(decoder: Module, x: Tensor, edge_index: Tensor, edges: Tensor,
           decoder_kwargs: Dict[str, Any]) -> Tuple[Tensor, Tensor, float]:
    r"""The decoder's predictions on ``x`` ``[N, T, F]`` in float32, the true
    steps they predict and the factor of their negative log-likelihood
    (:attr:`NRIOutput.nll_scale`): every model's decoding in training.

    ``decoder_kwargs`` go to the decoder, but ``segments``: given :math:`S`
    (training with ``TrainConfig.train_segments``), a teacher-forced decoder
    rolls out :math:`S` segments of :math:`M` = ``prediction_steps`` steps,
    from starts drawn uniformly from :math:`0..T - 1 - M` (with
    replacement), instead of all :math:`\lceil (T - 1) / M \rceil`
    segments, and their negative log-likelihood is scaled by
    :math:`(T - 1) / (S M)`, so that in expectation it is that of all
    :math:`T - 1` steps (each step is predicted at every depth
    :math:`1..M` of a rollout, rather than at one fixed depth). A step
    costs about :math:`S M / (T - 1)` of the decoder's work.
    """
    segments = decoder_kwargs.get("segments")
    if segments is None:
        return decoder(x, edge_index, edges, **decoder_kwargs).float(), x[:, 1:], 1.0
    kwargs = {key: value for key, value in decoder_kwargs.items() if key != "segments"}
    length, num_steps = kwargs.get("prediction_steps", 1), x.size(1)
    if num_steps - length < 1:
        raise ValueError(f"a segment of prediction_steps={length} steps needs trajectories "
                         f"of more steps, got {num_steps}")
    # Drawn on the device from the seeded generator: no read back, a resumable run.
    starts = torch.randint(0, num_steps - length, (segments,), device=x.device)
    predictions = decoder(x, edge_index, edges, segment_starts=starts, **kwargs).float()
    steps = (starts.unsqueeze(1) + torch.arange(1, length + 1, device=x.device)).flatten()
    return predictions, x[:, steps], (num_steps - 1) / (segments * length)


def encode_edges(encoder: Module, x: Tensor, edge_index: Tensor, batch: Optional[Tensor],
                 num_edge_types: int, sizes: Optional[GraphSizes] = None) -> Tensor:
    r"""The encoder's logits ``[E, K]`` in float32, with their shape checked.
    ``sizes`` (:class:`~torch_nri.graphs.GraphSizes`) go to an encoder that
    declares ``uses_graph_sizes``."""
    # Encoders of other packages may not take 'batch'; pass it only when given.
    options: Dict[str, Any] = {} if batch is None else {"batch": batch}
    if sizes is not None and getattr(encoder, "uses_graph_sizes", False):
        options["sizes"] = sizes
    edge_logits = encoder(x, edge_index, **options)
    if edge_logits.shape != (edge_index.size(1), num_edge_types):
        raise ValueError(f"the encoder must return logits of shape [num_edges, "
                         f"num_edge_types] = [{edge_index.size(1)}, {num_edge_types}], "
                         f"got {tuple(edge_logits.shape)}")
    # The edge distribution stays in float32 under autocast (a no-op otherwise).
    return edge_logits.float()


def layer_name(cls: type) -> str:
    r"""The name under which a model config stores a layer class: its name
    for a class of :mod:`torch_nri.nn`, ``"module:qualname"`` for a class of
    your own (imported again when the config is built)."""
    from torch_nri import nn as layers

    if getattr(layers, cls.__name__, None) is cls:
        return cls.__name__
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve_layer(name: str) -> type:
    r"""The layer class a model config names (see :func:`layer_name`)."""
    from torch_nri import nn as layers

    if ":" in name:
        module_name, _, qualname = name.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"cannot import the layer class {name!r} of the model config: "
                             f"{error}") from None
        return target
    layer = getattr(layers, name, None)
    if not isinstance(layer, type):
        raise ValueError(f"unknown layer {name!r}: not a class of torch_nri.nn")
    return layer


class ConfigurableModel(Module):
    r"""What the models of :mod:`torch_nri.models` share: they are built from
    a plain-dict description (:meth:`from_config`, the form stored in
    checkpoints) and reloaded from a checkpoint with no need to repeat their
    arguments (:meth:`load`); the training loop and the test protocol call
    them only through :meth:`forward`, :meth:`infer_edges`,
    :meth:`objective`, :meth:`training_kwargs` and :meth:`forecast`.
    ``parts`` names the constructor arguments that are layers of
    :mod:`torch_nri.nn` (or your own classes); a model without a decoder
    sets the class attribute ``decoder = None``."""
    parts: Tuple[str, ...] = ()
    #: Whether :meth:`forward` takes the true relations (``edge_type``):
    #: the baselines that are given the graph, or trained on it.
    uses_relations: bool = False
    #: The description the model was built from (set by :meth:`from_config`).
    config: Optional[Dict[str, Any]] = None

    @staticmethod
    def check_parts(num_edge_types: int, **parts: Module) -> None:
        r"""Raises an error if ``num_edge_types`` is not a positive integer or
        a part declares another number of edge types than the model's."""
        check_int(num_edge_types, "num_edge_types", 1)
        for name, part in parts.items():
            declared = getattr(part, "num_edge_types", num_edge_types)
            if declared != num_edge_types:
                raise ValueError(f"the {name} has num_edge_types={declared}, but the "
                                 f"model was given num_edge_types={num_edge_types}")

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "ConfigurableModel":
        r"""Builds a model from a plain-dict description::

            {"encoder": {"name": "MLPEncoder", "kwargs": {...}},
             "decoder": {"name": "MLPDecoder", "kwargs": {...}},
             "num_edge_types": 2, "tau": 0.5, ...}

        Each part's ``name`` is a class of :mod:`torch_nri.nn`, or
        ``"module:qualname"`` for a class of your own (:func:`layer_name`);
        the remaining keys are arguments of the model (``"model"``, the class
        name, is read by :func:`load_model`). The description is kept as
        ``model.config``.
        """
        built = {}
        for part in cls.parts:
            spec = config.get(part)
            if not isinstance(spec, dict) or "name" not in spec:
                raise ValueError(f"model config needs '{part}': {{'name': ..., 'kwargs': ...}}, "
                                 f"got {spec!r}")
            built[part] = resolve_layer(spec["name"])(**spec.get("kwargs", {}))
        options = {k: v for k, v in config.items() if k not in cls.parts and k != "model"}
        model = cls(**built, **options)
        model.config = config
        return model

    def infer_edges(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                    hard: bool = True, sizes: Optional[GraphSizes] = None,
                    **relations: Any) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        r"""The edge logits ``[E, K]`` (:obj:`None` where nothing is
        inferred) and the edge weights ``[E, K]`` fed to the decoder
        (:obj:`None` without a decoder) for trajectories ``x``. ``sizes``
        (:class:`~torch_nri.graphs.GraphSizes`) spare an encoder that needs
        them a read back to the host; :meth:`forward` takes them too."""
        raise NotImplementedError

    def objective(self, output: NRIOutput) -> Objective:
        r"""What training minimises, with its NLL and KL terms."""
        raise NotImplementedError

    def training_kwargs(self, num_steps: int, prediction_steps: int,
                        burn_in_steps: Optional[int] = None) -> Dict[str, int]:
        r"""The options with which training calls :meth:`forward` on
        trajectories of ``num_steps`` steps: how the decoder is fed
        (:meth:`NRIDecoder.training_kwargs <torch_nri.nn.NRIDecoder.training_kwargs>`),
        nothing for a model without a decoder."""
        if getattr(self, "decoder", None) is None:
            return {}
        return self._contract_decoder().training_kwargs(num_steps, prediction_steps,
                                                        burn_in_steps)

    def dynamic_graph(self, batch: Optional[Tensor] = None,
                      **relations: Any) -> DynamicGraph:
        r"""The graph re-inferred during a forecast, ``(window, edge_index)
        -> edge weights``; only a model that infers edges has one."""
        raise ValueError(f"{type(self).__name__} does not infer its graph, so it has no "
                         f"dynamic graph")

    def forecast(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor, horizon: int,
                 batch: Optional[Tensor] = None, dynamic_graph: bool = False,
                 window: Optional[int] = None, **relations: Any) -> Tensor:
        r"""Predicts the ``horizon`` steps after the known steps ``x``
        ``[N, T_o, F]`` on the decoder's own predictions
        (:meth:`NRIDecoder.forecast <torch_nri.nn.NRIDecoder.forecast>`). With
        ``dynamic_graph``, the graph is re-inferred at every step from the last
        ``window`` inputs (:meth:`dynamic_graph`; default :math:`T_o - 1`, the
        encoder's window in the test protocol, which knows one step more than
        the encoder saw)."""
        if getattr(self, "decoder", None) is None:
            raise ValueError(f"{type(self).__name__} has no decoder to forecast with")
        graph = self.dynamic_graph(batch, **relations) if dynamic_graph else None
        if graph is not None and window is None:
            window = max(x.size(1) - 1, 1)
        return self._contract_decoder().forecast(x, edge_index, edge_weights, horizon,
                                                 dynamic_graph=graph,
                                                 dynamic_graph_window=window)

    def _contract_decoder(self) -> NRIDecoder:
        if not isinstance(self.decoder, NRIDecoder):
            raise ValueError(f"the decoder {type(self.decoder).__name__} is not a "
                             f"torch_nri.nn.NRIDecoder: write it as one (its step()) to "
                             f"train and evaluate it with torch_nri.training")
        return self.decoder

    @classmethod
    def load(cls, path: str, map_location: Any = "cpu") -> "ConfigurableModel":
        r"""Rebuilds a model from a checkpoint written by the training loop
        (:mod:`torch_nri.training`): the checkpoint holds the model config and
        the weights."""
        return cls._from_checkpoint(read_checkpoint(path, map_location))

    @classmethod
    def _from_checkpoint(cls, checkpoint: Dict[str, Any]) -> "ConfigurableModel":
        model = cls.from_config(checkpoint["model_config"])
        model.load_state_dict(checkpoint["model"])
        return model


class FixedPrior:
    r"""The ``prior`` of a model with a fixed prior over edge types in its KL
    term (:class:`~torch_nri.models.NRI`, :class:`~torch_nri.models.DNRI`):
    checked against ``num_edge_types`` when set, and kept as the buffer
    ``prior_probs`` on the model's device, so that a training step copies
    nothing from the host. Mix it into a :class:`ConfigurableModel` that sets
    ``num_edge_types`` before ``prior``."""

    @property
    def prior(self) -> Optional[List[float]]:
        r"""The prior over edge types (:obj:`None`: uniform)."""
        return None if self.prior_probs is None else self.prior_probs.tolist()

    @prior.setter
    def prior(self, prior: Optional[Prior]) -> None:
        probs = None if prior is None else torch.tensor(
            check_prior(prior, self.num_edge_types), dtype=torch.float64,
            device=parameter_device(self))
        self.register_buffer("prior_probs", probs, persistent=False)


def _arguments(obj: Module, skip: Tuple[str, ...] = ()) -> Dict[str, Any]:
    # The constructor arguments of a torch_nri module, read back from the
    # attributes of the same names that every one of them keeps.
    signature = inspect.signature(type(obj).__init__)
    names = [name for name, p in signature.parameters.items()
             if name != "self" and name not in skip
             and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    missing = [name for name in names if not hasattr(obj, name)]
    if missing:
        raise ValueError(f"cannot describe {type(obj).__name__} for a checkpoint: it keeps no "
                         f"attribute {', '.join(map(repr, missing))} for its constructor "
                         f"argument(s) of that name; build the model with from_config")
    return {name: getattr(obj, name) for name in names}


def describe_model(model: ConfigurableModel) -> Dict[str, Any]:
    r"""The :meth:`~ConfigurableModel.from_config` description of a model
    built by hand (e.g. ``NRI(MLPEncoder(...), MLPDecoder(...), 2)``): each
    part's class and the constructor arguments it keeps as attributes of the
    same names, as every layer of :mod:`torch_nri.nn` does, and the model's
    own. The description is checked by building it and comparing the
    parameters' names and shapes; a model it cannot describe is a
    :class:`ValueError` that names what is missing."""
    config: Dict[str, Any] = {"model": type(model).__name__}
    for part in model.parts:
        layer = getattr(model, part)
        config[part] = {"name": layer_name(type(layer)), "kwargs": _arguments(layer)}
    config.update(_arguments(model, skip=model.parts))
    expected = {k: v.shape for k, v in model.state_dict().items()}
    rebuilt = {k: v.shape for k, v in type(model).from_config(config).state_dict().items()}
    if rebuilt != expected:
        differ = sorted(set(expected.items()) ^ set(rebuilt.items()))[:3]
        raise ValueError(f"cannot describe {type(model).__name__} for a checkpoint: the model "
                         f"rebuilt from its attributes has other parameters ({differ}); build "
                         f"it with from_config")
    return config


def checkpoint_entries(model: ConfigurableModel) -> Dict[str, Any]:
    r"""What a checkpoint needs to rebuild ``model``: its config (for a
    model built by hand, :func:`describe_model`), its weights on the CPU,
    and the version and format that wrote them."""
    config = model.config if model.config is not None else describe_model(model)
    return {"model_config": config,
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "torch_nri_version": __version__, "format": CHECKPOINT_FORMAT}


def save_model(model: ConfigurableModel, path: str) -> None:
    r"""Saves ``model`` (built with :meth:`~ConfigurableModel.from_config`
    or by hand) atomically to ``path``, so that :func:`load_model` rebuilds
    it without its arguments."""
    atomic_torch_save(checkpoint_entries(model), path)


def read_checkpoint(path: str, map_location: Any = "cpu") -> Dict[str, Any]:
    r"""Reads a checkpoint written by :mod:`torch_nri.training`, with a
    clear error for a missing, damaged, foreign or newer file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # pickle, zip and EOF errors of a damaged file
        raise ValueError(f"checkpoint {path} is corrupted or not a torch file: "
                         f"{error}") from error
    if not isinstance(checkpoint, dict) or not {"model_config", "model"} <= checkpoint.keys():
        raise ValueError(f"checkpoint {path} holds no 'model_config' and 'model' entries; "
                         f"was it written by torch_nri.training or save_model?")
    if not isinstance(checkpoint["model_config"], dict):
        raise ValueError(f"checkpoint {path} has no model description (model_config="
                         f"{checkpoint['model_config']!r}; model.config is None for a model "
                         f"built by hand): save it with torch_nri.models.save_model(model, "
                         f"path), which describes it")
    written = checkpoint.get("format", 1)
    if written > CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path} was written by torch_nri "
                         f"{checkpoint.get('torch_nri_version', '?')} (format {written}); "
                         f"torch_nri {__version__} reads formats up to {CHECKPOINT_FORMAT}: "
                         f"upgrade torch_nri")
    return checkpoint


def load_model(path: str, map_location: Any = "cpu") -> ConfigurableModel:
    r"""Rebuilds whichever model of :mod:`torch_nri.models` a checkpoint holds
    (its config's ``"model"`` entry; :class:`~torch_nri.models.NRI` where it
    has none)."""
    return model_from_checkpoint(read_checkpoint(path, map_location), path)


def model_from_checkpoint(checkpoint: Dict[str, Any],
                          path: Optional[str] = None) -> ConfigurableModel:
    r""":func:`load_model` of a checkpoint already read
    (:func:`read_checkpoint`), e.g. to check what it holds before building
    it; ``path`` names it in errors."""
    from torch_nri import models

    name = checkpoint["model_config"].get("model", "NRI")
    cls: Optional[Type[ConfigurableModel]] = getattr(models, name, None)
    if not (isinstance(cls, type) and issubclass(cls, ConfigurableModel)):
        raise ValueError(f"checkpoint{'' if path is None else ' ' + path} holds an unknown "
                         f"model {name!r}")
    return cls._from_checkpoint(checkpoint)
