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


def test_bad_batch():
    enc = RIEncoder(40, 16, 2)
    with pytest.raises(ValueError, match=r"'batch' must have shape \[4\]"):
        enc(torch.randn(4, 10, 4), fully_connected_edge_index(4), torch.zeros(3).long())
