import pytest

from torch_nri.datasets import (SYSTEMS, ChargedDataset, KuramotoDataset, ProximityDataset,
                                SpringsDataset, get_system, physics_parameters)

SMALL = dict(num_train=4, num_valid=2, num_test=2, length=300, test_length=300, sample_freq=100)


def test_each_system_is_described_once_by_its_dataset_class():
    assert SYSTEMS == {"springs": SpringsDataset, "charged": ChargedDataset,
                       "kuramoto": KuramotoDataset, "proximity": ProximityDataset}
    for name, cls in SYSTEMS.items():
        assert get_system(name) is cls and cls.name == name
        features = sorted(i for group in cls.feature_groups.values() for i in group)
        assert features == list(range(len(features)))  # every feature in one group
    assert list(SpringsDataset.feature_groups) == ["position", "velocity"]
    with pytest.raises(ValueError, match=r"'system' must be one of \['charged', 'kuramoto', "
                                         r"'proximity', 'springs'\], got 'gas'"):
        get_system("gas")


def test_physics_parameters_come_from_the_simulators():
    springs = SpringsDataset.physics_parameters()
    assert springs["num_neighbors"].type is int and not springs["num_neighbors"].sequence
    assert springs["spring_types"].sequence and springs["spring_types"].default == (0.0, 1.0)
    assert ChargedDataset.physics_parameters()["cutoff"].default is None
    assert KuramotoDataset.physics_parameters()["omega_range"].sequence
    everything = physics_parameters()
    assert {"num_neighbors", "cutoff", "omega_range", "box_size"} <= set(everything)
    assert not {"num_sims", "length", "seed", "progress"} & set(everything)


def test_physics_is_checked_and_completed_with_the_defaults():
    physics = SpringsDataset.resolve_physics({"box_size": 3, "spring_types": (0, 0.5, 1)})
    assert physics["box_size"] == 3.0 and physics["spring_types"] == [0.0, 0.5, 1.0]
    assert physics["interaction_strength"] == 0.1 and physics["num_neighbors"] is None
    with pytest.raises(ValueError, match="springs systems have no physics parameter 'cutoff'"):
        SpringsDataset.resolve_physics({"cutoff": 1.0})
    with pytest.raises(ValueError, match="'num_neighbors' must be int, got 2.5"):
        SpringsDataset.resolve_physics({"num_neighbors": 2.5})
    with pytest.raises(ValueError, match="'spring_types' must be a sequence of float"):
        SpringsDataset.resolve_physics({"spring_types": 0.5})


def test_the_cache_is_keyed_by_the_effective_physics(tmp_path):
    plain = SpringsDataset(str(tmp_path), **SMALL)
    explicit = SpringsDataset(str(tmp_path), box_size=5.0, dt=0.001, **SMALL)
    other = SpringsDataset(str(tmp_path), box_size=4.0, **SMALL)
    assert plain.processed_dir == explicit.processed_dir != other.processed_dir
    assert plain.physics == explicit.physics and other.physics["box_size"] == 4.0


def test_springs_physics_in_physical_units(tmp_path):
    ds = SpringsDataset(str(tmp_path), interaction_strength=0.2, spring_types=(0.0, 0.5, 1.0),
                        dt=0.002, box_size=3.0, **{**SMALL, "sample_freq": 50})
    assert ds.spring_constants == [0.0, 0.1, 0.2]
    assert ds.box_size == 3.0 and ds.time_step == pytest.approx(0.1)
    assert ds.stats.names == ["position", "velocity"]
