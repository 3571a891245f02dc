import numpy as np
import pytest

from torch_nri.simulations.particles import initial_state, start_half_width, wall_box


def test_a_density_fills_a_square_whose_side_grows_as_the_root_of_n():
    rng = np.random.default_rng(0)
    for num_nodes, density in ((400, 1.0), (1600, 1.0), (1600, 4.0)):
        positions, velocities = initial_state(rng, 3, num_nodes, 0.5, 0.5, density)
        half = start_half_width(num_nodes, density)
        assert half == pytest.approx(0.5 * np.sqrt(num_nodes / density))
        assert np.abs(positions).max() <= half
        assert np.abs(positions).max() > 0.95 * half  # uniform: it reaches the edges
        # Objects per unit area: a quarter of them in each quadrant of the square.
        quadrant = (positions[..., 0] > 0) & (positions[..., 1] > 0)
        assert quadrant.mean() == pytest.approx(0.25, abs=0.03)
        assert np.allclose(np.linalg.norm(velocities, axis=-1), 0.5)


def test_the_gaussian_start_draws_as_before_without_a_density():
    # The original generator's draws, in its order: caches of the defaults stay valid.
    positions, velocities = initial_state(np.random.default_rng(1), 2, 5, 0.5, 0.5)
    rng = np.random.default_rng(1)
    assert np.array_equal(positions, rng.normal(0.0, 0.5, (2, 5, 2)))
    expected = rng.normal(0.0, 1.0, (2, 5, 2))
    expected *= 0.5 / np.linalg.norm(expected, axis=-1, keepdims=True)
    assert np.array_equal(velocities, expected)


def test_wall_box():
    assert wall_box(True, 5.0, 5) == 5.0
    assert wall_box(False, 5.0, 10_000, density=1.0) is None  # free space: any size
    assert wall_box(True, 50.0, 10_000, density=1.0) == 50.0  # half-width 50 fits
    with pytest.raises(ValueError, match=r"half-width sqrt\(num_nodes / density\) / 2 = 50"):
        wall_box(True, 5.0, 10_000, density=1.0)
    with pytest.raises(ValueError, match="'walls' must be True or False, got 'no'"):
        wall_box("no", 5.0, 5)
    with pytest.raises(ValueError, match="'box_size' must be positive, got -1"):
        wall_box(False, -1.0, 5)
    with pytest.raises(ValueError, match="'density' must be positive, got 0"):
        initial_state(np.random.default_rng(0), 1, 5, 0.5, 0.5, density=0.0)
