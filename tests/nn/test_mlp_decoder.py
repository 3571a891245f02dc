import pytest
import torch

from torch_nri.nn import MLPDecoder
from torch_nri.testing import dense_reference
from tests.conftest import random_graph
from tests.layer_checks import (assert_batch_matches_systems, assert_permutation_equivariant,
                                assert_segments_start_from_ground_truth)


@pytest.mark.parametrize("prediction_steps", [1, 3, 10, 19, 40])
@pytest.mark.parametrize("skip_first", [False, True])
def test_matches_dense_reference(system, prediction_steps, skip_first):
    x, edge_index = system
    dec = MLPDecoder(4, 3, 16, 16, 16, skip_first=skip_first).eval()
    weights = torch.rand(edge_index.size(1), 3).softmax(-1)
    out = dec(x, edge_index, weights, prediction_steps=prediction_steps)
    assert out.shape == (6, 19, 4)
    ref = dense_reference.mlp_decoder(dec, x[None], edge_index, weights[None],
                                       prediction_steps)[0]
    assert torch.allclose(out, ref, atol=1e-5)


def test_ground_truth_only_every_m_steps(system):
    x, edge_index = system
    assert_segments_start_from_ground_truth(MLPDecoder(4, 2, 16, 16, 16).eval(), x, edge_index,
                                            torch.rand(edge_index.size(1), 2))


def test_no_edge_type_passes_no_message(system):
    x, edge_index = system
    dec = MLPDecoder(4, 2, 16, 16, 16, skip_first=True).eval()
    no_edges = torch.tensor([[1.0, 0.0]]).expand(edge_index.size(1), 2)
    alone = dec(x, edge_index[:, :0], no_edges[:0])
    assert torch.allclose(dec(x, edge_index, no_edges), alone)


def test_batching_and_permutation():
    dec = MLPDecoder(3, 2, 16, 16, 16).eval()

    def run(x, edge_index):
        weights = torch.sigmoid(x[edge_index[0], 0, :1] - x[edge_index[1], 0, :1])
        return dec(x, edge_index, torch.cat([weights, 1 - weights], -1), prediction_steps=4)

    assert_batch_matches_systems(run, [3, 5, 2], 12, 3, level="node")
    assert_permutation_equivariant(run, torch.randn(7, 12, 3), random_graph(7, 25),
                                   level="node")


def test_errors_name_the_argument(system):
    x, edge_index = system
    dec = MLPDecoder(4, 2, 16, 16, 16)
    weights = torch.rand(edge_index.size(1), 2)
    with pytest.raises(ValueError, match=r"'edge_weights'.*\[30, 2\].*\(30, 3\)"):
        dec(x, edge_index, torch.rand(30, 3))
    with pytest.raises(ValueError, match=r"'edge_weights'.*\[30, 2\].*\(29, 2\)"):
        dec(x, edge_index, weights[:-1])
    with pytest.raises(ValueError, match=r"'edge_weights' contains 1 non-finite"):
        bad = weights.clone()
        bad[3, 1] = float("inf")
        dec(x, edge_index, bad)
    with pytest.raises(ValueError, match=r"'x' must have 4 features.*\(6, 20, 3\)"):
        dec(x[..., :3], edge_index, weights)
    with pytest.raises(ValueError, match=r"at least 2 time steps"):
        dec(x[:, :1], edge_index, weights)
    with pytest.raises(ValueError, match=r"'prediction_steps' must be at least 1, got 0"):
        dec(x, edge_index, weights, prediction_steps=0)
