"""The one home of chunked work (torch_nri.nn.chunking): the options'
checks, the policy, the sums and means at receivers, the dropout seeds."""
import pytest
import torch

from torch_nri.nn.chunking import (Chunking, mean_at_receivers, seeded, step_seed,
                                   sum_at_receivers)
from torch_nri.nn import NRIMessagePassing
from tests.conftest import random_graph


def test_the_policy_of_chunks():
    ten_bytes = lambda: 10  # noqa: E731
    # With gradients: chunks only with checkpoint, even one (it is recomputed).
    assert Chunking(memory=100).rows(50, ten_bytes) is None
    assert Chunking(checkpoint=True, memory=100).rows(50, ten_bytes) == 10
    assert Chunking(checkpoint=True, memory=10**6).rows(50, ten_bytes) == 50
    assert Chunking(checkpoint=True, chunk_size=7, memory=100).rows(50, ten_bytes) == 7
    assert Chunking(checkpoint=True, memory=1).rows(50, ten_bytes) == 1  # at least one row
    with torch.no_grad():  # without: the budget, whatever checkpoint says
        assert Chunking(memory=100).rows(50, ten_bytes) == 10
        assert Chunking(memory=10**6).rows(50, ten_bytes) is None  # one chunk: unchunked
        assert Chunking(checkpoint=True, memory=10**6).rows(50, ten_bytes) is None
        assert Chunking(chunk_size=7).rows(50, ten_bytes) == 7
    calls = []
    Chunking().rows(50, lambda: calls.append(1) or 10)
    assert calls == []  # the bytes per row are not computed where no chunks run


@pytest.mark.parametrize("memory", [0, -1, float("nan"), float("inf"), "1GB", True])
def test_the_budget_must_be_a_positive_number_of_bytes(memory):
    with pytest.raises(ValueError, match=r"'checkpoint_memory' must be a positive number"):
        Chunking(memory=memory)
    with pytest.raises(ValueError, match=r"'checkpoint_chunk_size' must be at least 1"):
        Chunking(chunk_size=0)


def test_chunks_are_summed_in_place_keeping_only_their_receivers():
    layer = NRIMessagePassing()
    edge_index = random_graph(10, 40)
    messages = torch.randn(40, 3, 5, requires_grad=True)
    saved = []

    def pack(tensor):
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    parts = zip(edge_index.split(9, dim=1), (m * 1 for m in messages.split(9)))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        got = sum_at_receivers(parts, 10)
    assert torch.allclose(got, layer.edge_to_node(messages, edge_index, 10), atol=1e-6)
    # The backward pass keeps each chunk's receivers, not its messages.
    assert sum(saved) == 40 * 8
    grad = torch.randn(10, 3, 5)
    assert torch.allclose(torch.autograd.grad(got, messages, grad)[0], grad[edge_index[1]])


def test_a_mean_in_chunks_is_their_sum_over_the_in_degree():
    edge_index = random_graph(12, 30)  # some nodes receive nothing: their mean is 0
    messages = torch.randn(30, 4)
    parts = zip(edge_index.split(7, dim=1), messages.split(7))
    got = mean_at_receivers(parts, edge_index[1], 12)
    assert torch.allclose(got, NRIMessagePassing(aggr="mean").edge_to_node(
        messages, edge_index, 12), atol=1e-6)


def test_every_pass_over_a_chunk_draws_the_same_dropout_masks():
    module = torch.nn.Dropout(0.5).train()
    seed = step_seed(module, 0.5)
    assert isinstance(seed, int) and step_seed(module.eval(), 0.5) is None
    assert step_seed(module.train(), 0.0) is None
    x = torch.ones(1000)
    masks = []
    for _ in range(2):
        with seeded(seed, 3, x.device):
            masks.append(module(x))
    with seeded(seed, 4, x.device):
        other = module(x)
    assert torch.equal(*masks) and not torch.equal(masks[0], other)
    state = torch.get_rng_state()
    with seeded(seed, 3, x.device):
        module(x)
    assert torch.equal(torch.get_rng_state(), state)  # the generator is restored
