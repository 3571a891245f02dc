import numpy as np
import pytest
from scipy.spatial import cKDTree

from torch_nri.simulations import simulate_springs

DT = 0.001


def hooke(positions, constants):
    """-sum_j k_ij (r_i - r_j) for [S, T, N, 2] positions and [S, N, N] constants."""
    diff = positions[:, :, :, None] - positions[:, :, None, :]
    return -(constants[:, None, :, :, None] * diff).sum(3)


def test_accelerations_follow_hookes_law():
    # Every step sampled, walls far away: v[t+1] - v[t] = dt F(x[t]) exactly.
    sim = simulate_springs(20, length=400, sample_freq=1, seed=0, box_size=1e3)
    accel = np.diff(sim.velocities.astype(np.float64), axis=1) / DT
    expected = hooke(sim.positions[:, :-1].astype(np.float64), 0.1 * sim.relations)
    assert np.abs(accel - expected).max() < 2e-4
    assert np.abs(expected).max() > 0.05  # the forces are not trivially small


def test_three_spring_types_use_their_constants():
    sim = simulate_springs(300, length=300, sample_freq=1, seed=1, box_size=1e3,
                           spring_types=(0.0, 0.5, 1.0))
    off_diagonal = sim.relations[:, ~np.eye(5, dtype=bool)]
    counts = np.bincount(off_diagonal.reshape(-1), minlength=3) / off_diagonal.size
    assert np.allclose(counts, 1 / 3, atol=0.03)
    accel = np.diff(sim.velocities.astype(np.float64), axis=1) / DT
    constants = 0.1 * np.array([0.0, 0.5, 1.0])[sim.relations]
    assert np.abs(accel - hooke(sim.positions[:, :-1].astype(np.float64), constants)).max() < 2e-4


def test_initial_distribution_and_edge_rate():
    sim = simulate_springs(2000, length=200, sample_freq=1, seed=2)
    first_speed = np.linalg.norm(sim.velocities[:, 0], axis=-1)
    assert np.allclose(first_speed, 0.5, atol=0.01)  # speed 0.5, one kick later
    assert sim.positions[:, 0].std() == pytest.approx(0.5, abs=0.02)
    assert abs(sim.positions[:, 0].mean()) < 0.02
    rel = sim.relations
    assert (rel == rel.transpose(0, 2, 1)).all() and (np.einsum("sii->si", rel) == 0).all()
    assert rel[:, ~np.eye(5, dtype=bool)].mean() == pytest.approx(0.5, abs=0.02)


def test_paper_sampling_walls_and_energy():
    sim = simulate_springs(50, seed=3)  # 5000 steps, every 100th: T = 49
    assert sim.positions.shape == sim.velocities.shape == (50, 49, 5, 2)
    assert sim.positions.dtype == np.float32
    assert np.abs(sim.positions).max() <= 5.0
    # Positions move by ~0.1 * velocity between samples (0.1 time units apart).
    step = np.diff(sim.positions, axis=1)
    assert np.median(np.abs(step / (0.1 * sim.velocities[:, 1:]))) == pytest.approx(1, abs=0.05)
    # Leap-frog with elastic walls conserves energy closely.
    pos, vel = sim.positions.astype(np.float64), sim.velocities.astype(np.float64)
    kinetic = 0.5 * (vel ** 2).sum((2, 3))
    dist2 = ((pos[:, :, :, None] - pos[:, :, None]) ** 2).sum(-1)
    potential = 0.25 * (0.1 * sim.relations[:, None] * dist2).sum((2, 3))
    energy = kinetic + potential
    assert (np.abs(energy - energy[:, :1]) / energy[:, :1]).max() < 0.01


def test_small_box_reflects():
    sim = simulate_springs(20, length=2000, seed=4, box_size=0.5)
    assert np.abs(sim.positions).max() <= 0.5
    assert (np.abs(sim.positions) > 0.45).any()  # they do reach the walls


