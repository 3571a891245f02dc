import tracemalloc
import warnings

import numpy as np
import pytest
import torch

from torch_nri.datasets import MinMaxStats, TrajectoryDataset, load_splits, read_trajectories


def write(tmp_path, name="data.npz", **arrays):
    path = tmp_path / name
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
    with pytest.raises(ValueError, match=r"'edges'.*\[2, 4, 4\] \(one graph per sample\) or "
                                         r"\[samples, T, N, N\] = \[2, 3, 4, 4\] \(a graph per "
                                         r"step\), got \(2, 4, 3\)"):
        TrajectoryDataset(write(tmp_path, x=np.zeros((2, 3, 4, 2)), edges=np.zeros((2, 4, 3))))


def write_splits(directory, num_nodes=7, num_features=3, steps=(12, 12, 30), edges=True,
                 seed=0, per_step=False, listed=False):
    """Writes train/valid/test.npz of random walks, with random relations (a graph
    per step with ``per_step``; as an edge list with ``listed``); returns the
    directory."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for name, num_steps, num_samples in zip(("train", "valid", "test"), steps, (10, 4, 4)):
        x = rng.normal(size=(num_samples, num_steps, num_nodes, num_features)).cumsum(1)
        arrays = {"x": x}
        if edges:
            shape = (num_samples, *((num_steps,) if per_step else ()), num_nodes, num_nodes)
            types = rng.integers(0, 2, size=shape)
            if listed:
                arrays["edge_list"] = edge_list_of(types)
            else:
                arrays["edges"] = types
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


def edge_list_of(edges):
    """The rows (sample, [step,] sender, receiver, type) of dense edges, off the
    diagonal, in a shuffled order."""
    index = np.nonzero(edges)
    between = index[-2] != index[-1]
    index = tuple(i[between] for i in index)
    rows = np.stack([*index, edges[index]], axis=1)
    return rows[np.random.default_rng(1).permutation(len(rows))]


@pytest.mark.parametrize("graph, k", [("full", None), ("knn", 2)])
def test_an_edge_list_reads_as_the_dense_edges(tmp_path, graph, k):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 15, 6, 2))
    edges = rng.integers(0, 3, size=(3, 6, 6))  # the diagonal is not read
    dense = TrajectoryDataset(write(tmp_path, x=x, edges=edges), graph=graph, k=k)
    listed = TrajectoryDataset(write(tmp_path, x=x, edge_list=edge_list_of(edges)),
                               graph=graph, k=k)
    for a, b in zip(dense, listed):
        assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_type, b.edge_type)
        assert b.edge_type.dtype == torch.long
        senders, receivers = b.edge_index
    assert torch.equal(b.edge_type, torch.as_tensor(edges[2][senders, receivers]))
    assert dense.candidate_recall == listed.candidate_recall
    assert (listed.candidate_recall == 1.0) == (graph == "full")


def test_relations_per_step_are_the_proximity_system_s(tmp_path):
    from torch_nri.datasets import ProximityDataset
    from torch_nri.simulations import simulate_proximity

    proximity = ProximityDataset(str(tmp_path / "sim"), num_nodes=8, num_train=2, num_valid=1,
                                 num_test=1, graph="knn", k=3)
    sim = simulate_proximity(3, 8, 51, seed=0, density=0.5)
    dense_edges = sim.dense_relations()  # [S, T, N, N]
    assert dense_edges.any()
    graph_of = proximity.graph_of()  # the union of every step's kNN graph
    for arrays in (dict(edges=dense_edges), dict(edge_list=edge_list_of(dense_edges))):
        ds = TrajectoryDataset(write(tmp_path, x=sim.features, **arrays), graph="knn", k=3)
        for s, item in enumerate(ds):
            raw = torch.from_numpy(sim.features[s]).transpose(0, 1)
            expected = proximity._make_item(raw, graph_of(raw), sim.edge_types, s)
            assert torch.equal(item.edge_index, expected.edge_index)
            assert item.edge_type.shape == (item.edge_index.size(1), 50)
            assert item.edge_type.dtype == expected.edge_type.dtype == torch.long
            assert torch.equal(item.edge_type, expected.edge_type)
    found = sum(int(item.edge_type.count_nonzero()) for item in ds)
    assert ds.candidate_recall == found / int(dense_edges.sum())


ROW_ERRORS = [
    (np.array([[0, 0, 1]]), r"must have shape \[M, 4\], rows \(sample, sender, receiver, type\), "
                            r"or \[M, 5\].*got \(1, 3\)"),
    (np.array([[0, 0, 1, 1.0]]), r"must hold integers, got dtype float64"),
    (np.array([[0, 0, 1, 1], [1, 2, 3, 0]]),
     r"row 1 \[1, 2, 3, 0\] \(sample, sender, receiver, type\) has type 0: list only related "
     r"pairs, of types 1 and up \(type 0 is no edge, every pair not listed\)"),
    (np.array([[0, 0, 1, -2]]), r"row 0 \[0, 0, 1, -2\] .* has type -2"),
    (np.array([[0, 0, 1, 1], [2, 0, 1, 1]]),
     r"row 1 \[2, 0, 1, 1\] .* has sample 2, outside \[0, 2\): 'x' has 2 samples"),
    (np.array([[-1, 0, 1, 1]]), r"row 0 \[-1, 0, 1, 1\] .* has sample -1, outside \[0, 2\)"),
    (np.array([[0, 4, 1, 1]]), r"row 0 \[0, 4, 1, 1\] .* has sender 4, outside \[0, 4\): 'x' "
                               r"has 4 objects"),
    (np.array([[1, 0, -1, 1]]), r"row 0 \[1, 0, -1, 1\] .* has receiver -1, outside \[0, 4\)"),
    (np.array([[1, 2, 0, 1, 1]]), r"row 0 \[1, 2, 0, 1, 1\] \(sample, step, sender, receiver, "
                                  r"type\) has step 2, outside \[0, 2\): 'x' has 2 steps"),
    (np.array([[0, 3, 3, 1]]), r"row 0 \[0, 3, 3, 1\] .* relates object 3 to itself"),
    (np.array([[0, 0, 1, 1], [1, 0, 1, 1], [0, 2, 1, 2], [0, 0, 1, 2]]),
     r"row 3 \[0, 0, 1, 2\] repeats row 0 \[0, 0, 1, 1\]: the same sample, sender, receiver "
     r"listed twice"),
    (np.array([[0, 1, 0, 1, 1], [0, 0, 0, 1, 1], [0, 1, 0, 1, 1]]),
     r"row 2 \[0, 1, 0, 1, 1\] repeats row 0 .*: the same sample, step, sender, receiver"),
]


@pytest.mark.parametrize("edge_list, match", ROW_ERRORS)
def test_bad_edge_lists_name_the_file_and_the_first_bad_row(tmp_path, edge_list, match):
    path = write(tmp_path, x=np.zeros((2, 2, 4, 2)), edge_list=edge_list)
    with pytest.raises(ValueError, match=r"'edge_list' in .*data.npz.*" + match):
        read_trajectories(path)


def test_edges_and_an_edge_list_together_are_refused(tmp_path):
    path = write(tmp_path, x=np.zeros((2, 3, 4, 2)), edges=np.zeros((2, 4, 4), dtype=int),
                 edge_list=np.array([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match=r"data.npz holds both 'edges' and 'edge_list'"):
        read_trajectories(path)


def test_arrays_that_are_not_read_are_warned_about(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 2))
    with pytest.warns(UserWarning, match=r"data.npz holds arrays that are not read: "
                                         r"edgelist, names \(a trajectory file's arrays are x, "
                                         r"edges, edge_list\)"):
        read_trajectories(write(tmp_path, x=x, edgelist=np.zeros((1, 4)), names=np.zeros(4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_trajectories(write(tmp_path, x=x, edge_list=np.array([[0, 0, 1, 1]])))


def test_candidate_recall_counts_the_related_pairs_that_are_not_candidates(tmp_path):
    x = np.zeros((1, 3, 4, 2))
    x[0, :, :, 0] = [0.0, 1.0, 2.5, 10.0]  # on a line
    # The nearest neighbour of each object: candidates 1->0, 0->1, 1->2 and 2->3.
    edge_list = np.array([[0, 0, 1, 1], [0, 1, 0, 1], [0, 3, 0, 2], [0, 0, 3, 2]])
    path = write(tmp_path, x=x, edge_list=edge_list)
    knn = TrajectoryDataset(path, graph="knn", k=1)
    assert knn[0].edge_type.tolist() == [1, 1, 0, 0]  # 3->0 and 0->3 are not candidates
    assert knn.candidate_recall == 0.5
    assert TrajectoryDataset(path).candidate_recall == 1.0
    assert TrajectoryDataset(write(tmp_path, x=x)).candidate_recall is None
    no_relations = np.zeros((0, 4), dtype=int)
    assert TrajectoryDataset(write(tmp_path, x=x, edge_list=no_relations)).candidate_recall is None
    assert TrajectoryDataset(write(tmp_path, x=x, edges=np.eye(4, dtype=int)[None])
                             ).candidate_recall is None  # the diagonal is no relation


def test_an_edge_list_of_ten_thousand_objects_is_never_densified(tmp_path):
    num_nodes = 10_000
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, size=(2, 2, num_nodes, 2))
    rows = np.stack([rng.integers(0, 2, 50_000), rng.integers(0, num_nodes, 50_000),
                     rng.integers(0, num_nodes, 50_000), np.ones(50_000, dtype=int)], axis=1)
    rows = rows[rows[:, 1] != rows[:, 2]]
    rows = np.unique(rows, axis=0)
    path = write(tmp_path, x=x, edge_list=rows)
    tracemalloc.start()  # numpy's allocations; dense [N, N] types would be 800 MB a sample
    try:
        ds = TrajectoryDataset(path, graph="knn", k=4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2 ** 20, peak
    assert ds[0].edge_type.shape == (4 * num_nodes,)
    assert 0 < ds.candidate_recall < 0.01  # random pairs are seldom neighbours


def test_declared_position_features_make_the_candidate_graph(tmp_path):
    from torch_nri.graphs import knn_graph, radius_graph

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 9, 3)) * [1.0, 3.0, 30.0]
    path = write(tmp_path, x=x)
    stats = MinMaxStats.fit(x, [[0], [1], [2]])
    raw = torch.tensor(x[1], dtype=torch.float32).transpose(0, 1)  # [N, T, F]
    ds = TrajectoryDataset(path, stats=stats, graph="knn", k=3, position_features=[1, 2])
    assert torch.equal(ds[1].edge_index, knn_graph(raw[:, 0, [1, 2]], 3))  # raw positions
    assert ds.position_features == [1, 2]
    default = TrajectoryDataset(path, graph="knn", k=3)
    assert torch.equal(default[1].edge_index, knn_graph(raw[:, 0, :2], 3))
    assert default.position_features == [0, 1]
    one = write(tmp_path, "one.npz", x=x[..., 2:])
    assert torch.equal(TrajectoryDataset(one, graph="knn", k=2, position_features=[0])[1]
                       .edge_index, knn_graph(raw[:, 0, 2:], 2))
    assert TrajectoryDataset(one).position_features is None
    radius = TrajectoryDataset(path, stats=stats, graph="radius", graph_radius=20.0,
                               position_features=[2])
    assert torch.equal(radius[1].edge_index, radius_graph(raw[:, 0, [2]], 20.0))
    with pytest.raises(ValueError, match=r"'position_features' \[0, 3\] must index the 3 "
                                         r"features of 'x' in .*data.npz: index 3 is out of "
                                         r"range"):
        TrajectoryDataset(path, position_features=[0, 3])
    for bad, match in (([], r"at least one feature"), ([1, 1], r"must be distinct, got \[1, 1\]"),
                       ([-1], r"non-negative integer feature indices, got \[-1\]")):
        with pytest.raises(ValueError, match=match):
            TrajectoryDataset(path, graph="knn", k=2, position_features=bad)


def test_a_radius_graph_without_candidate_edges_is_refused(tmp_path):
    x = np.zeros((2, 3, 3, 2))
    x[:, :, :, 0] = [0.0, 1.0, 2.0]
    x[1, :, :, 0] = [0.0, 4.0, 8.0]
    path = write(tmp_path, x=x)
    assert TrajectoryDataset(path, graph="radius", graph_radius=5.0)[1].edge_index.size(1) == 4
    with pytest.raises(ValueError, match=r"data.npz, sample 1: graph='radius' with "
                                         r"graph_radius=2.0 leaves a system without a "
                                         r"candidate edge: its closest two objects are 4 "
                                         r"apart .*use a larger graph_radius"):
        TrajectoryDataset(path, graph="radius", graph_radius=2.0)
    with pytest.raises(ValueError, match=r"graph='radius' needs a positive 'graph_radius'"):
        TrajectoryDataset(path, graph="radius")
    with pytest.raises(ValueError, match=r"'graph_radius' is the distance of graph='radius', "
                                         r"but graph='knn'"):
        TrajectoryDataset(path, graph="knn", k=2, graph_radius=1.0)


def test_load_splits_refuses_relations_of_two_forms(tmp_path):
    directory = write_splits(tmp_path / "data", steps=(12, 12, 30))
    np.savez(tmp_path / "data" / "test.npz", x=np.zeros((2, 30, 7, 3)),
             edges=np.zeros((2, 30, 7, 7), dtype=int))
    with pytest.raises(ValueError, match=r"relations must be of one form, got one graph per "
                                         r"sample in .*train.npz; .*a graph per step in "
                                         r".*test.npz"):
        load_splits(directory)
