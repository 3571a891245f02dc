"""The decoders' memory options: activation checkpointing and skipping
no-edge edges (NRIMessagePassing.aggregate_messages, drop_silent_edges)."""
import pytest
import torch

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.nn import MLPDecoder, RNNDecoder
from tests.conftest import random_graph
from tests.memory_checks import AllocationTracker

DECODERS = {
    "mlp": (lambda **kw: MLPDecoder(4, 3, 16, 16, 16, **kw), dict(prediction_steps=4)),
    "rnn": (lambda **kw: RNNDecoder(4, 3, 16, **kw), dict(burn_in_steps=5)),
}


def inputs(num_nodes=12, num_edges=70, num_steps=11):
    x = torch.randn(num_nodes, num_steps, 4, requires_grad=True)
    edge_index = random_graph(num_nodes, num_edges)
    logits = torch.randn(num_edges, 3, requires_grad=True)
    return x, edge_index, logits


def gradients(decoder, kwargs, x, edge_index, logits, seed=0):
    torch.manual_seed(seed)  # same dropout masks for both runs
    out = decoder(x, edge_index, logits.softmax(-1), **kwargs)
    grads = torch.autograd.grad(out.square().sum(), [x, logits, *decoder.parameters()])
    return out, grads


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("chunk,dropout", [(None, 0.2), (16, 0.0)])
def test_checkpointed_decoder_gives_identical_gradients(name, chunk, dropout):
    # Dropout masks are replayed in the recomputation; chunks draw them chunk
    # by chunk (other draws from the same distribution), so they run without.
    make, kwargs = DECODERS[name]
    plain = make(dropout=dropout).train()
    checkpointed = make(dropout=dropout, checkpoint=True,
                        checkpoint_chunk_size=chunk).train()
    checkpointed.load_state_dict(plain.state_dict())
    x, edge_index, logits = inputs()
    out, grads = gradients(plain, kwargs, x, edge_index, logits)
    out_ckpt, grads_ckpt = gradients(checkpointed, kwargs, x, edge_index, logits)
    assert torch.allclose(out, out_ckpt, atol=1e-6)
    for g, g_ckpt in zip(grads, grads_ckpt):
        assert torch.allclose(g, g_ckpt, atol=1e-5, rtol=1e-5)


def saved_bytes(decoder, kwargs, x, edge_index, logits):
    """Bytes of the tensors autograd keeps for the backward pass."""
    total = [0]

    def pack(tensor):
        total[0] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        decoder(x, edge_index, logits.softmax(-1), **kwargs)
    return total[0]


@pytest.mark.parametrize("name", DECODERS)
def test_checkpointing_keeps_node_sized_activations_only(name):
    make, kwargs = DECODERS[name]
    x, edge_index, logits = inputs(num_nodes=20, num_edges=380)  # E = 19 N
    plain = saved_bytes(make(), kwargs, x, edge_index, logits)
    checkpointed = saved_bytes(make(checkpoint=True), kwargs, x, edge_index, logits)
    assert checkpointed < plain / 5


@pytest.mark.parametrize("name", DECODERS)
def test_skipping_no_edge_edges_changes_no_output(name):
    make, kwargs = DECODERS[name]
    full = make(skip_first=True)
    skipping = make(skip_first=True, skip_no_edges=True)
    skipping.load_state_dict(full.state_dict())
    x, edge_index, _ = inputs()
    types = torch.randint(0, 3, (edge_index.size(1),))
    hard = torch.nn.functional.one_hot(types, 3).float()  # about a third are "no edge"
    out = full(x, edge_index, hard, **kwargs)
    assert torch.allclose(skipping(x, edge_index, hard, **kwargs), out, atol=1e-6)
    # Skipping is the same as giving the decoder only the other edges.
    keep = types != 0
    assert torch.allclose(full(x, edge_index[:, keep], hard[keep], **kwargs), out, atol=1e-6)


def test_skipped_edges_do_no_work():
    dec = MLPDecoder(4, 2, 16, 16, 16, skip_first=True, skip_no_edges=True)
    x, edge_index, _ = inputs()
    seen = []
    dec.edge_mlp.register_forward_hook(lambda mod, args, out: seen.append(args[0].size(0)))
    weights = torch.zeros(edge_index.size(1), 2)
    weights[:10, 1] = 1.0
    weights[10:, 0] = 1.0
    dec(x, edge_index, weights, prediction_steps=2)
    assert seen == [10, 10]


