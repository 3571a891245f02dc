import itertools

import pytest
import torch

from torch_nri.graphs import (candidate_graph, check_candidate_graph, check_position_features,
                              edge_positions, fully_connected_edge_index, knn_graph,
                              radius_graph, reverse_edge_index)
from tests.conftest import random_graph


@pytest.mark.parametrize("num_nodes", [0, 1, 2, 5])
def test_fully_connected_has_every_ordered_pair_once(num_nodes):
    edge_index = fully_connected_edge_index(num_nodes)
    pairs = [tuple(p) for p in edge_index.t().tolist()]
    assert pairs == list(itertools.permutations(range(num_nodes), 2))


def test_fully_connected_batch_offsets_each_graph():
    edge_index = fully_connected_edge_index([3, 0, 2])
    assert edge_index.size(1) == 3 * 2 + 2 * 1
    assert edge_index[:, 6:].tolist() == [[3, 4], [4, 3]]
    assert torch.equal(fully_connected_edge_index(torch.tensor([3, 2])), edge_index)


def test_fully_connected_rejects_negative_sizes():
    with pytest.raises(ValueError, match="non-negative"):
        fully_connected_edge_index([3, -1])


def test_reverse_edge_index():
    edge_index = random_graph(8, 30)
    reverse = reverse_edge_index(edge_index, 8)
    pairs = {tuple(p): e for e, p in enumerate(edge_index.t().tolist())}
    for e, (i, j) in enumerate(edge_index.t().tolist()):
        assert reverse[e].item() == pairs.get((j, i), -1)
    assert (reverse == -1).any() and (reverse >= 0).any()


def test_reverse_edge_index_of_fully_connected_is_an_involution():
    edge_index = fully_connected_edge_index([4, 3])
    reverse = reverse_edge_index(edge_index)
    assert torch.equal(reverse[reverse], torch.arange(edge_index.size(1)))
    assert torch.equal(edge_index[:, reverse], edge_index.flip(0))


def test_reverse_edge_index_empty_and_invalid():
    assert reverse_edge_index(torch.empty(2, 0, dtype=torch.long), 3).numel() == 0
    with pytest.raises(ValueError, match="out of range for 3 nodes"):
        reverse_edge_index(torch.tensor([[0, 3], [1, 0]]), 3)


def test_knn_graph_matches_brute_force():
    pos = torch.randn(30, 2)
    edge_index = knn_graph(pos, 4)
    assert edge_index.size(1) == 30 * 4
    dist = torch.cdist(pos, pos).fill_diagonal_(float("inf"))
    nearest = dist.topk(4, largest=False).indices  # [N, k] neighbours of each receiver
    for j in range(30):
        assert set(edge_index[0, edge_index[1] == j].tolist()) == set(nearest[j].tolist())


def test_knn_graph_keeps_batch_graphs_apart_and_symmetrises():
    pos = torch.randn(9, 2)
    batch = torch.tensor([0, 0, 0, 0, 0, 1, 1, 2, 2])
    edge_index = knn_graph(pos, 3, batch)
    assert (batch[edge_index[0]] == batch[edge_index[1]]).all()
    assert edge_index.size(1) == 5 * 3 + 2 * 1 + 2 * 1  # small graphs: fully connected
    sym = knn_graph(pos, 2, batch, symmetric=True)
    assert (reverse_edge_index(sym) >= 0).all()
    assert sym.size(1) == torch.unique(sym, dim=1).size(1)
    with pytest.raises(ValueError, match="'k' must be at least 1"):
        knn_graph(pos, 0)


def brute_force_knn(pos, k):
    """Set of (sender, receiver) pairs: each receiver's k nearest others."""
    dist = torch.cdist(pos, pos).fill_diagonal_(float("inf"))
    nearest = dist.topk(k, largest=False).indices
    return {(int(i), j) for j in range(pos.size(0)) for i in nearest[j]}


def brute_force_radius(pos, r):
    dist = torch.cdist(pos.double(), pos.double())
    return {(i, j) for i in range(pos.size(0)) for j in range(pos.size(0))
            if i != j and dist[i, j] <= r}


def pairs_of(edge_index):
    return {tuple(p) for p in edge_index.t().tolist()}


def test_knn_graph_over_a_window_is_the_union_of_each_step():
    pos = torch.randn(25, 4, 2)
    edge_index = knn_graph(pos, 3)
    expected = set().union(*(brute_force_knn(pos[:, t], 3) for t in range(4)))
    assert pairs_of(edge_index) == expected
    assert edge_index.size(1) == len(expected)  # no duplicates
    assert torch.equal(knn_graph(pos[:, :1], 3), knn_graph(pos[:, 0], 3))


def test_radius_graph_matches_brute_force():
    pos = torch.rand(40, 2) * 4
    edge_index = radius_graph(pos, 0.7)
    assert pairs_of(edge_index) == brute_force_radius(pos, 0.7)
    assert edge_index.size(1) == len(brute_force_radius(pos, 0.7))
    window = torch.rand(30, 3, 3)
    expected = set().union(*(brute_force_radius(window[:, t], 0.4) for t in range(3)))
    assert pairs_of(radius_graph(window, 0.4)) == expected


