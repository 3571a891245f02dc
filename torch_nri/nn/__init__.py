r"""NRI layers, each a :class:`torch_geometric.nn.MessagePassing` over a sparse
``edge_index``."""
from torch_nri.nn.message_passing import NRIMessagePassing
from torch_nri.nn.mlp_block import MLPBlock
from torch_nri.nn.cnn_block import CNNBlock
from torch_nri.nn.edge_type_mlp import EdgeTypeMLP
from torch_nri.nn.residual_head import ResidualHead
from torch_nri.nn.decoder import NRIDecoder
from torch_nri.nn.mlp_encoder import MLPEncoder
from torch_nri.nn.cnn_encoder import CNNEncoder
from torch_nri.nn.dnri_encoder import DNRIEncoder
from torch_nri.nn.mlp_decoder import MLPDecoder
from torch_nri.nn.rnn_decoder import RNNDecoder
from torch_nri.nn.set_sequence_model import SetSequenceModel
from torch_nri.nn.temporal_model import TemporalModel
from torch_nri.nn.ri_encoder import RIEncoder
from torch_nri.nn.st_decoder import STDecoder
from torch_nri.nn.springs_simulation_decoder import SpringsSimulationDecoder

__all__ = [
    "NRIMessagePassing",
    "MLPBlock",
    "CNNBlock",
    "EdgeTypeMLP",
    "ResidualHead",
    "NRIDecoder",
    "MLPEncoder",
    "CNNEncoder",
    "DNRIEncoder",
    "MLPDecoder",
    "RNNDecoder",
    "SetSequenceModel",
    "TemporalModel",
    "RIEncoder",
    "STDecoder",
    "SpringsSimulationDecoder",
]
