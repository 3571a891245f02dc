"""DNRIEncoder in chunks of edges (checkpoint=True, and without gradients
within the budget): the same logits, gradients and running statistics as one
pass, and a step's transient memory within the budget."""
import pytest
import torch

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.nn import DNRIEncoder
from tests.conftest import random_graph
from tests.memory_checks import AllocationTracker


def outputs(encoder, x, edge_index):
    prior, posterior = encoder(x, edge_index)
    grads = torch.autograd.grad(prior.square().sum() + posterior.sum(),
                                [x, *encoder.parameters()])
    return (prior, posterior), grads


@pytest.mark.parametrize("batch_norm", [True, False])
def test_chunked_encoder_equals_one_pass(batch_norm):
    plain = DNRIEncoder(4, 16, 3, batch_norm=batch_norm).train()
    chunked = DNRIEncoder(4, 16, 3, batch_norm=batch_norm, checkpoint=True,
                          checkpoint_chunk_size=9).train()
    chunked.load_state_dict(plain.state_dict())
    x, edge_index = torch.randn(10, 7, 4, requires_grad=True), random_graph(10, 40)
    (prior, posterior), grads = outputs(plain, x, edge_index)
    (prior_c, posterior_c), grads_c = outputs(chunked, x, edge_index)
    assert torch.allclose(prior, prior_c, atol=1e-5)
    assert torch.allclose(posterior, posterior_c, atol=1e-5)
    for g, g_c in zip(grads, grads_c):
        assert torch.allclose(g, g_c, atol=1e-4 * max(g.abs().max(), 1))
    for buffer, buffer_c in zip(plain.buffers(), chunked.buffers()):
        assert torch.allclose(buffer.float(), buffer_c.float(), atol=1e-5)
    plain.eval(), chunked.eval()
    with torch.no_grad():  # evaluation runs the same chunks, nothing to recompute
        for a, b in zip(plain(x, edge_index), chunked(x, edge_index)):
            assert torch.allclose(a, b, atol=1e-5)
        prior_steps, _ = chunked.prior(x, edge_index)
        assert torch.allclose(prior_steps, plain(x, edge_index)[0], atol=1e-5)


def transient_memory(encoder, num_edges, num_steps=10):
    torch.manual_seed(0)
    edge_index = fully_connected_edge_index(30)[:, :num_edges]
    x = torch.randn(30, num_steps, 4, requires_grad=True)
    with AllocationTracker() as tracker:
        prior, posterior = encoder(x, edge_index)
        (prior.square().sum() + posterior.square().sum()).backward()
    return tracker.peak


def test_a_chunked_step_stays_within_its_budget():
    budget, num_edges = 2**18, 600
    encoder = DNRIEncoder(4, 16, 2, checkpoint=True, checkpoint_memory=budget)
    unbounded = DNRIEncoder(4, 16, 2, checkpoint=True, checkpoint_memory=2**40)
    unbounded.load_state_dict(encoder.state_dict())
    base = transient_memory(encoder, 0)
    # What every edge keeps, chunks or not: its logits, their squares and
    # gradients, a few [E, T, 2K] tensors.
    kept = 8 * num_edges * 10 * 4 * 4
    assert transient_memory(encoder, num_edges) - base - kept <= budget
    # The test can fail: all edges in one chunk exceed the budget.
    assert transient_memory(unbounded, num_edges) - base - kept > 4 * budget
