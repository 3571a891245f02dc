import pytest
import torch

from torch_nri.nn import NRIMessagePassing


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
