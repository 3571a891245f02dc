import numpy as np
import pytest
import torch

from torch_nri.datasets import MinMaxStats, TrajectoryDataset, load_splits


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


def write_splits(directory, num_nodes=7, num_features=3, steps=(12, 12, 30), edges=True,
                 seed=0):
    """Writes train/valid/test.npz of random walks; returns the directory."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for name, num_steps, num_samples in zip(("train", "valid", "test"), steps, (10, 4, 4)):
        x = rng.normal(size=(num_samples, num_steps, num_nodes, num_features)).cumsum(1)
        arrays = {"x": x}
        if edges:
            arrays["edges"] = rng.integers(0, 2, size=(num_samples, num_nodes, num_nodes))
        np.savez(directory / f"{name}.npz", **arrays)
    return str(directory)


def test_load_splits_normalises_with_the_training_statistics(tmp_path):
    train, valid, test = load_splits(write_splits(tmp_path / "data"), graph="knn", k=3)
    assert len(train) == 10 and len(valid) == len(test) == 4
    assert train[0].x.shape == (7, 12, 3) and test[0].x.shape == (7, 30, 3)
    assert train.stats is valid.stats is test.stats
    assert train.stats.groups == [[0], [1], [2]]
    assert train.x.min() == pytest.approx(-1, abs=1e-6) and train.x.max() == pytest.approx(1)
    assert train[0].edge_index.size(1) == 7 * 3 and train[0].edge_type.dtype == torch.long


@pytest.mark.parametrize("split, arrays, match", [
    ("valid", None, r"must hold train.npz, valid.npz, test.npz; missing: .*valid.npz"),
    ("train", dict(y=np.zeros((2, 3, 7, 3))), r"train.npz has no array 'x' \(found \['y'\]\)"),
    ("test", dict(x=np.zeros((2, 30, 7))), r"'x' in .*test.npz must have shape \[samples, T, "
                                            r"N, F\], got \(2, 30, 7\)"),
    ("valid", dict(x=np.zeros((2, 12, 6, 3))), r"'x' in .*valid.npz has N=6 objects and F=3 "
                                                r"features, .*train.npz has N=7 and F=3"),
    ("test", dict(x=np.zeros((2, 30, 7, 2))), r"test.npz has N=7 objects and F=2"),
    ("train", dict(x=np.full((2, 12, 7, 3), np.nan)), r"train.npz contains 504 non-finite"),
    ("valid", dict(x=np.zeros((2, 12, 7, 3)), edges=np.full((2, 7, 7), 0.5)),
     r"'edges' in .*valid.npz must hold integer edge types, got dtype float64"),
    ("valid", dict(x=np.zeros((2, 12, 7, 3)), edges=-np.ones((2, 7, 7), dtype=int)),
     r"valid.npz must hold non-negative edge types"),
    ("test", b"PK\x03\x04 truncated", r"test.npz is not a readable .npz file"),
])
def test_load_splits_names_the_bad_file(tmp_path, split, arrays, match):
    directory = write_splits(tmp_path / "data")
    path = tmp_path / "data" / f"{split}.npz"
    if arrays is None:
        path.unlink()
    elif isinstance(arrays, bytes):
        path.write_bytes(arrays)
    else:
        np.savez(path, **arrays)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        load_splits(directory)
    with pytest.raises(FileNotFoundError, match="trajectory directory not found"):
        load_splits(str(tmp_path / "nowhere"))


def test_a_run_s_statistics_refuse_data_with_other_features(tmp_path):
    stats = MinMaxStats.fit(np.random.default_rng(0).normal(size=(2, 5, 3, 4)), [[0, 1], [2, 3]])
    with pytest.raises(ValueError, match=r"has 1 features, but the normalisation .* is for 4"):
        TrajectoryDataset(write(tmp_path, x=np.zeros((2, 5, 3, 1))), stats=stats)
