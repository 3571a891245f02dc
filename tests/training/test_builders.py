import pytest

from torch_nri.datasets import SpringsDataset
from torch_nri.training import TrainConfig, build_datasets, dataset_options, model_config
from torch_nri.training.builders import check_data
from tests.datasets.test_trajectory import write_splits

SMALL = dict(num_train=8, num_valid=4, num_test=4, length=1000, test_length=3000,
             progress=False)


def test_the_simulator_decoder_follows_the_data_s_physics(tmp_path):
    config = TrainConfig(decoder="sim", data_root=str(tmp_path), sample_freq=50,
                         physics={"interaction_strength": 0.2, "box_size": 3.0, "dt": 0.002},
                         **SMALL)
    train_set = build_datasets(config)[0]
    assert isinstance(train_set, SpringsDataset) and train_set.physics["box_size"] == 3.0
    kwargs = model_config(config, train_set)["decoder"]["kwargs"]
    assert kwargs["spring_constants"] == [0.0, 0.2] and kwargs["box_size"] == 3.0
    assert kwargs["time_step"] == pytest.approx(0.1)
    assert kwargs["position_range"] == list(train_set.stats.range_of("position"))
    with pytest.raises(ValueError, match=r"one edge type per spring type of the data \(3"):
        TrainConfig(decoder="sim", num_edge_types=2, physics={"spring_types": [0, 0.5, 1]})


def test_generate_and_train_share_one_set_of_data_options():
    config = TrainConfig(system="charged", num_nodes=7, length=2000, sample_freq=50,
                         physics={"cutoff": 2.0}, graph="knn", k=3, seed=3)
    options = dataset_options(config)
    assert options["cutoff"] == 2.0 and options["sample_freq"] == 50 and options["seed"] == 3
    assert options["graph"] == "knn" and options["length"] == 2000
    with pytest.raises(ValueError, match="charged systems have no physics parameter "
                                         "'num_neighbors'"):
        TrainConfig(system="charged", physics={"num_neighbors": 3})
    with pytest.raises(ValueError, match="'physics' describes simulated systems"):
        TrainConfig(data="somewhere", physics={"box_size": 3.0})


def test_the_data_is_checked_before_any_training(tmp_path):
    directory = write_splits(tmp_path / "own", steps=(16, 16, 24))
    splits = build_datasets(TrainConfig(data=directory, encoder="cnn"))
    assert splits[0].num_features == 3
    with pytest.raises(ValueError, match=r"needs 37 steps \(encoder 16 \+ horizon 20 \+ 1\), "
                                         r"the test split of .*own has 24"):
        check_data(TrainConfig(data=directory, encoder="cnn"), splits)
    assert check_data(TrainConfig(data=directory, encoder="cnn", horizon=7), splits) == 16
    assert check_data(TrainConfig(data=directory, encoder="cnn", horizon=7,
                                  observed_steps=14), splits) == 14
    with pytest.raises(ValueError, match=r"the cnn encoder reads at least 14 steps; the "
                                         r"training trajectories have 16 and observed_steps is 5"):
        check_data(TrainConfig(data=directory, encoder="cnn", horizon=7, observed_steps=5),
                   splits)
    with pytest.raises(ValueError, match=r"the mlp encoder reads windows of the training "
                                         r"length \(16 steps\), so observed_steps must be 16"):
        check_data(TrainConfig(data=directory, horizon=7, observed_steps=14), splits)
    with pytest.raises(ValueError, match="has edge types up to 1, more than num_edge_types=1"):
        check_data(TrainConfig(data=directory, horizon=7, num_edge_types=1), splits)
    unlabelled = write_splits(tmp_path / "unlabelled", edges=False, steps=(16, 16, 24))
    splits = build_datasets(TrainConfig(data=unlabelled))
    with pytest.raises(ValueError, match="model='supervised' needs the true relations, but "
                                         "the train split of .*unlabelled has none"):
        check_data(TrainConfig(data=unlabelled, model="supervised", horizon=7), splits)
    with pytest.raises(ValueError, match="model='full-graph' infers no graph"):
        TrainConfig(model="full-graph", dynamic_graph=True)
