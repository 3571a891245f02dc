import os
from typing import Any, Dict, Optional, Tuple, Type

import torch
from torch.nn import Module


class ConfigurableModel(Module):
    r"""What the models of :mod:`torch_nri.models` share: they are built from
    a plain-dict description (:meth:`from_config`, the form stored in
    checkpoints) and reloaded from a checkpoint with no need to repeat their
    arguments (:meth:`load`). ``parts`` names the constructor arguments that
    are layers of :mod:`torch_nri.nn`."""
    parts: Tuple[str, ...] = ()
    #: Whether :meth:`forward` takes the true relations (``edge_type``):
    #: the baselines that are given the graph, or trained on it.
    uses_relations: bool = False
    #: The description the model was built from (set by :meth:`from_config`).
    config: Optional[Dict[str, Any]] = None

    @staticmethod
    def check_parts(num_edge_types: int, **parts: Module) -> None:
        r"""Raises an error if a part declares another number of edge types
        than the model's."""
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

        Each part's ``name`` is a class of :mod:`torch_nri.nn`; the remaining
        keys are arguments of the model (``"model"``, the class name, is read
        by :func:`load_model`). The description is kept as ``model.config``.
        """
        from torch_nri import nn as layers

        built = {}
        for part in cls.parts:
            spec = config.get(part)
            if not isinstance(spec, dict) or "name" not in spec:
                raise ValueError(f"model config needs '{part}': {{'name': ..., 'kwargs': ...}}, "
                                 f"got {spec!r}")
            layer = getattr(layers, spec["name"], None)
            if not isinstance(layer, type):
                raise ValueError(f"unknown {part} {spec['name']!r}: not a class of torch_nri.nn")
            built[part] = layer(**spec.get("kwargs", {}))
        options = {k: v for k, v in config.items() if k not in cls.parts and k != "model"}
        model = cls(**built, **options)
        model.config = config
        return model

    @classmethod
    def load(cls, path: str, map_location: Any = "cpu") -> "ConfigurableModel":
        r"""Rebuilds a model from a checkpoint written by the training loop
        (:mod:`torch_nri.training`): the checkpoint holds the model config and
        the weights."""
        return cls._from_checkpoint(_read_checkpoint(path, map_location))

    @classmethod
    def _from_checkpoint(cls, checkpoint: Dict[str, Any]) -> "ConfigurableModel":
        model = cls.from_config(checkpoint["model_config"])
        model.load_state_dict(checkpoint["model"])
        return model


def _read_checkpoint(path: str, map_location: Any) -> Dict[str, Any]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # pickle, zip and EOF errors of a damaged file
        raise ValueError(f"checkpoint {path} is corrupted or not a torch file: "
                         f"{error}") from error
    if not isinstance(checkpoint, dict) or not {"model_config", "model"} <= checkpoint.keys():
        raise ValueError(f"checkpoint {path} holds no 'model_config' and 'model' entries; "
                         f"was it written by torch_nri.training?")
    return checkpoint


def load_model(path: str, map_location: Any = "cpu") -> ConfigurableModel:
    r"""Rebuilds whichever model of :mod:`torch_nri.models` a checkpoint holds
    (its config's ``"model"`` entry; :class:`~torch_nri.models.NRI` where it
    has none)."""
    from torch_nri import models

    checkpoint = _read_checkpoint(path, map_location)
    name = checkpoint["model_config"].get("model", "NRI")
    cls: Optional[Type[ConfigurableModel]] = getattr(models, name, None)
    if not (isinstance(cls, type) and issubclass(cls, ConfigurableModel)):
        raise ValueError(f"checkpoint {path} holds an unknown model {name!r}")
    return cls._from_checkpoint(checkpoint)
