import pytest
import torch

from torch_nri.nn import CNNBlock, CNNEncoder
from torch_nri.testing import dense_reference
from tests.conftest import random_graph
from tests.layer_checks import assert_batch_matches_systems, assert_permutation_equivariant


@pytest.mark.parametrize("factor", [True, False])
def test_matches_dense_reference(system, factor):
    x, edge_index = system
    enc = CNNEncoder(4, 16, 2, factor=factor).eval()
    out = enc(x, edge_index)
    assert out.shape == (edge_index.size(1), 2)
    assert torch.allclose(out, dense_reference.cnn_encoder(enc, x[None], edge_index)[0], atol=1e-5)


@pytest.mark.parametrize("num_steps", [CNNBlock.min_steps, 49, 99])
def test_any_length_long_enough_for_the_kernels(num_steps):
    enc = CNNEncoder(4, 8, 2).eval()
    x = torch.randn(4, num_steps, 4)
    assert enc(x, random_graph(4, 12)).shape == (12, 2)


def test_too_short_trajectories_are_rejected():
    enc = CNNEncoder(4, 8, 2)
    with pytest.raises(ValueError, match=r"at least 14 time steps.*\(4, 13, 4\)"):
        enc(torch.randn(4, 13, 4), random_graph(4, 12))


def test_sender_and_receiver_series_are_ordered():
    # The encoder sees [x_i, x_j] for edge i -> j, so reversing an edge changes its logits.
    enc = CNNEncoder(2, 8, 2, factor=False).eval()
    x = torch.randn(2, 20, 2)
    logits = enc(x, torch.tensor([[0, 1], [1, 0]]))
    assert not torch.allclose(logits[0], logits[1])


def test_batching_and_permutation():
    enc = CNNEncoder(3, 8, 2).eval()
    assert_batch_matches_systems(enc, [4, 2, 3], 16, 3, level="edge")
    assert_permutation_equivariant(enc, torch.randn(6, 16, 3), random_graph(6, 20),
                                   level="edge")
