import pytest
import torch

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.nn import STDecoder, TemporalModel
from tests.conftest import random_graph
from tests.layer_checks import (assert_batch_matches_systems, assert_permutation_equivariant,
                                assert_segments_start_from_ground_truth)
from tests.memory_checks import AllocationTracker


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


@pytest.mark.parametrize("kind", ["gru", "attention"])
@pytest.mark.parametrize("options,sort", [(dict(checkpoint_chunk_size=13), False),
                                          (dict(checkpoint_memory=2**13), False),
                                          (dict(checkpoint_chunk_size=13), True)])
def test_checkpointed_chunks_give_identical_gradients(kind, options, sort):
    plain = STDecoder(4, 3, 16, sequence_model=kind).train()
    chunked = STDecoder(4, 3, 16, sequence_model=kind, checkpoint=True, **options).train()
    chunked.load_state_dict(plain.state_dict())
    x, edge_index = torch.randn(12, 11, 4, requires_grad=True), random_graph(12, 70)
    if sort:  # each chunk aggregates at its own receivers only
        edge_index = edge_index[:, edge_index[1].argsort(stable=True)]
    logits = torch.randn(70, 3, requires_grad=True)
    results = []
    for decoder in (plain, chunked):
        out = decoder(x, edge_index, logits.softmax(-1), prediction_steps=4)
        results.append((out, torch.autograd.grad(out.square().sum(),
                                                 [x, logits, *decoder.parameters()])))
    (out, grads), (out_chunked, grads_chunked) = results
    assert torch.allclose(out, out_chunked, atol=1e-5)
    for g, g_chunked in zip(grads, grads_chunked):
        assert torch.allclose(g, g_chunked, atol=1e-6 * max(1.0, g.abs().max()), rtol=1e-4)


def peak_memory(decoder, num_edges):
    torch.manual_seed(0)
    edge_index = fully_connected_edge_index(30)[:, :num_edges]
    x = torch.randn(30, 11, 4, requires_grad=True)
    weights = torch.randn(edge_index.size(1), 3).softmax(-1).requires_grad_()
    with AllocationTracker() as tracker:
        decoder(x, edge_index, weights, prediction_steps=4).square().sum().backward()
    return tracker.peak


@pytest.mark.parametrize("kind,state_rows", [("gru", 5), ("attention", 16)])
def test_automatic_chunk_respects_its_budget(kind, state_rows):
    budget, num_edges = 2**16, 870
    decoder = STDecoder(4, 3, 16, sequence_model=kind, checkpoint=True, checkpoint_memory=budget)
    unbounded = STDecoder(4, 3, 16, sequence_model=kind, checkpoint=True,
                          checkpoint_memory=2**40)
    unbounded.load_state_dict(decoder.state_dict())
    base = peak_memory(decoder, 0)
    # What every edge keeps, chunks or not: S_edge's memory over the segment
    # (a hidden state, or a key and a value, per step of its 3 segment rows
    # of 16 floats) and its gradient.
    kept = num_edges * state_rows * 3 * 16 * 4
    assert peak_memory(decoder, num_edges) - base <= budget + kept
    # The test can fail: all edges in one chunk exceed it.
    assert peak_memory(unbounded, num_edges) - base > budget + kept
