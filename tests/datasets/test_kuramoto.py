import hashlib
import json
import os

import numpy as np
import pytest
import torch

from torch_nri.datasets import KuramotoDataset, SpringsDataset
from torch_nri.simulations import simulate_kuramoto

SMALL = dict(num_train=12, num_valid=4, num_test=4)


def _split_seed(index: int, seed: int = 42) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _key_without_pinned_physics(ds) -> str:
    # The cache key as torch_nri computed it before `key_physics`.
    canonical = json.dumps({"name": ds.name, **ds.params}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def test_default_data_are_the_authors_features(tmp_path):
    train = KuramotoDataset(str(tmp_path), **SMALL)
    test = KuramotoDataset(str(tmp_path), split="test", **SMALL)
    assert train.physics["features"] == "authors" and train.physics["scale_length"] == 1000
    assert train[0].x.shape == (5, 49, 3) and test[0].x.shape == (5, 99, 3)
    # The simulator's features, then each feature min-max scaled on its own over
    # the training split (the NRI loader's normalisation).
    raw = simulate_kuramoto(12, 5, 500, 10, _split_seed(0)).features  # [S, T, N, 3]
    assert train.stats.names == ["phase_velocity", "sin_phase", "omega"]
    assert train.stats.groups == [[0], [1], [2]]
    for f in range(3):
        assert train.stats.minimum[f] == pytest.approx(float(raw[..., f].min()))
        assert train.stats.maximum[f] == pytest.approx(float(raw[..., f].max()))
    low, high = raw.min((0, 1, 2)), raw.max((0, 1, 2))
    expected = torch.from_numpy(2 * (raw - low) / (high - low) - 1).transpose(1, 2)
    assert torch.allclose(torch.stack([train[s].x for s in range(12)]), expected, atol=1e-5)
    raw_test = simulate_kuramoto(4, 5, 1000, 10, _split_seed(2)).features
    expected_test = torch.from_numpy(raw_test[3]).transpose(0, 1)
    assert torch.allclose(test.denormalize(test[3].x), expected_test, atol=1e-5)


def test_cache_tells_the_feature_sets_apart(tmp_path):
    authors = KuramotoDataset(str(tmp_path), **SMALL)
    explicit = KuramotoDataset(str(tmp_path), features="authors", **SMALL)
    analytic = KuramotoDataset(str(tmp_path), features="analytic", **SMALL)
    assert authors.processed_dir == explicit.processed_dir  # a default given explicitly
    assert authors.processed_dir != analytic.processed_dir
    assert len(os.listdir(os.path.join(str(tmp_path), "processed"))) == 2
    # A cache written before the authors' features became the default (same
    # parameters, analytic data) has another key, so it is never read as theirs.
    assert authors.key != _key_without_pinned_physics(authors)
    assert not torch.allclose(authors[0].x, analytic[0].x)
    raw = simulate_kuramoto(12, 5, 500, 10, _split_seed(0), features="analytic").features
    assert torch.allclose(analytic.denormalize(analytic[5].x),
                          torch.from_numpy(raw[5]).transpose(0, 1), atol=1e-4)
    assert analytic.physics["features"] == "analytic"
    with pytest.raises(ValueError, match="'features' must be one of"):
        KuramotoDataset(str(tmp_path / "bad"), features="raw", **SMALL)


def test_other_systems_keep_their_cache_keys(tmp_path):
    ds = SpringsDataset(str(tmp_path), length=200, test_length=400, **SMALL)
    assert ds.key == _key_without_pinned_physics(ds)
