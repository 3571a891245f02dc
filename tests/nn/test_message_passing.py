import pytest
import torch

from torch_nri.nn import NRIMessagePassing
from tests.conftest import random_graph


def test_node_to_edge_concatenates_sender_then_receiver():
    mp = NRIMessagePassing()
    x = torch.randn(4, 3, 2)
    edge_index = torch.tensor([[0, 3, 2], [1, 0, 0]])
    edges = mp.node_to_edge(x, edge_index)
    assert edges.shape == (3, 3, 4)
    for e, (i, j) in enumerate(edge_index.t().tolist()):
        assert torch.equal(edges[e], torch.cat([x[i], x[j]], dim=-1))


@pytest.mark.parametrize("shape", [(5, 3), (5, 7, 3)])
def test_edge_to_node_sums_or_averages_incoming_edges(shape):
    edge_index = torch.tensor([[0, 3, 2, 1], [1, 0, 0, 0]])
    edge_attr = torch.randn(4, *shape[1:])
    total = NRIMessagePassing("sum").edge_to_node(edge_attr, edge_index, 5)
    mean = NRIMessagePassing("mean").edge_to_node(edge_attr, edge_index, 5)
    assert total.shape == shape
    assert torch.allclose(total[0], edge_attr[1:].sum(0))
    assert torch.allclose(mean[0], edge_attr[1:].mean(0))
    assert torch.equal(total[1], edge_attr[0])
    # Nodes without incoming edges get zeros, including the last one.
    assert not total[2:].any() and not mean[2:].any()


def test_rejects_unknown_aggregation():
    with pytest.raises(ValueError, match="'aggr'"):
        NRIMessagePassing("max")


@pytest.mark.parametrize("shape", [(6, 4), (6, 3, 4)])
def test_node_to_edge_linear_equals_the_linear_layer_on_concatenated_features(shape):
    mp = NRIMessagePassing()
    x = torch.randn(*shape, requires_grad=True)
    edge_index = torch.tensor([[0, 3, 2, 5, 5], [1, 0, 0, 2, 4]])
    edge_attr = torch.randn(5, *shape[1:-1], 3)
    lin = torch.nn.Linear(2 * 4 + 3, 7)
    expected = lin(torch.cat([mp.node_to_edge(x, edge_index), edge_attr], dim=-1))
    got = mp.node_to_edge_linear(x, edge_index, lin.weight, lin.bias, edge_attr)
    assert torch.allclose(got, expected, atol=1e-6)
    # Gradients reach the nodes and every part of the weight alike.
    grads = torch.autograd.grad(got.square().sum(), (x, lin.weight, lin.bias))
    expected_grads = torch.autograd.grad(expected.square().sum(), (x, lin.weight, lin.bias))
    for a, b in zip(grads, expected_grads):
        assert torch.allclose(a, b, atol=1e-5)
    # Without edge features the weight has only the sender and receiver parts.
    pair = torch.nn.Linear(2 * 4, 7, bias=False)
    assert torch.allclose(mp.node_to_edge_linear(x, edge_index, pair.weight),
                          pair(mp.node_to_edge(x, edge_index)), atol=1e-6)


def test_aggregate_messages_on_a_pair_projection_equals_it_on_edge_features():
    from torch_nri.nn import EdgeTypeMLP

    mp = NRIMessagePassing(checkpoint=True, checkpoint_chunk_size=3)
    mlp = EdgeTypeMLP(2 * 5, 8, 6, num_edge_types=2, act=torch.tanh)
    x = torch.randn(4, 5, requires_grad=True)
    edge_index = torch.tensor([[0, 1, 2, 3, 0, 2, 1], [1, 2, 3, 0, 2, 0, 3]])
    weights = torch.rand(7, 2).softmax(-1)
    expected = mp.aggregate_messages(mlp, x, edge_index, weights)
    projection = mp.pair_projection(x, *mlp.first_layer)
    got = mp.aggregate_messages(mlp.from_first_layer, projection, edge_index, weights,
                                edge_features=mp.gather_pairs)
    assert torch.allclose(got, expected, atol=1e-6)
    grad, = torch.autograd.grad(got.sum(), x)
    assert torch.allclose(grad, torch.autograd.grad(expected.sum(), x)[0], atol=1e-5)


def test_edge_bytes_follows_the_documented_formula():
    from torch_nri.nn import EdgeTypeMLP
    from torch_nri.nn.chunking import Chunking

    # N = 100 of docs/benchmarks.rst: R = 5 segment starts, C = 8, K = K' = 2, H = O = 256.
    width = EdgeTypeMLP(8, 256, 256, num_edge_types=2).transient_width()
    assert width == 8 + 2 * 256 + 256 + 3 * 2 * 256 == 2312
    per_edge = NRIMessagePassing.edge_bytes(5, 8, width, 2, 4)
    assert per_edge == 4 * (5 * 2312 + 4 * 2)
    assert Chunking(checkpoint=True).rows(79200, lambda: per_edge) == 5801
    # The gathering (3C) counts where it is wider than the message function.
    assert NRIMessagePassing.edge_bytes(1, 100, 10, 1, 1) == 304
    assert Chunking(checkpoint=True, memory=1).rows(50, lambda: per_edge) == 1  # at least one


