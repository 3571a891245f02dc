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


@pytest.fixture
def fake_cuda(monkeypatch):
    """A machine with two GPUs (current device 0) as ``torch.cuda`` sees it,
    outside ``torchrun``, on any machine. Returns the devices given to
    ``torch.cuda.set_device``, which checks them as the real one does (a
    device without an index raises)."""
    from torch.cuda._utils import _get_device_index

    calls = []

    def set_device(device):
        _get_device_index(device)
        calls.append(torch.device(device))

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    return calls
