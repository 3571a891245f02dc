import pytest
import torch
from torch_geometric.data import Batch, Data

from torch_nri.datasets import SpringsDataset
from torch_nri.graphs import fully_connected_edge_index, knn_graph, radius_graph
from torch_nri.transforms import KNNGraph, RadiusGraph


def item(num_nodes=12, num_steps=6):
    x = torch.randn(num_nodes, num_steps, 4)
    relations = torch.randint(0, 3, (num_nodes, num_nodes))
    edge_index = fully_connected_edge_index(num_nodes)
    return Data(x=x, edge_index=edge_index,
                edge_type=relations[edge_index[0], edge_index[1]]), relations


def test_knn_transform_uses_the_window_and_keeps_true_types():
    data, relations = item()
    x = data.x.clone()
    out = KNNGraph(k=3, steps=slice(1, 4))(data)
    assert torch.equal(out.edge_index, knn_graph(x[:, 1:4, :2], 3))
    assert torch.equal(out.edge_type, relations[out.edge_index[0], out.edge_index[1]])


def test_radius_transform_uses_one_step_and_chosen_features():
    data, relations = item()
    x = data.x.clone()
    out = RadiusGraph(r=1.0, steps=2, pos_features=(2, 3))(data)
    assert torch.equal(out.edge_index, radius_graph(x[:, 2, 2:], 1.0))
    assert torch.equal(out.edge_type, relations[out.edge_index[0], out.edge_index[1]])


def test_transform_on_a_batch_keeps_graphs_apart():
    batch = Batch.from_data_list([item(7)[0], item(5)[0]])
    out = KNNGraph(k=2, steps=[0, 5])(batch)
    assert (batch.batch[out.edge_index[0]] == batch.batch[out.edge_index[1]]).all()


def test_transform_refuses_edges_of_unknown_type():
    data, _ = item()
    data.edge_index = knn_graph(data.x[:, 0, :2], 2)
    data.edge_type = torch.zeros(data.edge_index.size(1), dtype=torch.long)
    with pytest.raises(ValueError, match="true type is unknown"):
        KNNGraph(k=4, steps=slice(0, 6))(data)
    with pytest.raises(ValueError, match=r"'data.x' must have shape"):
        KNNGraph(k=2)(Data(x=torch.randn(5, 2), edge_index=fully_connected_edge_index(5)))


def test_transform_on_a_simulated_dataset(tmp_path):
    ds = SpringsDataset(str(tmp_path), num_nodes=8, num_train=4, num_valid=2, num_test=2,
                        length=1000, test_length=1000, transform=KNNGraph(k=3, steps=slice(0, 5)))
    data = ds[1]
    assert torch.equal(data.edge_index, knn_graph(data.x[:, :5, :2], 3))
    assert data.edge_type.shape == (data.edge_index.size(1),)
    assert repr(ds.transform) == "KNNGraph(k=3, steps=slice(0, 5, None))"


# (arguments, message): steps or features beyond the trajectory of item()
# (12 nodes, 6 steps, 4 features), each named with what was asked and what
# the trajectory has (before: an IndexError from deep inside torch, or an
# empty selection).
BEYOND = [
    (dict(steps=6), r"'steps' asks for step 6, beyond the trajectory's 6 steps \(data.x has "
                    r"steps 0 to 5, or -6 to -1 from its end\)"),
    (dict(steps=-7), r"'steps' asks for step -7, beyond the trajectory's 6 steps"),
    (dict(steps=[0, 2, 40]), r"'steps' asks for step 40, beyond the trajectory's 6 steps"),
    (dict(steps=slice(2, 10)), r"'steps' slice\(2, 10, None\) ends at step 10, beyond the "
                               r"trajectory's 6 steps"),
    (dict(steps=slice(8, None)), r"'steps' slice\(8, None, None\) starts at step 8, beyond"),
    (dict(steps=slice(4, 2)), r"'steps' slice\(4, 2, None\) selects no step of the "
                              r"trajectory's 6 steps"),
    (dict(pos_features=(2, 4)), r"'pos_features' \[2, 4\] asks for feature 4, but data.x has 4 "
                                r"features \(0 to 3\)"),
]


@pytest.mark.parametrize("transform", [KNNGraph, RadiusGraph])
@pytest.mark.parametrize("options, match", BEYOND, ids=[str(o) for o, _ in BEYOND])
def test_steps_and_features_beyond_the_trajectory_are_named(transform, options, match):
    data, _ = item()
    with pytest.raises(ValueError, match=match):
        transform(2 if transform is KNNGraph else 1.0, **options)(data)


def test_steps_within_the_trajectory_are_taken_as_python_indexes():
    data, _ = item()
    x = data.x.clone()
    for steps, window in [(-1, x[:, 5]), (slice(-3, None), x[:, 3:]), (slice(0, 6), x),
                          (torch.tensor([0, 5]), x[:, [0, 5]])]:
        out = KNNGraph(k=3, steps=steps)(data.clone())
        assert torch.equal(out.edge_index, knn_graph(window[..., :2], 3))


@pytest.mark.parametrize("options", [dict(steps="0"), dict(steps=[]), dict(steps=1.5),
                                     dict(steps=True), dict(steps=slice(0, 4, 0)),
                                     dict(steps=slice(0.5, 4)), dict(pos_features=[-1, 0]),
                                     dict(pos_features=[])])
def test_steps_and_features_of_the_wrong_kind_are_refused_when_built(options):
    name = next(iter(options))
    with pytest.raises(ValueError, match=rf"^'{name}' "):
        KNNGraph(k=2, **options)