def test_default_message_width():
    from torch_nri.nn import EdgeTypeMLP
    from torch_nri.nn.message_passing import default_message_width

    mlp = EdgeTypeMLP(10, 8, 6, num_edge_types=3, skip_first=True, dropout=0.5)
    assert default_message_width(mlp, 10) == mlp.transient_width() == \
        10 + 2 * 8 * 3 + 6 + 3 * 2 * 8  # in training, with dropout's mask and output
    assert default_message_width(mlp.from_first_layer, 16) == \
        mlp.transient_width(first_layer_given=True) == 2 * 8 * 3 + 6 + 3 * 2 * 8
    assert mlp.eval().transient_width() == 10 + 2 * 8 + 6 + 3 * 2 * 8
    assert default_message_width(lambda features, weights: features, 7) == 56


@pytest.mark.parametrize("aggr", ["sum", "mean"])
def test_chunked_aggregation_of_either_kind_equals_one_pass(aggr):
    # A mean in chunks: their sum divided by each receiver's in-degree.
    from torch_nri.nn import EdgeTypeMLP

    mlp = EdgeTypeMLP(2 * 5, 8, 6, num_edge_types=2)
    x = torch.randn(4, 5)
    edge_index = torch.tensor([[0, 1, 2, 3, 0, 2, 1], [1, 2, 3, 0, 2, 0, 3]])
    weights = torch.rand(7, 2).softmax(-1)
    seen = []
    mlp.register_forward_hook(lambda module, args, out: seen.append(args[0].size(0)))
    expected = NRIMessagePassing(aggr=aggr).aggregate_messages(mlp, x, edge_index, weights)
    seen.clear()
    layer = NRIMessagePassing(aggr=aggr, checkpoint=True, checkpoint_chunk_size=2)
    got = layer.aggregate_messages(mlp, x, edge_index, weights)
    assert torch.allclose(got, expected, atol=1e-6)
    assert seen == [2, 2, 2, 1]


def test_without_gradients_chunks_run_only_where_one_would_not_hold_every_edge():
    # Inference is memory-bounded with no option: the budget of checkpoint_memory.
    from torch_nri.nn import EdgeTypeMLP

    mlp = EdgeTypeMLP(2 * 5, 8, 6, num_edge_types=2)
    x, edge_index = torch.randn(10, 5), random_graph(10, 60)
    weights = torch.rand(60, 2).softmax(-1)
    seen = []
    mlp.register_forward_hook(lambda module, args, out: seen.append(args[0].size(0)))
    expected = NRIMessagePassing().aggregate_messages(mlp, x, edge_index, weights)
    per_edge = NRIMessagePassing.edge_bytes(1, 10, mlp.transient_width(), 2, 4)
    with torch.no_grad():
        for memory, chunks in ((2**20, [60]), (25 * per_edge, [25, 25, 10])):
            seen.clear()
            layer = NRIMessagePassing(checkpoint_memory=memory)  # checkpoint=False
            assert torch.allclose(layer.aggregate_messages(mlp, x, edge_index, weights),
                                  expected, atol=1e-6)
            assert seen == chunks
    seen.clear()
    NRIMessagePassing(checkpoint_memory=25 * per_edge).aggregate_messages(mlp, x, edge_index,
                                                                          weights)
    assert seen == [60]  # with gradients and without checkpoint=True: one pass


@pytest.mark.parametrize("sort", [True, False])
def test_chunked_aggregation_equals_one_pass(sort):
    layer = NRIMessagePassing(checkpoint=True, checkpoint_chunk_size=7)
    edge_index = random_graph(15, 60)
    if sort:
        edge_index = edge_index[:, edge_index[1].argsort(stable=True)]
    x = torch.randn(15, 3, requires_grad=True)
    weights = torch.rand(60, 2, requires_grad=True)

    def message(edge_attr, edge_weights):
        return edge_attr * edge_weights[:, :1]

    chunked = layer.aggregate_messages(message, x, edge_index, weights)
    layer.checkpoint = False
    whole = layer.aggregate_messages(message, x, edge_index, weights)
    assert torch.allclose(chunked, whole, atol=1e-6)
    grads = [torch.autograd.grad(out.square().sum(), [x, weights]) for out in (chunked, whole)]
    for g, g_whole in zip(*grads):
        assert torch.allclose(g, g_whole, atol=1e-5)