def test_non_interacting_springs_move_freely():
    sim = simulate_springs(10, length=300, sample_freq=1, seed=5, spring_probs=(1.0, 0.0),
                           box_size=1e3)
    assert not sim.relations.any()
    assert np.allclose(sim.velocities, sim.velocities[:, :1], atol=1e-6)


def test_seeds():
    a, b = simulate_springs(5, length=500, seed=7), simulate_springs(5, length=500, seed=7)
    c = simulate_springs(5, length=500, seed=8)
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.relations, b.relations)
    assert not np.array_equal(a.positions, c.positions)


def test_nearest_neighbour_springs_at_large_n():
    n, k = 10_000, 5
    sim = simulate_springs(1, num_nodes=n, length=200, sample_freq=1, seed=6,
                           num_neighbors=k, loc_std=20.0, box_size=1e3)
    rel = sim.relations[0]
    assert rel.shape == (n, n) and (rel != rel.T).nnz == 0
    i, j = rel.nonzero()
    # Half of the undirected neighbour pairs, of which there are between n k / 2
    # (all mutual) and n k; each spring appears twice in the symmetric matrix.
    assert 0.25 < (i.size / 2) / (n * k) < 0.5
    # Springs only join near neighbours of the start (k + 2 allows for a step of motion).
    first = sim.positions[0, 0].astype(np.float64)
    _, near = cKDTree(first).query(first, k=k + 3)
    is_near = (near[i] == j[:, None]).any(1) | (near[j] == i[:, None]).any(1)
    assert is_near.all()
    # And the forces are Hooke's law over exactly those pairs.
    accel = (sim.velocities[0, 1] - sim.velocities[0, 0]).astype(np.float64) / DT
    diff = first[i] - first[j]
    expected = np.zeros((n, 2))
    np.add.at(expected, i, -0.1 * rel.data[:, None] * diff)
    assert np.abs(accel - expected).max() < 2e-4


def test_errors():
    with pytest.raises(ValueError, match="'spring_probs' must hold 2"):
        simulate_springs(2, spring_probs=(0.5, 0.2))
    with pytest.raises(ValueError, match="multiple of 'sample_freq'"):
        simulate_springs(2, length=150, sample_freq=100)
    with pytest.raises(ValueError, match="'num_neighbors' must be in"):
        simulate_springs(2, num_nodes=4, num_neighbors=4, length=200)
    with pytest.raises(ValueError, match="must fit in the box of half-width box_size=5.0"):
        simulate_springs(1, num_nodes=400, density=1.0, length=200)
    with pytest.raises(ValueError, match="'walls' must be True or False"):
        simulate_springs(1, walls=0, length=200)
    with pytest.raises(ValueError, match="'density' must be positive"):
        simulate_springs(1, density=-1.0, walls=False, length=200)


def test_local_springs_at_constant_density_in_free_space():
    n = 2000
    # walls=False: box_size=1 would reflect nearly every object, and is unused.
    sim = simulate_springs(1, num_nodes=n, length=200, sample_freq=1, seed=9, num_neighbors=4,
                           density=1.0, walls=False, box_size=1.0)
    half = 0.5 * np.sqrt(n)  # the start square of side sqrt(N / density)
    assert 0.9 * half < np.abs(sim.positions[0, 0]).max() < half + 0.01
    # Hooke's law over exactly the springs at every step: nothing reflects.
    springs = 0.1 * sim.relations[0]
    pos = sim.positions[0, :-1].astype(np.float64)  # [T - 1, N, 2]
    degree = np.asarray(springs.sum(axis=1)).reshape(-1, 1)
    expected = np.stack([springs @ p - degree * p for p in pos])
    accel = np.diff(sim.velocities[0].astype(np.float64), axis=0) / DT
    assert np.abs(accel - expected).max() < 2e-4
    assert np.abs(expected).max() > 0.05
