r"""From a :class:`~torch_nri.training.TrainConfig` to data and a model: the
splits of the configured data, and the model config that
:meth:`~torch_nri.models.ConfigurableModel.from_config` builds, with the
layers of :mod:`torch_nri.training.registry`."""
from typing import Any, Dict, Sequence, Tuple

from torch.utils.data import Dataset

from torch_nri import models
from torch_nri.datasets import get_system, load_splits
from torch_nri.io import check_directory
from torch_nri.models import ConfigurableModel
from torch_nri.protocol import check_protocol
from torch_nri.training.config import TrainConfig
from torch_nri.training.registry import ENCODERS, MODELS


def dataset_options(config: TrainConfig) -> Dict[str, Any]:
    r"""The arguments of the simulated system's dataset class for a
    configuration: the one set of data options that ``torch-nri generate``
    and ``torch-nri train`` share, so that both find the same cache."""
    return dict(num_nodes=config.num_nodes, num_train=config.num_train,
                num_valid=config.num_valid, num_test=config.num_test, length=config.length,
                test_length=config.test_length, sample_freq=config.sample_freq,
                seed=config.seed if config.data_seed is None else config.data_seed,
                graph=config.graph, k=config.k, graph_radius=config.graph_radius,
                progress=config.progress, **config.physics)


def trajectory_options(config: TrainConfig) -> Dict[str, Any]:
    r"""The candidate graph of your own trajectories for a configuration:
    the arguments of :func:`~torch_nri.datasets.load_splits` and
    :class:`~torch_nri.datasets.TrajectoryDataset` that ``torch-nri train``
    and ``torch-nri evaluate --data`` share."""
    return dict(graph=config.graph, k=config.k, graph_radius=config.graph_radius,
                position_features=config.position_features)


def build_datasets(config: TrainConfig) -> Tuple[Dataset, Dataset, Dataset]:
    r"""The train, valid and test splits of the configured data: your own
    trajectories (``config.data``, :func:`~torch_nri.datasets.load_splits`),
    or the simulated system (simulated and cached on first use)."""
    if config.data is not None:
        return load_splits(config.data, **trajectory_options(config))
    cls = get_system(config.system)
    options = dataset_options(config)
    check_directory(config.data_root, "data_root")  # named as the option, not as 'root'
    return tuple(cls(config.data_root, split=split, **options)
                 for split in ("train", "valid", "test"))


def model_config(config: TrainConfig, train_set: Dataset) -> Dict[str, Any]:
    r"""The :meth:`~torch_nri.models.ConfigurableModel.from_config`
    description of the configured model (:data:`~torch_nri.training.registry.MODELS`)
    for data like ``train_set`` (its number of features and steps, its
    normalisation and, for the simulator decoder, its physics)."""
    return MODELS[config.model].config(config, train_set)


def build_model(config: TrainConfig, train_set: Dataset) -> ConfigurableModel:
    r"""The configured model: :class:`~torch_nri.models.NRI` or one of the
    baselines of :mod:`torch_nri.models` (``config.model``)."""
    spec = model_config(config, train_set)
    return getattr(models, spec["model"]).from_config(spec)


def check_data(config: TrainConfig, splits: Sequence[Dataset]) -> int:
    r"""Checks that the splits can serve the configured run, before any
    training: the true relations where the model needs them and within
    ``num_edge_types``, and test trajectories long enough for the test
    protocol. Returns the encoder's window of the test protocol
    (``config.observed_steps``, by default the training length)."""
    train_set, valid_set, test_set = splits
    source = config.data if config.data is not None else f"the {config.system} data"
    model, encoder = MODELS[config.model], ENCODERS[config.encoder]
    num_steps = train_set[0].x.size(1)
    for name, split in zip(("train", "valid", "test"), splits):
        if "edge_type" not in split[0]:
            if model.needs_relations:
                raise ValueError(f"model={config.model!r} needs the true relations, but the "
                                 f"{name} split of {source} has none ('edges')")
            continue
        if model.needs_relations and split[0].edge_type.dim() > 1:
            raise ValueError(f"model={config.model!r} takes one graph per system, but the "
                             f"relations of {source} change over time ([num_edges, "
                             f"num_steps]); use model='dnri' or model='nri'")
        largest = int(split.edge_type.max()) if split.edge_type.numel() else 0
        if (model.uses_encoder or model.needs_relations) \
                and largest >= config.num_edge_types:
            raise ValueError(f"the {name} split of {source} has edge types up to {largest}, "
                             f"more than num_edge_types={config.num_edge_types} can name")
    observed = config.observed_steps or num_steps
    if model.uses_encoder:
        if encoder.fixed_window and valid_set[0].x.size(1) != num_steps:
            raise ValueError(f"the {config.encoder} encoder reads windows of the training "
                             f"length ({num_steps} steps); the valid split of {source} has "
                             f"{valid_set[0].x.size(1)}")
        if encoder.fixed_window and observed != num_steps:
            raise ValueError(f"the {config.encoder} encoder reads windows of the training "
                             f"length ({num_steps} steps), so observed_steps must be "
                             f"{num_steps}, got {observed}")
        if min(observed, num_steps) < encoder.min_window:
            raise ValueError(f"the {config.encoder} encoder reads at least "
                             f"{encoder.min_window} steps; the training trajectories have "
                             f"{num_steps} and observed_steps is {observed}")
    check_protocol(test_set[0].x.size(1), observed, config.horizon,
                   source=f"the test split of {source}")
    return observed
