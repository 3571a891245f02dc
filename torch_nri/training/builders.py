from typing import Any, Dict, Optional, Tuple

from torch_nri import models
from torch_nri.datasets import ChargedDataset, KuramotoDataset, SpringsDataset
from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.datasets.simulated import SimulatedDataset
from torch_nri.models import ConfigurableModel
from torch_nri.nn import SpringsSimulationDecoder
from torch_nri.training.config import TrainConfig

DATASETS = {"springs": SpringsDataset, "charged": ChargedDataset, "kuramoto": KuramotoDataset}
# The spring constant of each edge type of the springs data (interaction
# strength 0.1 times the spring types (0, 1)): the simulator decoder's physics.
SPRING_CONSTANTS = (0.0, 0.1)


def build_datasets(config: TrainConfig) -> Tuple[SimulatedDataset, ...]:
    r"""The train, valid and test splits of the configured system (simulated
    and cached on first use)."""
    cls = DATASETS[config.system]
    kwargs = dict(num_nodes=config.num_nodes, num_train=config.num_train,
                  num_valid=config.num_valid, num_test=config.num_test,
                  seed=config.seed if config.data_seed is None else config.data_seed,
                  graph=config.graph, k=config.k, progress=config.progress)
    return tuple(cls(config.data_root, split=split, **kwargs)
                 for split in ("train", "valid", "test"))


def _encoder_config(config: TrainConfig, num_steps: int) -> Dict[str, Any]:
    F, K = config.num_features, config.num_edge_types
    if config.encoder == "mlp":
        return {"name": "MLPEncoder", "kwargs": dict(
            in_channels=num_steps * F, hidden_channels=config.encoder_hidden,
            num_edge_types=K, factor=config.factor, dropout=config.dropout,
            batch_norm=config.batch_norm)}
    if config.encoder == "cnn":
        return {"name": "CNNEncoder", "kwargs": dict(
            in_channels=F, hidden_channels=config.encoder_hidden, num_edge_types=K,
            factor=config.factor, dropout=config.dropout)}
    return {"name": "RIEncoder", "kwargs": dict(
        in_channels=num_steps * F, hidden_channels=config.encoder_hidden,
        num_edge_types=K, sequence_model=config.sequence_model, intra=config.intra,
        inter=config.inter, dropout=config.dropout, batch_norm=config.batch_norm)}


def _decoder_config(config: TrainConfig, num_edge_types: int,
                    stats: Optional[MinMaxStats]) -> Dict[str, Any]:
    F, K = config.num_features, num_edge_types
    memory = dict(checkpoint=config.checkpoint,
                  checkpoint_chunk_size=config.checkpoint_chunk_size,
                  skip_no_edges=config.skip_no_edges)
    if config.decoder == "mlp":
        return {"name": "MLPDecoder", "kwargs": dict(
            in_channels=F, num_edge_types=K, msg_hidden_channels=config.decoder_hidden,
            msg_out_channels=config.decoder_hidden, hidden_channels=config.decoder_hidden,
            skip_first=config.skip_first, dropout=config.dropout, **memory)}
    if config.decoder == "rnn":
        return {"name": "RNNDecoder", "kwargs": dict(
            in_channels=F, num_edge_types=K, hidden_channels=config.decoder_hidden,
            skip_first=config.skip_first, dropout=config.dropout, **memory)}
    if config.decoder == "st":
        return {"name": "STDecoder", "kwargs": dict(
            in_channels=F, num_edge_types=K, hidden_channels=config.decoder_hidden,
            sequence_model=config.sequence_model, skip_first=config.skip_first,
            dropout=config.dropout)}
    if stats is None:
        raise ValueError("decoder='sim' needs the data's normalisation statistics "
                         "('stats') to simulate in physical units")
    return {"name": "SpringsSimulationDecoder", "kwargs": dict(
        **SpringsSimulationDecoder.ranges_of(stats), spring_constants=list(SPRING_CONSTANTS))}


def model_config(config: TrainConfig, num_steps: int,
                 stats: Optional[MinMaxStats] = None) -> Dict[str, Any]:
    r"""The :meth:`~torch_nri.models.ConfigurableModel.from_config`
    description of the configured model, for trajectories of ``num_steps``
    steps; ``stats`` (the training split's normalisation) is needed by the
    simulator decoder only."""
    K = config.num_edge_types
    if config.model == "supervised":
        return {"model": "SupervisedEncoder", "encoder": _encoder_config(config, num_steps),
                "num_edge_types": K}
    if config.model in ("full-graph", "true-graph"):
        graph, K = ("full", 1) if config.model == "full-graph" else ("true", K)
        return {"model": "FixedGraphModel", "decoder": _decoder_config(config, K, stats),
                "graph": graph, "num_edge_types": K, "variance": config.variance}
    return {"model": "NRI", "encoder": _encoder_config(config, num_steps),
            "decoder": _decoder_config(config, K, stats), "num_edge_types": K,
            "tau": config.tau, "hard": config.hard, "prior": config.prior,
            "variance": config.variance, "symmetry_weight": config.symmetry_weight,
            "hard_symmetry": config.hard_symmetry}


def build_model(config: TrainConfig, num_steps: int,
                stats: Optional[MinMaxStats] = None) -> ConfigurableModel:
    r"""The configured model: :class:`~torch_nri.models.NRI` or one of the
    baselines of :mod:`torch_nri.models` (``config.model``)."""
    spec = model_config(config, num_steps, stats)
    return getattr(models, spec["model"]).from_config(spec)