@pytest.mark.parametrize("name", DECODERS)
def test_skip_no_edges_rejects_mean_aggregation_and_chunks_take_it(name):
    make, kwargs = DECODERS[name]
    with pytest.raises(ValueError, match="'skip_no_edges' needs aggr='sum'"):
        make(skip_no_edges=True, aggr="mean")
    # Chunks of a mean: their sum over each receiver's in-degree.
    plain = make(aggr="mean")
    chunked = make(aggr="mean", checkpoint=True, checkpoint_chunk_size=8)
    chunked.load_state_dict(plain.state_dict())
    x, edge_index, logits = inputs()
    out, grads = gradients(plain, kwargs, x, edge_index, logits)
    out_chunked, grads_chunked = gradients(chunked, kwargs, x, edge_index, logits)
    assert torch.allclose(out, out_chunked, atol=1e-6)
    for g, g_chunked in zip(grads, grads_chunked):
        assert torch.allclose(g, g_chunked, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="'checkpoint_chunk_size' must be at least 1"):
        make(checkpoint=True, checkpoint_chunk_size=0)


@pytest.fixture
def chunk_sizes(monkeypatch):
    """Records the edges of every chunk of edges that the layers run."""
    from torch_nri.nn.chunking import Chunking

    sizes, run = [], Chunking.run

    def recording(self, fn, chunks, *shared):
        def counted():
            for chunk in chunks:
                index = chunk[0]
                if index.dtype == torch.long and index.dim() == 2 and index.size(0) == 2:
                    sizes.append(index.size(1))  # a chunk of edges, not of nodes
                yield chunk
        return run(self, fn, counted(), *shared)

    monkeypatch.setattr(Chunking, "run", recording)
    return sizes


@pytest.mark.parametrize("name", DECODERS)
def test_automatic_chunks_give_identical_gradients(name, chunk_sizes):
    make, kwargs = DECODERS[name]
    plain = make().train()
    # A budget of a few edges' activations: many chunks.
    checkpointed = make(checkpoint=True, checkpoint_memory=2**14).train()
    checkpointed.load_state_dict(plain.state_dict())
    sizes = chunk_sizes
    x, edge_index, logits = inputs()
    out, grads = gradients(plain, kwargs, x, edge_index, logits)
    out_ckpt, grads_ckpt = gradients(checkpointed, kwargs, x, edge_index, logits)
    chunk = sizes[0]
    assert 1 < chunk < edge_index.size(1) / 3
    assert set(sizes) == {chunk, edge_index.size(1) % chunk}  # the last chunk: the rest
    assert torch.allclose(out, out_ckpt, atol=1e-6)
    for g, g_ckpt in zip(grads, grads_ckpt):
        assert torch.allclose(g, g_ckpt, atol=1e-5, rtol=1e-5)
    # Without gradients (evaluation) the same chunks run, with nothing to recompute.
    sizes.clear()
    with torch.no_grad():
        assert torch.allclose(checkpointed(x, edge_index, logits.softmax(-1), **kwargs), out,
                              atol=1e-6)
    assert set(sizes) == {chunk, edge_index.size(1) % chunk}


def transient_memory(decoder, kwargs, num_edges):
    """The peak and the largest tensor of one forward and backward pass."""
    torch.manual_seed(0)
    num_nodes, num_steps = 30, (11 if decoder.feeding == "teacher_forcing" else 6)
    edge_index = fully_connected_edge_index(num_nodes)[:, :num_edges]
    x = torch.randn(num_nodes, num_steps, 4, requires_grad=True)
    weights = torch.randn(edge_index.size(1), 3).softmax(-1).requires_grad_()
    with AllocationTracker() as tracker:
        decoder(x, edge_index, weights, **kwargs).square().sum().backward()
    return tracker


@pytest.mark.parametrize("name,kwargs", [("mlp", dict(prediction_steps=4)),
                                         ("rnn", dict(burn_in_steps=3))])
def test_automatic_chunk_respects_its_budget(name, kwargs):
    make, _ = DECODERS[name]
    budget = 2**16
    decoder = make(checkpoint=True, checkpoint_memory=budget)
    unbounded = make(checkpoint=True, checkpoint_memory=2**40)  # all edges in one chunk
    unbounded.load_state_dict(decoder.state_dict())
    # The node- and parameter-sized tensors of the step: the run without edges.
    base = transient_memory(decoder, kwargs, 0).peak
    bounded, whole = (transient_memory(d, kwargs, 870) for d in (decoder, unbounded))
    assert bounded.largest <= budget and bounded.peak - base <= budget
    # The test can fail: one chunk of the 870 edges exceeds the budget.
    assert whole.largest > budget and whole.peak - base > 4 * budget


