import pytest
import torch
from torch_geometric.data import Data

from torch_nri.baselines import as_arrays
from torch_nri.graphs import fully_connected_edge_index


def test_as_arrays_lays_out_systems_and_relations():
    edge_index = fully_connected_edge_index(3)
    items = [Data(x=torch.randn(3, 7, 2), edge_index=edge_index,
                  edge_type=torch.randint(0, 2, (6,))) for _ in range(4)]
    x, edges = as_arrays(items, num_steps=5)
    assert x.shape == (4, 5, 3, 2) and edges.shape == (4, 3, 3)
    assert torch.equal(x[2, :, 1], items[2].x[1, :5])
    assert torch.equal(edges[1][edge_index[0], edge_index[1]], items[1].edge_type)
    assert not edges.diagonal(dim1=1, dim2=2).any()
    with pytest.raises(ValueError, match="same number of objects"):
        as_arrays(items + [Data(x=torch.randn(4, 7, 2), edge_index=edge_index,
                                edge_type=torch.zeros(6, dtype=torch.long))])
