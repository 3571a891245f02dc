import pytest
import torch

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.nn import STDecoder, TemporalModel
from tests.layer_checks import (assert_batch_matches_systems, assert_permutation_equivariant,
                                assert_segments_start_from_ground_truth)


@pytest.mark.parametrize("kind", ["gru", "attention"])
@pytest.mark.parametrize("prediction_steps", [1, 4, 19, 30])
def test_shapes(system, kind, prediction_steps):
    x, edge_index = system
    dec = STDecoder(4, 2, 16, sequence_model=kind)
    weights = torch.rand(edge_index.size(1), 2).softmax(-1)
    assert dec(x, edge_index, weights, prediction_steps=prediction_steps).shape == (6, 19, 4)


def test_segments_follow_algorithm_1(system):
    x, edge_index = system
    assert_segments_start_from_ground_truth(STDecoder(4, 2, 16).eval(), x, edge_index,
                                            torch.rand(edge_index.size(1), 2))


@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_uses_the_segment_history(kind):
    # The same state with another history gives another prediction.
    dec = STDecoder(4, 2, 16, sequence_model=kind).eval()
    edge_index = fully_connected_edge_index(5)
    weights, x0 = torch.rand(20, 2), torch.randn(5, 1, 4)
    first, memory = dec.step(x0, edge_index, weights)
    second, _ = dec.step(first, edge_index, weights, memory)
    _, other_memory = dec.step(x0 + 1.0, edge_index, weights)
    second_other, _ = dec.step(first, edge_index, weights, other_memory)
    assert not torch.allclose(second, second_other, atol=1e-4)


def test_batching_and_permutation():
    dec = STDecoder(3, 2, 16, sequence_model="attention").eval()

    def run(x, edge_index):
        weights = torch.sigmoid(x[edge_index[0], 0, :1] - x[edge_index[1], 0, :1])
        return dec(x, edge_index, torch.cat([weights, 1 - weights], -1), prediction_steps=4)

    assert_batch_matches_systems(run, [3, 5, 2], 9, 3, "node")
    assert_permutation_equivariant(run, torch.randn(6, 9, 3), fully_connected_edge_index(6),
                                   "node")


@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_gradients_reach_every_parameter(system, kind):
    x, edge_index = system
    dec = STDecoder(4, 3, 16, sequence_model=kind, skip_first=True)
    weights = torch.rand(edge_index.size(1), 3, requires_grad=True)
    dec(x, edge_index, weights.softmax(-1), prediction_steps=5).square().sum().backward()
    for name, p in dec.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert weights.grad.abs().sum() > 0


def test_temporal_model_errors_and_repr():
    with pytest.raises(ValueError, match="'kind' must be"):
        TemporalModel(4, 8, "lstm")
    assert "kind='attention'" in repr(STDecoder(4, 2, 8, sequence_model="attention").edge_model)
