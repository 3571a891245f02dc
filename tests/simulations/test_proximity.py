import numpy as np
import pytest
import torch

from torch_nri.graphs import knn_graph
from torch_nri.simulations import simulate_proximity


def distances(positions):
    # [S, T, N, 2] -> [S, T, N, N], float64.
    pos = positions.astype(np.float64)
    return np.linalg.norm(pos[..., :, None, :] - pos[..., None, :, :], axis=-1)


def assert_on_exactly_within_radius(sim, allowed, radius=1.0):
    # Away from the float32 rounding of the stored positions at the boundary.
    dist = distances(sim.positions)
    relations = sim.dense_relations()
    clear = np.abs(dist - radius) > 1e-5
    expected = (dist < radius) & allowed
    assert (relations.astype(bool) == expected)[clear].all()
    assert clear.mean() > 0.999


def test_crossing_edges_act_exactly_while_a_driver_is_within_the_radius():
    sim = simulate_proximity(200, seed=0)
    assert sim.positions.shape == (200, 50, 3, 2)
    allowed = np.zeros((3, 3), bool)
    allowed[[0, 1], 2] = True  # the drivers push particle 2, nothing else acts
    assert_on_exactly_within_radius(sim, allowed)
    relations = sim.dense_relations()
    assert 0.02 < relations[:, :, [0, 1], 2].mean() < 0.5  # edges switch on and off
    switches = np.abs(np.diff(relations[:, :, 0, 2], axis=1)).sum(1)
    assert (switches >= 2).any()


def test_velocity_changes_exactly_when_an_edge_acts():
    sim = simulate_proximity(200, seed=1)
    relations = sim.dense_relations()
    changed = (np.diff(sim.velocities, axis=1) != 0).any(-1)  # [S, T - 1, N]
    pushed = relations[:, :-1].any(axis=2)  # an edge into j at step t
    assert np.array_equal(changed, pushed)
    assert not changed[:, :, :2].any()  # the drivers move on straight lines


def test_gas_pairs_push_both_ways_while_close():
    sim = simulate_proximity(4, num_nodes=40, seed=2, density=0.5)
    assert sim.positions.shape == (4, 50, 40, 2)
    relations = sim.dense_relations()
    assert np.array_equal(relations, relations.transpose(0, 1, 3, 2))
    allowed = ~np.eye(40, dtype=bool)
    assert_on_exactly_within_radius(sim, allowed)
    assert relations.any()


def test_large_systems_stay_sparse_and_the_window_knn_holds_every_active_edge():
    sim = simulate_proximity(1, num_nodes=3000, length=21, seed=3)
    num_flat = 3000
    pos = torch.from_numpy(sim.positions[0]).transpose(0, 1)  # [N, T, 2]
    candidates = knn_graph(pos, k=6)
    keys = set((candidates[0] * num_flat + candidates[1]).tolist())
    active = np.concatenate(sim.active)
    assert active.size > 0 and set(active.tolist()) <= keys
    types = sim.edge_types(0, candidates[0].numpy(), candidates[1].numpy())
    assert types.shape == (candidates.size(1), 20)
    assert types.sum() == active.size


def test_seeded_and_checked():
    a, b = simulate_proximity(5, seed=7), simulate_proximity(5, seed=7)
    assert np.array_equal(a.positions, b.positions)
    assert not np.array_equal(a.positions, simulate_proximity(5, seed=8).positions)
    with pytest.raises(ValueError, match="3 particles"):
        simulate_proximity(2, num_nodes=4, layout="crossing")
    with pytest.raises(ValueError, match="layout"):
        simulate_proximity(2, layout="ring")


def test_active_counts_sum_each_systems_edges_over_steps():
    sim = simulate_proximity(20, num_nodes=12, length=21, seed=5, density=1.0)
    counts = sim.active_counts()
    assert counts.tolist() == sim.dense_relations().sum((1, 2, 3)).tolist()
    assert counts.sum() > 0
