import numpy as np
import pytest

from torch_nri.datasets.acclaim import joint_positions, read_amc, read_asf
from torch_nri.datasets.mocap import MocapDataset, load_mocap, mocap_splits
from tests.datasets.test_acclaim import pose, write_amc, write_asf


def test_load_mocap_gives_positions_and_velocities(tmp_path):
    rng = np.random.default_rng(3)
    frames = [pose(root=rng.uniform(-5, 5, 6), **{name: rng.uniform(-90, 90, 3) for name in "abc"})
              for _ in range(5)]
    asf = write_asf(tmp_path / "s.asf")
    amc = write_amc(tmp_path / "m.amc", frames)
    skeleton = read_asf(asf)
    expected = joint_positions(skeleton, read_amc(amc))

    (trial,) = load_mocap(asf, [amc])
    assert trial.shape == (4, 4, 6)
    np.testing.assert_allclose(trial[..., :3], expected[1:])
    np.testing.assert_allclose(trial[..., 3:], expected[1:] - expected[:-1])

    (sampled,) = load_mocap(str(asf), str(amc), sample_every=2)
    assert sampled.shape == (2, 4, 6)
    np.testing.assert_allclose(sampled[..., :3], expected[[2, 4]])
    np.testing.assert_allclose(sampled[..., 3:], expected[[2, 4]] - expected[[0, 2]])

    other = write_amc(tmp_path / "other.amc", frames[:3])
    assert [t.shape for t in load_mocap(asf, [amc, other])] == [(4, 4, 6), (2, 4, 6)]


def test_load_mocap_reports_missing_trials(tmp_path):
    asf = write_asf(tmp_path / "s.asf")
    with pytest.raises(FileNotFoundError, match="nope.amc"):
        load_mocap(asf, [tmp_path / "nope.amc"])


def test_load_mocap_arguments(tmp_path):
    asf = write_asf(tmp_path / "s.asf")
    amc = write_amc(tmp_path / "m.amc", [pose(), pose(), pose()])
    with pytest.raises(ValueError, match="'sample_every' must be a positive integer"):
        load_mocap(asf, [amc], sample_every=0)
    with pytest.raises(ValueError, match="m.amc: needs at least 2 frames.*got 1"):
        load_mocap(asf, [amc], sample_every=3)


def test_mocap_dataset_cuts_normalised_windows(tmp_path):
    rng = np.random.default_rng(0)
    frames = [pose(root=rng.uniform(-5, 5, 6), **{name: rng.uniform(-90, 90, 3) for name in "abc"})
              for _ in range(12)]
    asf = write_asf(tmp_path / "s.asf")
    amc = write_amc(tmp_path / "m.amc", frames)
    (trial,) = load_mocap(asf, [amc])  # 11 steps of 4 joints
    ds = MocapDataset(asf, [amc], num_steps=4, stride=3)
    assert len(ds) == 3  # windows start at steps 0, 3, 6
    item = ds[1]
    assert item.x.shape == (4, 4, 6) and item.edge_index.shape == (2, 12)
    raw = ds.stats.denormalize(item.x.transpose(0, 1).double())
    np.testing.assert_allclose(raw.numpy(), trial[3:7], atol=1e-5)
    assert ds.stats.names == ["position", "velocity"]
    assert ds.x.min() >= -1 - 1e-6 and ds.x.max() <= 1 + 1e-6
    # The statistics of the training trials normalise the others.
    other = MocapDataset(asf, [amc], num_steps=5, stats=ds.stats)
    assert other.stats is ds.stats and len(other) == 2
    with pytest.raises(ValueError, match="no trial has 20 steps"):
        MocapDataset(asf, [amc], num_steps=20)
    with pytest.raises(ValueError, match="'stride' must be a positive integer"):
        MocapDataset(asf, [amc], stride=0)


@pytest.mark.parametrize("protocol,sizes,steps", [("dnri", (12, 4, 2), (50, 100)),
                                                  ("nri", (11, 4, 3), (49, 99))])
def test_subject_35_splits_as_the_papers(tmp_path, protocol, sizes, steps):
    rng = np.random.default_rng(1)
    asf = write_asf(tmp_path / "35.asf")
    lengths = {}
    for trial in range(1, 19):  # 18 trials, named as CMU names them
        frames = [pose(root=rng.uniform(-5, 5, 6)) for _ in range(101 + trial)]
        write_amc(tmp_path / f"35_{trial:02d}.amc", frames)
        lengths[trial] = 100 + trial  # steps: the first frame has no velocity
    train, valid, test = mocap_splits(tmp_path, protocol)
    first_valid, first_test = sizes[0] + 1, sizes[0] + sizes[1] + 1
    windows = [sum(lengths[t] // steps[0] for t in range(1, first_valid)),
               sum(lengths[t] // steps[0] for t in range(first_valid, first_test)),
               sum(lengths[t] // steps[1] for t in range(first_test, 19))]
    assert [len(train), len(valid), len(test)] == windows
    assert train[0].x.shape == (4, steps[0], 6) and test[0].x.shape == (4, steps[1], 6)
    assert train.stats is valid.stats is test.stats
    (first,) = load_mocap(tmp_path / "35.asf", [tmp_path / "35_01.amc"])
    np.testing.assert_allclose(train.stats.denormalize(train[0].x.transpose(0, 1).double()),
                               first[:steps[0]], atol=1e-4)
    scaled = train.x.abs().amax(dim=(0, 1))
    if protocol == "nri":  # the largest absolute value of each group is 1
        assert scaled[:3].max() == pytest.approx(1) and scaled[3:].max() == pytest.approx(1)
    else:
        assert train.x.min() == pytest.approx(-1, abs=1e-5)


def test_subject_35_splits_need_the_files(tmp_path):
    write_asf(tmp_path / "35.asf")
    with pytest.raises(ValueError, match="needs more than 12 \\+ 4 trials"):
        mocap_splits(tmp_path)
    with pytest.raises(ValueError, match="'protocol'"):
        mocap_splits(tmp_path, "lstm")
