import pytest
import torch
from torch_geometric.data import Batch, Data

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.nn import MLPEncoder, RIEncoder
from tests.conftest import random_graph
from tests.layer_checks import assert_permutation_equivariant


@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_shapes_on_any_graph(kind):
    enc = RIEncoder(10 * 4, 16, 3, sequence_model=kind)
    x = torch.randn(9, 10, 4)
    edge_index = random_graph(9, 30)  # receivers of different in-degrees, some none
    assert enc(x, edge_index).shape == (30, 3)
    assert enc(x, edge_index[:, :0]).shape == (0, 3)


def test_attention_variant_is_exactly_equivariant():
    enc = RIEncoder(10 * 4, 16, 2, sequence_model="attention").eval()
    x, edge_index = torch.randn(7, 10, 4), random_graph(7, 25)
    assert_permutation_equivariant(lambda x, ei: enc(x, ei), x, edge_index, "edge")


@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_batch_of_graphs_of_different_sizes(kind):
    enc = RIEncoder(10 * 4, 16, 2, sequence_model=kind).eval()
    systems = [Data(x=torch.randn(n, 10, 4), edge_index=fully_connected_edge_index(n))
               for n in (3, 5, 2)]
    batch = Batch.from_data_list(systems)
    together = enc(batch.x, batch.edge_index, batch.batch)
    parts = together.split([s.edge_index.size(1) for s in systems])
    for part, system in zip(parts, systems):
        assert torch.allclose(part, enc(system.x, system.edge_index), atol=1e-5)
    # Without 'batch', the inter-edge model mixes the systems.
    assert not torch.allclose(enc(batch.x, batch.edge_index), together)


def test_ablations_change_the_parameter_set():
    def names(**kw):
        return {n.split(".")[0] for n, _ in RIEncoder(40, 16, 2, **kw).named_parameters()}

    nri = {n.split(".")[0] for n, _ in MLPEncoder(40, 16, 2).named_parameters()}
    assert names() == nri | {"intra_model", "inter_model", "lin_interaction"}
    assert names(intra=False) == nri | {"inter_model", "lin_interaction"}
    assert names(inter=False) == nri | {"intra_model", "lin_interaction"}
    assert names(intra=False, inter=False) == nri | {"lin_interaction"}
    assert RIEncoder(40, 16, 2).lin_interaction.in_features == 32
    assert RIEncoder(40, 16, 2, inter=False).lin_interaction.in_features == 16


@pytest.mark.parametrize("intra,inter", [(True, True), (False, True), (True, False),
                                         (False, False)])
def test_gradients_reach_every_parameter(intra, inter):
    enc = RIEncoder(10 * 4, 16, 2, intra=intra, inter=inter)
    enc(torch.randn(6, 10, 4), fully_connected_edge_index(6)).square().sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _both_scopes(**kwargs):
    graph = RIEncoder(10 * 4, 16, 2, **kwargs)
    neighbourhood = RIEncoder(10 * 4, 16, 2, inter_scope="neighbourhood", **kwargs)
    neighbourhood.load_state_dict(graph.state_dict())
    return graph, neighbourhood


def _fully_connected_batch(sizes, self_loops=False):
    systems = [Data(x=torch.randn(n, 10, 4), edge_index=fully_connected_edge_index(n))
               for n in sizes]
    batch = Batch.from_data_list(systems)
    edge_index = batch.edge_index
    if self_loops:
        loops = torch.arange(batch.num_nodes).repeat(2, 1)
        edge_index = torch.cat([edge_index, loops], dim=1)
    # Edges in random order, so that the order within each set comes from the nodes.
    edge_index = edge_index[:, torch.randperm(edge_index.size(1))]
    return batch.x, edge_index, batch.batch


@pytest.mark.parametrize("kind,training", [("attention", False), ("attention", True),
                                           ("gru", False)])
def test_neighbourhood_scope_equals_graph_scope_on_fully_connected_graphs(kind, training):
    graph, neighbourhood = _both_scopes(sequence_model=kind)
    graph.train(training), neighbourhood.train(training)
    x, edge_index, batch = _fully_connected_batch([4, 5])
    torch.manual_seed(0)
    expected = graph(x, edge_index, batch)
    torch.manual_seed(0)
    assert torch.allclose(neighbourhood(x, edge_index), expected, atol=1e-5)
    if kind == "attention" and not training:
        # A self loop would list a node twice in its own set: a clear error.
        x, edge_index, batch = _fully_connected_batch([4, 5], self_loops=True)
        with pytest.raises(ValueError, match=r"inter_scope='neighbourhood' needs a candidate "
                                             r"graph without self loops .* got 9 self loop"):
            neighbourhood(x, edge_index)


@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_the_scopes_differ_on_a_sparse_graph(kind):
    graph, neighbourhood = (enc.eval() for enc in _both_scopes(sequence_model=kind))
    x, edge_index = torch.randn(8, 10, 4), random_graph(8, 20)
    assert not torch.allclose(neighbourhood(x, edge_index), graph(x, edge_index), atol=1e-3)


@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_neighbourhood_scope_keeps_the_graphs_of_a_batch_apart(kind):
    enc = RIEncoder(10 * 4, 16, 2, sequence_model=kind, inter_scope="neighbourhood").eval()
    systems = [Data(x=torch.randn(n, 10, 4), edge_index=random_graph(n, e))
               for n, e in ((6, 14), (8, 20))]
    batch = Batch.from_data_list(systems)
    together = enc(batch.x, batch.edge_index)  # no 'batch' needed
    parts = together.split([s.edge_index.size(1) for s in systems])
    for part, system in zip(parts, systems):
        assert torch.allclose(part, enc(system.x, system.edge_index), atol=1e-5)


@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_gradients_reach_every_parameter_in_the_neighbourhood_scope(kind):
    enc = RIEncoder(10 * 4, 16, 2, sequence_model=kind, inter_scope="neighbourhood")
    enc(torch.randn(8, 10, 4), random_graph(8, 20)).square().sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_inter_scope():
    with pytest.raises(ValueError, match=r"'inter_scope' must be one of \('graph', "
                                         r"'neighbourhood'\), got 'local'"):
        RIEncoder(40, 16, 2, inter_scope="local")


def test_bad_batch():
    enc = RIEncoder(40, 16, 2)
    with pytest.raises(ValueError, match=r"'batch' must have shape \[4\]"):
        enc(torch.randn(4, 10, 4), fully_connected_edge_index(4), torch.zeros(3).long())
