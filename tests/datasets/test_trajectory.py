import numpy as np
import pytest
import torch

from torch_nri.datasets import MinMaxStats, TrajectoryDataset


def write(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return str(path)


def test_items_edges_and_normalisation(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 15, 4, 2))
    edges = rng.integers(0, 3, size=(3, 4, 4))
    ds = TrajectoryDataset(write(tmp_path, x=x, edges=edges))
    assert len(ds) == 3
    item = ds[1]
    assert item.x.shape == (4, 15, 2)
    assert torch.allclose(item.x, torch.tensor(x[1], dtype=torch.float32).transpose(0, 1))
    senders, receivers = item.edge_index
    assert torch.equal(item.edge_type, torch.as_tensor(edges[1][senders, receivers]))
    stats = MinMaxStats.fit(x, [[0], [1]])
    scaled = TrajectoryDataset(write(tmp_path, x=x), stats=stats)
    assert scaled.x.min() == pytest.approx(-1, abs=1e-6) and "edge_type" not in scaled[0]
    knn = TrajectoryDataset(write(tmp_path, x=x), graph="knn", k=2)
    assert knn[0].edge_index.size(1) == 4 * 2


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        TrajectoryDataset(str(tmp_path / "missing.npz"))
    with pytest.raises(ValueError, match=r"no array 'x' \(found \['y'\]\)"):
        TrajectoryDataset(write(tmp_path, y=np.zeros((2, 3, 4, 2))))
    with pytest.raises(ValueError, match=r"\[samples, T, N, F\], got \(2, 3, 4\)"):
        TrajectoryDataset(write(tmp_path, x=np.zeros((2, 3, 4))))
    bad = np.zeros((2, 3, 4, 2))
    bad[1, 2, 0, 1] = np.nan
    with pytest.raises(ValueError, match="1 non-finite"):
        TrajectoryDataset(write(tmp_path, x=bad))
    with pytest.raises(ValueError, match=r"'edges'.*\[2, 4, 4\], got \(2, 4, 3\)"):
        TrajectoryDataset(write(tmp_path, x=np.zeros((2, 3, 4, 2)), edges=np.zeros((2, 4, 3))))
