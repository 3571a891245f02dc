"""The encoders' memory option: edge MLPs in checkpointed chunks
(MLPEncoder(checkpoint=True))."""
import pytest
import torch

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.nn import MLPEncoder, RIEncoder
from tests.conftest import random_graph
from tests.memory_checks import AllocationTracker


def gradients(encoder, x, edge_index):
    out = encoder(x, edge_index)
    return out, torch.autograd.grad(out.square().sum(), [x, *encoder.parameters()])


@pytest.mark.parametrize("factor", [True, False])
@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("chunk,memory,sort", [(13, None, False), (None, 2**12, False),
                                               (13, None, True)])
def test_chunked_encoder_gives_identical_results(factor, batch_norm, chunk, memory, sort):
    options = dict(factor=factor, batch_norm=batch_norm)
    plain = MLPEncoder(20, 16, 3, **options).train()
    memory = {} if memory is None else dict(checkpoint_memory=memory)
    chunked = MLPEncoder(20, 16, 3, checkpoint=True, checkpoint_chunk_size=chunk, **options,
                         **memory).train()
    chunked.load_state_dict(plain.state_dict())
    x, edge_index = torch.randn(12, 5, 4, requires_grad=True), random_graph(12, 70)
    if sort:  # edges in receiver order, as PyG batches of kNN graphs are
        edge_index = edge_index[:, edge_index[1].argsort(stable=True)]
    assert 1 < chunked.chunking.rows(70, lambda: chunked.edge_bytes(4)) < 35  # several chunks
    out, grads = gradients(plain, x, edge_index)
    out_chunked, grads_chunked = gradients(chunked, x, edge_index)
    assert torch.allclose(out, out_chunked, atol=1e-5)
    for g, g_chunked in zip(grads, grads_chunked):
        assert torch.allclose(g, g_chunked, atol=1e-5 * g.abs().max(), rtol=1e-4)
    # Batch normalisation saw the statistics of all edges, once per step.
    for (name, buffer), chunked_buffer in zip(plain.named_buffers(), chunked.buffers()):
        assert torch.allclose(buffer.float(), chunked_buffer.float(), atol=1e-5), name
    plain.eval(), chunked.eval()
    with torch.no_grad():
        assert torch.allclose(plain(x, edge_index), chunked(x, edge_index), atol=1e-5)


@pytest.mark.parametrize("factor", [True, False])
def test_chunks_draw_the_same_dropout_masks_in_every_pass(factor):
    # The statistics pass and the output pass of a chunk must see the same
    # masks: then the normalised embeddings of all edges have mean 0 and
    # variance 1 exactly (batch normalisation's initial affine map).
    encoder = MLPEncoder(20, 16, 3, factor=factor, dropout=0.5, checkpoint=True,
                         checkpoint_chunk_size=9).train()
    x, edge_index = torch.randn(12, 5, 4), random_graph(12, 70)
    embeddings = encoder.edge_embeddings(x, edge_index)
    assert torch.allclose(embeddings.mean(dim=0), torch.zeros(16), atol=1e-5)
    assert torch.allclose(embeddings.var(dim=0, unbiased=False), torch.ones(16), atol=1e-3)
    # The test can fail: other masks in the output pass move the statistics.
    encoder.dropout = encoder.edge_mlp2.dropout = 0.0
    other = encoder.edge_embeddings(x, edge_index)
    assert not torch.allclose(other.var(dim=0, unbiased=False), torch.ones(16), atol=1e-3)


def transient_memory(encoder, num_edges):
    torch.manual_seed(0)
    edge_index = fully_connected_edge_index(40)[:, :num_edges]
    x = torch.randn(40, 5, 4, requires_grad=True)
    with AllocationTracker() as tracker:
        encoder(x, edge_index).square().sum().backward()
    return tracker.peak


@pytest.mark.parametrize("factor", [True, False])
def test_automatic_chunk_respects_its_budget(factor):
    budget, num_edges = 2**16, 1560
    encoder = MLPEncoder(20, 32, 3, factor=factor, checkpoint=True, checkpoint_memory=budget)
    unbounded = MLPEncoder(20, 32, 3, factor=factor, checkpoint=True, checkpoint_memory=2**40)
    unbounded.load_state_dict(encoder.state_dict())
    base = transient_memory(encoder, 0)
    # What every edge keeps, chunks or not: its logits, their square and
    # gradients, a few [E, K] tensors.
    kept = 8 * num_edges * 3 * 4
    assert transient_memory(encoder, num_edges) - base - kept <= budget
    # The test can fail: all edges in one chunk exceed the budget.
    assert transient_memory(unbounded, num_edges) - base - kept > 4 * budget


def test_repr_names_the_memory_options():
    encoder = MLPEncoder(20, 16, 2, checkpoint=True, checkpoint_memory=2**20)
    assert repr(encoder).endswith("batch_norm=True, checkpoint=True, checkpoint_memory=1048576)")


@pytest.mark.parametrize("scope", ["graph", "neighbourhood"])
def test_checkpointed_ri_encoder_gives_identical_results(scope):
    options = dict(sequence_model="attention", inter_scope=scope)
    plain = RIEncoder(20, 16, 3, **options).train()
    chunked = RIEncoder(20, 16, 3, checkpoint=True, checkpoint_chunk_size=13, **options).train()
    chunked.load_state_dict(plain.state_dict())
    x, edge_index = torch.randn(12, 5, 4, requires_grad=True), random_graph(12, 70)
    out, grads = gradients(plain, x, edge_index)
    out_chunked, grads_chunked = gradients(chunked, x, edge_index)
    assert torch.allclose(out, out_chunked, atol=1e-5)
    for g, g_chunked in zip(grads, grads_chunked):
        assert torch.allclose(g, g_chunked, atol=1e-5 * g.abs().max(), rtol=1e-4)
