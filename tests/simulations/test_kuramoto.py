import numpy as np
import pytest

from torch_nri.simulations import kuramoto_velocity, simulate_kuramoto


def test_velocity_is_the_attractive_coupling_equation():
    rng = np.random.default_rng(0)
    phases, omega = rng.uniform(0, 6, (3, 4)), rng.uniform(1, 10, (3, 4))
    coupling = rng.random((3, 4, 4))
    naive = omega + np.array([[sum(coupling[s, i, j] * np.sin(phases[s, j] - phases[s, i])
                                   for j in range(4)) for i in range(4)] for s in range(3)])
    assert np.allclose(kuramoto_velocity(phases, omega, coupling), naive)


def test_phase_derivative_equals_the_model_equation():
    sim = simulate_kuramoto(20, length=400, sample_freq=1, seed=1)
    phases = sim.phases.astype(np.float64)
    central = (phases[:, 2:] - phases[:, :-2]) / 0.02
    rhs = sim.features[:, 1:-1, :, 0] + sim.features[:, 1:-1, :, 2]
    assert np.abs(central - rhs).max() < 1e-2 * np.abs(rhs).max()
    # The attraction pulls coupled phases together: the opposite sign would not.
    assert np.allclose(rhs, kuramoto_velocity(phases[:, 1:-1], sim.omega[:, None], sim.relations),
                       atol=1e-4)


def test_features_and_parameters():
    sim = simulate_kuramoto(2000, seed=2)
    assert sim.features.shape == (2000, 49, 5, 3) and sim.phases.shape == (2000, 49, 5)
    assert np.allclose(sim.features[..., 1], np.sin(sim.phases), atol=1e-5)
    assert np.allclose(sim.features[..., 2], sim.omega[:, None])
    assert sim.omega.min() >= 1 and sim.omega.max() < 10
    assert sim.omega.mean() == pytest.approx(5.5, abs=0.1)
    rel = sim.relations
    assert (rel == rel.transpose(0, 2, 1)).all()
    assert rel[:, ~np.eye(5, dtype=bool)].mean() == pytest.approx(0.5, abs=0.02)
    isolated = rel.sum(-1) == 0
    assert isolated.any()
    assert not sim.features[..., 0].transpose(0, 2, 1)[isolated].any()  # coupling term is 0


def test_seeds():
    a, b = simulate_kuramoto(4, seed=3), simulate_kuramoto(4, seed=3)
    assert np.array_equal(a.features, b.features)
    assert not np.array_equal(a.features, simulate_kuramoto(4, seed=4).features)
