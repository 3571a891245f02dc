from typing import Any, Dict, Tuple

from torch_nri.datasets import ChargedDataset, KuramotoDataset, SpringsDataset
from torch_nri.datasets.simulated import SimulatedDataset
from torch_nri.models import NRI
from torch_nri.training.config import TrainConfig

DATASETS = {"springs": SpringsDataset, "charged": ChargedDataset, "kuramoto": KuramotoDataset}


def build_datasets(config: TrainConfig) -> Tuple[SimulatedDataset, ...]:
    r"""The train, valid and test splits of the configured system (simulated
    and cached on first use)."""
    cls = DATASETS[config.system]
    kwargs = dict(num_nodes=config.num_nodes, num_train=config.num_train,
                  num_valid=config.num_valid, num_test=config.num_test, seed=config.seed,
                  graph=config.graph, k=config.k, progress=config.progress)
    return tuple(cls(config.data_root, split=split, **kwargs)
                 for split in ("train", "valid", "test"))


def model_config(config: TrainConfig, num_steps: int) -> Dict[str, Any]:
    r"""The :meth:`~torch_nri.models.NRI.from_config` description of the
    configured model, for trajectories of ``num_steps`` steps."""
    F, K = config.num_features, config.num_edge_types
    if config.encoder == "mlp":
        encoder = {"name": "MLPEncoder", "kwargs": dict(
            in_channels=num_steps * F, hidden_channels=config.encoder_hidden,
            num_edge_types=K, factor=config.factor, dropout=config.dropout,
            batch_norm=config.batch_norm)}
    elif config.encoder == "cnn":
        encoder = {"name": "CNNEncoder", "kwargs": dict(
            in_channels=F, hidden_channels=config.encoder_hidden, num_edge_types=K,
            factor=config.factor, dropout=config.dropout)}
    else:
        encoder = {"name": "RIEncoder", "kwargs": dict(
            in_channels=num_steps * F, hidden_channels=config.encoder_hidden,
            num_edge_types=K, sequence_model=config.sequence_model, intra=config.intra,
            inter=config.inter, dropout=config.dropout, batch_norm=config.batch_norm)}
    memory = dict(checkpoint=config.checkpoint,
                  checkpoint_chunk_size=config.checkpoint_chunk_size,
                  skip_no_edges=config.skip_no_edges)
    if config.decoder == "mlp":
        decoder = {"name": "MLPDecoder", "kwargs": dict(
            in_channels=F, num_edge_types=K, msg_hidden_channels=config.decoder_hidden,
            msg_out_channels=config.decoder_hidden, hidden_channels=config.decoder_hidden,
            skip_first=config.skip_first, dropout=config.dropout, **memory)}
    elif config.decoder == "rnn":
        decoder = {"name": "RNNDecoder", "kwargs": dict(
            in_channels=F, num_edge_types=K, hidden_channels=config.decoder_hidden,
            skip_first=config.skip_first, dropout=config.dropout, **memory)}
    else:
        decoder = {"name": "STDecoder", "kwargs": dict(
            in_channels=F, num_edge_types=K, hidden_channels=config.decoder_hidden,
            sequence_model=config.sequence_model, skip_first=config.skip_first,
            dropout=config.dropout)}
    return {"encoder": encoder, "decoder": decoder, "num_edge_types": K, "tau": config.tau,
            "hard": config.hard, "prior": config.prior, "variance": config.variance,
            "symmetry_weight": config.symmetry_weight,
            "hard_symmetry": config.hard_symmetry}


def build_model(config: TrainConfig, num_steps: int) -> NRI:
    r"""The configured :class:`~torch_nri.models.NRI` model."""
    return NRI.from_config(model_config(config, num_steps))