@pytest.mark.parametrize("name", DECODERS)
def test_an_explicit_chunk_size_wins_over_the_budget(name, chunk_sizes):
    make, kwargs = DECODERS[name]
    decoder = make(checkpoint=True, checkpoint_chunk_size=16, checkpoint_memory=2**10)
    sizes = chunk_sizes
    x, edge_index, logits = inputs()
    decoder(x, edge_index, logits.softmax(-1), **kwargs).sum().backward()
    assert set(sizes) == {16, edge_index.size(1) % 16}


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "1GB", True])
def test_checkpoint_memory_must_be_a_positive_number_of_bytes(name, value):
    make, _ = DECODERS[name]
    with pytest.raises(ValueError, match=r"'checkpoint_memory' must be a positive number of "
                                         r"bytes \(default: 268435456, 256 MiB\), got "
                                         + repr(value).replace("(", r"\(")):
        make(checkpoint=True, checkpoint_memory=value)


def test_output_mlp_runs_in_node_chunks_within_the_budget():
    # No edges: what remains of a step is the output MLP on every node.
    budget, num_nodes = 2**15, 300
    decoder = MLPDecoder(4, 3, 16, 16, 32, checkpoint=True, checkpoint_memory=budget).train()
    plain = MLPDecoder(4, 3, 16, 16, 32).train()
    plain.load_state_dict(decoder.state_dict())
    sizes, output = [], decoder._output
    decoder._output = lambda x, messages: sizes.append(x.size(0)) or output(x, messages)
    x = torch.randn(num_nodes, 11, 4, requires_grad=True)
    edge_index, weights = torch.empty(2, 0, dtype=torch.long), torch.empty(0, 3)
    kwargs = dict(prediction_steps=4)
    with AllocationTracker() as tracker:
        out_chunked = decoder(x, edge_index, weights, **kwargs)
        grad_chunked = torch.autograd.grad(out_chunked.square().sum(), x)[0]
    out = plain(x, edge_index, weights, **kwargs)
    grad = torch.autograd.grad(out.square().sum(), x)[0]
    assert 1 < sizes[0] < num_nodes / 4
    assert torch.allclose(out, out_chunked, atol=1e-6)
    assert torch.allclose(grad, grad_chunked, atol=1e-5)
    # Per step the inputs are kept ([N, 3, 4] states and [N, 3, 16] messages).
    kept = 4 * (num_nodes * 3 * (4 + 16)) * 4
    assert tracker.peak - kept <= budget + 4 * x.numel() * 4
    # The test can fail: the output MLP on all nodes at once exceeds it.
    decoder.checkpoint_memory = 2**40
    with AllocationTracker() as tracker:
        torch.autograd.grad(decoder(x, edge_index, weights, **kwargs).square().sum(), x)
    assert tracker.peak - kept > budget + 4 * x.numel() * 4


@pytest.mark.parametrize("name", DECODERS)
def test_a_step_that_would_keep_more_than_the_budget_is_recomputed_whole(name):
    # With a budget below one step's aggregated messages, the rollout keeps
    # its states only (a whole-step checkpoint), with the same gradients.
    make, kwargs = DECODERS[name]
    plain = make().train()
    kept = make(checkpoint=True).train()
    whole = make(checkpoint=True, checkpoint_memory=2**10).train()
    kept.load_state_dict(plain.state_dict())
    whole.load_state_dict(plain.state_dict())
    x, edge_index, logits = inputs(num_nodes=20, num_edges=300)
    assert 20 * whole.step_width() * 4 > whole.checkpoint_memory  # per row of a step
    out, grads = gradients(plain, kwargs, x, edge_index, logits)
    out_whole, grads_whole = gradients(whole, kwargs, x, edge_index, logits)
    assert torch.allclose(out, out_whole, atol=1e-6)
    for g, g_whole in zip(grads, grads_whole):
        assert torch.allclose(g, g_whole, atol=1e-5, rtol=1e-5)
    # The aggregated messages ([N, R, 16] floats a step) are no longer kept:
    # 4 steps of 3 segments (MLP, M = 4), or 10 steps of one (RNN, burn-in).
    steps, rows = (4, 3) if name == "mlp" else (10, 1)
    assert (saved_bytes(kept, kwargs, x, edge_index, logits)
            - saved_bytes(whole, kwargs, x, edge_index, logits)) >= steps * 20 * rows * 16 * 4
