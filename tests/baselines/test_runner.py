import pytest
import torch

from torch_nri.baselines import as_arrays, run_baseline, static_mse
from torch_nri.datasets import load_splits
from tests.datasets.test_trajectory import write_splits


def test_path_baselines_follow_the_run_s_protocol(tmp_path):
    splits = load_splits(write_splits(tmp_path / "own", steps=(12, 12, 30)))
    results = run_baseline("static", splits, horizon=5)
    x_test, _ = as_arrays(splits[2])
    # The training length (12) is the observed window, as for the models' runs.
    assert results["mse"] == static_mse(x_test, observed_steps=12, horizon=5)
    expected = (x_test[:, 13:18] - x_test[:, 12:13]).double().pow(2).mean((0, 2, 3))
    assert torch.allclose(torch.tensor(results["mse"], dtype=torch.float64), expected)
    assert len(run_baseline("static", splits, observed_steps=20, horizon=9)["mse"]) == 9


def test_edge_baselines_need_relations(tmp_path):
    splits = load_splits(write_splits(tmp_path / "own", steps=(12, 12, 30), edges=False))
    with pytest.raises(ValueError, match="the correlation baseline is fitted and scored on the "
                                         "true relations"):
        run_baseline("correlation", splits)
    assert 0 <= run_baseline("correlation", load_splits(
        write_splits(tmp_path / "labelled", steps=(12, 12, 30))))["accuracy"] <= 1
