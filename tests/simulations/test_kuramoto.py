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


# --- features="authors" (the default): the generator of the papers' data ---

def test_authors_features_by_hand():
    # The features of a coarse run (every 10th step, scaled over the first 200
    # steps), computed by hand from the phases of every step of the same
    # systems (same seed, so same draws and same RK4 steps). Seed 1 gives one
    # isolated oscillator in system 0 and none in system 1.
    fine = simulate_kuramoto(2, 3, length=300, sample_freq=1, seed=1)
    sim = simulate_kuramoto(2, 3, length=100, sample_freq=10, seed=1, scale_length=200)
    phi = fine.phases.astype(np.float64)                     # steps 0 .. 298
    isolated = sim.relations.sum(-1) == 0
    assert isolated[0].sum() == 1 and not isolated[1].any()
    steps = np.arange(0, 200, 10)                            # the 20 samples of the window
    velocity = (phi[:, steps + 1] - phi[:, steps]) / 0.01    # forward difference, [2, 20, 3]
    low, high = velocity.min(1, keepdims=True), velocity.max(1, keepdims=True)
    scaled = 2 * (velocity - low) / (high - low) - 1         # per system and oscillator
    scaled[np.broadcast_to(isolated[:, None], scaled.shape)] = 0.0
    omega = sim.omega.astype(np.float64)
    by_hand = np.stack([scaled[:, :9], np.sin(phi[:, steps[:9]]),
                        np.broadcast_to((2 * (omega - 1) / 9 - 1)[:, None], (2, 9, 3))], -1)
    assert sim.features.shape == (2, 9, 3, 3) and sim.phases.shape == (2, 9, 3)
    assert np.array_equal(sim.phases, fine.phases[:, steps[:9]])  # from the initial state on
    assert np.abs(sim.features - by_hand).max() < 1e-3  # float32 phases in the difference
    assert np.allclose(sim.features[..., 1:], by_hand[..., 1:], atol=1e-6)
    # Some extremes of the window lie after the 9 returned samples, so the
    # comparison tells the window from the returned trajectory.
    late = (velocity.argmin(1) >= 9) | (velocity.argmax(1) >= 9)
    assert late[~isolated].any()


def test_authors_features_defaults():
    sim = simulate_kuramoto(64, seed=2)
    assert sim.features.shape == (64, 49, 5, 3) and sim.phases.shape == (64, 49, 5)
    velocity, sin, omega = np.moveaxis(sim.features, -1, 0)
    assert (sim.phases[:, 0] >= 0).all() and (sim.phases[:, 0] < 2 * np.pi).all()  # phi(0)
    assert np.allclose(sin, np.sin(sim.phases), atol=1e-5)  # float32 phases
    assert np.allclose(omega, (2 * (sim.omega - 1) / 9 - 1)[:, None], atol=1e-6)
    assert omega.min() >= -1 and omega.max() < 1
    assert velocity.min() >= -1 and velocity.max() <= 1
    isolated = sim.relations.sum(-1) == 0
    assert isolated.any() and not velocity.transpose(0, 2, 1)[isolated].any()
    # The authors scale every system over the same 1,000 steps and cut training
    # systems to 49 samples: the test-length trajectory starts with the same ones.
    longer = simulate_kuramoto(64, length=1000, seed=2)
    assert longer.features.shape == (64, 99, 5, 3)
    assert np.array_equal(longer.features[:, :49], sim.features)


def test_authors_scale_length():
    # scale_length at or below length: scaled over the trajectory's samples
    # and the one after them.
    short = simulate_kuramoto(3, 4, length=100, seed=5, scale_length=0)
    same = simulate_kuramoto(3, 4, length=100, seed=5, scale_length=100)
    assert np.array_equal(short.features, same.features)
    wide = simulate_kuramoto(3, 4, length=100, seed=5)  # scaled over 1,000 steps
    assert np.array_equal(short.features[..., 1:], wide.features[..., 1:])
    assert not np.allclose(short.features[..., 0], wide.features[..., 0])
    with pytest.raises(ValueError, match="multiple of 'sample_freq'"):
        simulate_kuramoto(2, length=100, scale_length=105)
    with pytest.raises(ValueError, match="'features' must be one of"):
        simulate_kuramoto(2, features="raw")


# --- features="analytic": torch_nri's features before the authors' ---

def test_analytic_features_are_unchanged():
    # Values of torch_nri's simulate_kuramoto before the authors' features
    # were added (same seed and arguments).
    sim = simulate_kuramoto(2, 3, length=100, sample_freq=10, seed=0, features="analytic")
    assert sim.features.shape == (2, 9, 3, 3)
    assert np.allclose(sim.features[0, :3, :, 0], [[-0.6694944, -0.90746784, 1.5769622],
                                                   [-0.8553686, -0.8851287, 1.7404972],
                                                   [-0.96156937, -0.8557876, 1.817357]],
                       rtol=1e-5, atol=1e-6)
    assert np.allclose(sim.features[1, -1], [[-0.061416794, 0.79665226, 1.1487488],
                                             [0.9369875, 0.54088014, 8.319432],
                                             [-0.8755707, 0.934667, 9.2148]],
                       rtol=1e-5, atol=1e-6)
    assert sim.features.astype(np.float64).sum() == pytest.approx(270.08527336176485, rel=1e-6)


def test_analytic_phase_derivative_equals_the_model_equation():
    sim = simulate_kuramoto(20, length=400, sample_freq=1, seed=1, features="analytic")
    phases = sim.phases.astype(np.float64)
    central = (phases[:, 2:] - phases[:, :-2]) / 0.02
    rhs = sim.features[:, 1:-1, :, 0] + sim.features[:, 1:-1, :, 2]
    assert np.abs(central - rhs).max() < 1e-2 * np.abs(rhs).max()
    # The attraction pulls coupled phases together: the opposite sign would not.
    assert np.allclose(rhs, kuramoto_velocity(phases[:, 1:-1], sim.omega[:, None], sim.relations),
                       atol=1e-4)


def test_analytic_features_and_parameters():
    sim = simulate_kuramoto(2000, seed=2, features="analytic")
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


@pytest.mark.parametrize("features", ["authors", "analytic"])
def test_seeds(features):
    a, b = (simulate_kuramoto(4, seed=3, features=features) for _ in range(2))
    assert np.array_equal(a.features, b.features)
    assert not np.array_equal(a.features, simulate_kuramoto(4, seed=4, features=features).features)