def test_radius_graph_keeps_batch_graphs_apart():
    pos = torch.zeros(6, 2)  # all at one point: every pair within the radius
    batch = torch.tensor([0, 0, 0, 1, 1, 2])
    edge_index = radius_graph(pos, 1.0, batch)
    assert pairs_of(edge_index) == ({(i, j) for i in range(3) for j in range(3) if i != j}
                                    | {(3, 4), (4, 3)})


def test_graph_builders_reject_bad_input():
    with pytest.raises(ValueError, match="'r' must be positive"):
        radius_graph(torch.randn(5, 2), 0.0)
    with pytest.raises(ValueError, match=r"'pos' must have shape"):
        knn_graph(torch.randn(5), 2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        radius_graph(torch.tensor([[0.0, float("nan")], [0.0, 1.0]]), 1.0)
    with pytest.raises(ValueError, match=r"'batch' must have shape \[5\]"):
        knn_graph(torch.randn(5, 2), 2, batch=torch.zeros(4, dtype=torch.long))


def test_edge_positions_finds_query_edges():
    edge_index = random_graph(10, 40)
    query = torch.cat([edge_index[:, [5, 0, 17]], torch.tensor([[9], [9]])], dim=1)
    position = edge_positions(edge_index, query, 10)
    assert torch.equal(edge_index[:, position[:3]], query[:, :3])
    assert position[3] == -1
    assert torch.equal(edge_positions(torch.empty(2, 0, dtype=torch.long), query, 10),
                       torch.full((4,), -1))
    with pytest.raises(ValueError, match="'query_index' holds node indices"):
        edge_positions(edge_index, torch.tensor([[0], [12]]), 10)


def test_candidate_graphs_of_the_declared_positions():
    x = torch.randn(12, 6, 4)  # [N, T, F]
    assert torch.equal(candidate_graph("full", None, 12)(x), fully_connected_edge_index(12))
    assert torch.equal(candidate_graph("knn", 3, 12)(x), knn_graph(x[:, 0, :2], 3))
    assert torch.equal(candidate_graph("knn", 3, 12, position_features=[3, 1])(x),
                       knn_graph(x[:, 0, [3, 1]], 3))
    assert torch.equal(candidate_graph("radius", None, 12, 1.2, [2])(x),
                       radius_graph(x[:, 0, [2]], 1.2))
    # Over every step: the union of each step's graph.
    assert torch.equal(candidate_graph("knn", 2, 12, all_steps=True)(x), knn_graph(x[..., :2], 2))
    assert torch.equal(candidate_graph("radius", None, 12, 0.8, all_steps=True)(x),
                       radius_graph(x[..., :2], 0.8))


def test_a_radius_without_candidate_edges_gives_the_closest_distance():
    x = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 5.0]])[:, None].expand(3, 4, 2).clone()
    x[0, 2] = torch.tensor([2.0, 0.0])  # at step 2, objects 0 and 1 are 1 apart
    with pytest.raises(ValueError, match=r"graph_radius=0.5 leaves a system without a "
                                         r"candidate edge: its closest two objects are 3 apart "
                                         r"\(in the units of the position features \[0, 1\]\)"):
        candidate_graph("radius", None, 3, 0.5)(x)
    with pytest.raises(ValueError, match=r"its closest two objects are 1 apart"):
        candidate_graph("radius", None, 3, 0.5, all_steps=True)(x)
    assert candidate_graph("radius", None, 3, 1.0, all_steps=True)(x).tolist() == [[0, 1],
                                                                                    [1, 0]]


@pytest.mark.parametrize("graph, k, graph_radius, match", [
    ("grid", None, None, r"'graph' must be one of \('full', 'knn', 'radius'\), got 'grid'"),
    ("knn", None, None, r"graph='knn' needs a positive 'k'"),
    ("radius", None, None, r"graph='radius' needs a positive 'graph_radius'"),
    ("radius", None, 0.0, r"'graph_radius' of graph='radius' must be positive, got 0.0"),
    ("radius", None, float("inf"), r"'graph_radius' of graph='radius' must be a finite number"),
    ("full", None, 1.0, r"'graph_radius' is the distance of graph='radius', but graph='full'"),
    ("knn", 3, 1.0, r"'graph_radius' is the distance of graph='radius', but graph='knn'"),
])
def test_check_candidate_graph(graph, k, graph_radius, match):
    with pytest.raises(ValueError, match=match):
        check_candidate_graph(graph, k, graph_radius)


def test_check_position_features():
    check_position_features(None)
    check_position_features([2, 0], num_features=3)
    for bad, match in (([], r"at least one"), ([0, 0], r"distinct, got \[0, 0\]"),
                       ("01", r"list of non-negative integer"), ([True], r"list of non-negative"),
                       ([1.0], r"list of non-negative"), ([-1], r"list of non-negative")):
        with pytest.raises(ValueError, match=match):
            check_position_features(bad)
    with pytest.raises(ValueError, match=r"\[0, 3\] must index the 3 features of x: index 3"):
        check_position_features([0, 3], num_features=3, where=" of x")
