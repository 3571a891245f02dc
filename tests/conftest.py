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


@pytest.fixture(scope="session")
def inference_runs(tmp_path_factory):
    """Tiny runs (one epoch, a few seconds each) on random walks of 5 objects
    with random relations (training 16 steps, test 40), for ``torch-nri
    infer``: ``"full"`` (fully connected, ``skip_first``), ``"knn"`` (the 3
    nearest neighbours, a candidate graph per system) and ``"dnri"``
    (relations per step). Returns ``{name: (run_dir, test_file)}``."""
    import os

    from tests.datasets.test_trajectory import write_splits
    from torch_nri.training import TrainConfig, train

    root = tmp_path_factory.mktemp("inference_runs")
    tiny = dict(epochs=1, encoder_hidden=8, decoder_hidden=8, batch_size=8, progress=False,
                threads=1)
    options = {"full": dict(skip_first=True), "knn": dict(graph="knn", k=3),
               "dnri": dict(model="dnri")}
    runs = {}
    for name, extra in options.items():
        data = write_splits(root / f"{name}-data", num_nodes=5, num_features=2,
                            steps=(16, 16, 40), per_step=name == "dnri")
        train(TrainConfig(data=data, out=str(root / name), **tiny, **extra))
        runs[name] = (str(root / name), os.path.join(data, "test.npz"))
    return runs
