import pytest
import torch
from torch.utils.data import DistributedSampler, Subset
from torch_geometric.loader import DataLoader

from torch_nri.datasets import ChargedDataset, SpringsDataset
from torch_nri.training import TrainConfig, train
from torch_nri.training import batching
from torch_nri.training.batching import FixedSizeLoader, fixed_size, make_loader

SMALL = dict(num_train=37, num_valid=4, num_test=4, length=1000)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("data"))
    return [SpringsDataset(root, **SMALL),
            ChargedDataset(root, num_nodes=9, graph="knn", k=3, **SMALL)]  # a graph each


def assert_same_batches(expected, got):
    expected, got = list(expected), list(got)
    assert len(expected) == len(got)
    for a, b in zip(expected, got):
        for key in ("x", "edge_index", "batch", "edge_type"):
            assert torch.equal(getattr(a, key), getattr(b, key)), key
        assert a.num_graphs == b.num_graphs and a.num_nodes == b.num_nodes


@pytest.mark.parametrize("which", [0, 1])
def test_the_fast_path_gives_the_pyg_loader_s_batches(datasets, which):
    dataset = datasets[which]
    for data in (dataset, Subset(dataset, range(1, 37, 3))):  # a shard is a Subset
        assert fixed_size(data)
        assert_same_batches(DataLoader(data, batch_size=8), FixedSizeLoader(data, 8))
        torch.manual_seed(5)
        expected = list(DataLoader(data, batch_size=8, shuffle=True,
                                   generator=torch.Generator().manual_seed(3)))
        after_pyg = torch.rand(3)
        torch.manual_seed(5)
        got = list(FixedSizeLoader(data, 8, shuffle=True,
                                   generator=torch.Generator().manual_seed(3)))
        assert_same_batches(expected, got)
        assert torch.equal(torch.rand(3), after_pyg)  # the same random numbers follow
    sampler = DistributedSampler(dataset, num_replicas=2, rank=1, shuffle=True, seed=4)
    assert_same_batches(DataLoader(dataset, batch_size=5, sampler=sampler),
                        FixedSizeLoader(dataset, 5, sampler=sampler))
    assert len(FixedSizeLoader(dataset, 8)) == 5


def test_other_datasets_take_the_pyg_loader(datasets):
    from torch_nri.transforms import KNNGraph

    transformed = SpringsDataset(datasets[0].root, transform=KNNGraph(k=2), **SMALL)
    assert not fixed_size(transformed)
    assert isinstance(make_loader(transformed, 8), DataLoader)
    assert isinstance(make_loader(datasets[0], 8), FixedSizeLoader)
    with pytest.raises(ValueError, match="FixedSizeLoader needs an in-memory dataset"):
        FixedSizeLoader(transformed, 8)


def test_a_run_on_the_fast_path_equals_one_on_the_pyg_path(tmp_path, monkeypatch):
    def run(name):
        config = TrainConfig(num_train=40, num_valid=12, num_test=8, encoder_hidden=8,
                             decoder_hidden=8, batch_size=16, epochs=2, progress=False,
                             threads=1, device="cpu", out=str(tmp_path / name),
                             data_root=str(tmp_path / "data"))  # compared bit for bit
        results = train(config)
        return results, torch.load(tmp_path / name / "last.pt", weights_only=False)

    fast, fast_state = run("fast")
    monkeypatch.setattr(batching, "fixed_size", lambda dataset: False)
    pyg, pyg_state = run("pyg")
    for key, value in pyg_state["model"].items():
        assert torch.equal(fast_state["model"][key], value), key
    for a, b in zip(fast_state["history"], pyg_state["history"]):
        assert {**a, "seconds": 0} == {**b, "seconds": 0}
    assert {**fast, "run_dir": 0, "train_seconds": 0} == {**pyg, "run_dir": 0,
                                                          "train_seconds": 0}
