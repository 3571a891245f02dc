"""The dense reference in the original layout [B, N, ...] (B systems sharing
one graph) computes what torch_nri computes on the PyG batch of the systems."""
import torch

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.nn import MLPDecoder, MLPEncoder
from torch_nri.testing import dense_reference


def test_batched_dense_reference_equals_the_sparse_layers():
    num_systems, num_nodes, num_steps = 3, 4, 12
    x = torch.randn(num_systems, num_nodes, num_steps, 4)
    edge_index = fully_connected_edge_index(num_nodes)
    batch_edge_index = fully_connected_edge_index([num_nodes] * num_systems)
    enc = MLPEncoder(num_steps * 4, 16, 2).eval()
    dec = MLPDecoder(4, 2, 16, 16, 16).eval()
    logits = enc(x.flatten(0, 1), batch_edge_index)
    dense_logits = dense_reference.mlp_encoder(enc, x, edge_index)
    assert torch.allclose(logits.view(num_systems, -1, 2), dense_logits, atol=1e-5)
    weights = torch.rand(num_systems, edge_index.size(1), 2)
    out = dec(x.flatten(0, 1), batch_edge_index, weights.flatten(0, 1), prediction_steps=5)
    dense_out = dense_reference.mlp_decoder(dec, x, edge_index, weights, 5)
    assert torch.allclose(out.view(num_systems, num_nodes, -1, 4), dense_out, atol=1e-5)
