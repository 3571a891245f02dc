import pytest
import torch

from torch_nri.graphs import fully_connected_edge_index


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(12345)


def random_graph(num_nodes, num_edges, generator=None):
    """A random directed graph without self loops or duplicate edges."""
    full = fully_connected_edge_index(num_nodes)
    keep = torch.randperm(full.size(1), generator=generator)[:num_edges]
    return full[:, keep.sort().values]


@pytest.fixture
def system():
    """One system of 6 objects, 20 steps, 4 features, fully connected."""
    x = torch.randn(6, 20, 4)
    return x, fully_connected_edge_index(6)
