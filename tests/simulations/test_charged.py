import numpy as np
import pytest

from torch_nri.simulations import simulate_charged

DT = 0.001


def coulomb(positions, charges, cutoff=np.inf):
    """C = 1: F_i = sum_j q_i q_j (r_i - r_j) / |r_i - r_j|^3, pairs closer than cutoff."""
    diff = positions[..., :, None, :] - positions[..., None, :, :]
    dist = np.linalg.norm(diff, axis=-1)
    np.einsum("...ii->...i", dist)[:] = np.inf
    q = charges[..., :, None] * charges[..., None, :]
    strength = np.where(dist < cutoff, q / dist ** 3, 0.0)
    return (strength[..., None] * diff).sum(-2)


def assert_accelerations_match(sim, expected, accel, unclipped):
    """Up to the float32 storage of velocities (difference / dt resolves ~2 ulp of |v|)
    and positions (relative error of the force)."""
    speed = np.abs(sim.velocities[:, :-1].astype(np.float64))
    bound = 3e-4 * (1 + speed) + 1e-4 * np.abs(expected)
    assert (np.abs(accel - expected) <= bound)[unclipped].all()


def test_accelerations_follow_coulombs_law_away_from_clipping():
    sim = simulate_charged(30, length=300, sample_freq=1, seed=0, box_size=1e3)
    pos = sim.positions[:, :-1].astype(np.float64)
    accel = np.diff(sim.velocities.astype(np.float64), axis=1) / DT
    expected = coulomb(pos, sim.charges[:, None])
    unclipped = (np.abs(expected) < 0.1 / DT).all(axis=-1, keepdims=True)
    assert unclipped.mean() > 0.9
    assert_accelerations_match(sim, expected, accel, np.broadcast_to(unclipped, accel.shape))


def test_clipping_bounds_each_force_component():
    sim = simulate_charged(200, length=2000, sample_freq=1, seed=1, loc_std=0.3)
    accel = np.diff(sim.velocities.astype(np.float64), axis=1) / DT
    # Walls flip velocities; elsewhere the kick is bounded by the clip.
    inside = (np.abs(sim.positions[:, 1:]) < 4.99).all(-1)
    assert np.abs(accel[inside]).max() <= 0.1 / DT * 1.001


def test_charges_and_relations():
    sim = simulate_charged(2000, length=200, seed=2)
    assert set(np.unique(sim.charges)) == {-1.0, 1.0}
    assert (sim.charges > 0).mean() == pytest.approx(0.5, abs=0.02)
    same = (sim.charges[:, :, None] * sim.charges[:, None] > 0) & ~np.eye(5, dtype=bool)
    assert np.array_equal(sim.relations, same.astype(np.int64))
    assert sim.positions.shape == (2000, 1, 5, 2)
    assert sim.positions[:, 0].std() == pytest.approx(1.0, abs=0.05)


def test_cutoff_variant_sums_exactly_the_pairs_within_the_cutoff():
    n, cutoff = 300, 1.0
    sim = simulate_charged(2, num_nodes=n, length=300, sample_freq=1, seed=3, cutoff=cutoff,
                           loc_std=4.0, box_size=1e3, skin=0.05)
    assert sim.relations is None
    pos = sim.positions[:, :-1].astype(np.float64)
    accel = np.diff(sim.velocities.astype(np.float64), axis=1) / DT
    expected = coulomb(pos, sim.charges[:, None], cutoff)
    unclipped = (np.abs(expected) < 0.1 / DT).all(axis=-1, keepdims=True)
    assert_accelerations_match(sim, expected, accel, np.broadcast_to(unclipped, accel.shape))
    assert (expected != 0).any(-1).mean() > 0.5  # most particles have partners


def test_seeds():
    a, b = simulate_charged(4, length=500, seed=9), simulate_charged(4, length=500, seed=9)
    assert np.array_equal(a.velocities, b.velocities)
    assert not np.array_equal(a.velocities, simulate_charged(4, length=500, seed=10).velocities)


def test_cutoff_in_free_space_never_joins_two_systems():
    # Small systems at density 1 sit about 10 apart (union_offsets) and drift
    # without walls; a cut-off of 100 would reach other systems' objects.
    sim = simulate_charged(30, num_nodes=5, length=300, sample_freq=1, seed=4, cutoff=100.0,
                           density=1.0, walls=False, box_size=0.5)
    assert np.abs(sim.positions).max() > 0.5  # box_size is unused without walls
    assert np.abs(sim.positions[:, 0]).max() < 0.5 * np.sqrt(5) + 0.1
    pos = sim.positions[:, :-1].astype(np.float64)
    accel = np.diff(sim.velocities.astype(np.float64), axis=1) / DT
    expected = coulomb(pos, sim.charges[:, None])  # each system on its own
    unclipped = (np.abs(expected) < 0.1 / DT).all(axis=-1, keepdims=True)
    assert unclipped.mean() > 0.9
    assert_accelerations_match(sim, expected, accel, np.broadcast_to(unclipped, accel.shape))
