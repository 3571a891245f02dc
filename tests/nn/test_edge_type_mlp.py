import pytest
import torch

from torch_nri.nn import EdgeTypeMLP
from torch_nri.testing.dense_reference import typed_messages


@pytest.mark.parametrize("skip_first,average_types", [(False, False), (True, False),
                                                      (True, True), (False, True)])
def test_matches_loop_over_types(skip_first, average_types):
    mlp = EdgeTypeMLP(6, 16, 8, num_edge_types=3, skip_first=skip_first,
                      average_types=average_types)
    edge_attr = torch.randn(10, 7, 6)
    weights = torch.rand(10, 3).softmax(-1)
    out = mlp(edge_attr, weights)
    assert out.shape == (10, 7, 8)
    assert torch.allclose(out, typed_messages(mlp, edge_attr[None], weights[None])[0], atol=1e-5)


def test_skip_first_means_no_message_for_type_zero():
    mlp = EdgeTypeMLP(4, 8, 8, num_edge_types=2, skip_first=True)
    weights = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    out = mlp(torch.randn(2, 4), weights)
    assert not out[0].any() and out[1].any()
    assert mlp.num_message_types == 1


def test_per_type_initialisation_is_independent():
    mlp = EdgeTypeMLP(4, 8, 8, num_edge_types=3)
    assert not torch.equal(mlp.weight1[0], mlp.weight1[1])
    bound = 1 / 4 ** 0.5
    assert mlp.weight1.abs().max() <= bound and mlp.bias1.abs().max() <= bound


def test_skip_first_needs_two_types():
    with pytest.raises(ValueError, match="num_edge_types=1"):
        EdgeTypeMLP(4, 8, 8, num_edge_types=1, skip_first=True)
