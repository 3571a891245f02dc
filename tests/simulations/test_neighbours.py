import numpy as np

from torch_nri.simulations.neighbours import close_pair_keys, isin_sorted, radius_pairs


def test_radius_pairs_of_one_system_only():
    # Two systems of two objects; object 1 of system 0 has drifted next to system 1.
    points = np.array([[0.0, 0.0], [9.9, 0.0], [10.0, 0.0], [10.5, 0.0]])
    senders, receivers = radius_pairs(points, 1.0)
    assert sorted(zip(senders, receivers)) == [(1, 2), (1, 3), (2, 3)]
    senders, receivers = radius_pairs(points, 1.0, num_nodes=2)
    assert list(zip(senders, receivers)) == [(2, 3)]


def test_close_pair_keys_are_the_pairs_close_at_some_step():
    rng = np.random.default_rng(0)
    positions = rng.uniform(-2, 2, (3, 4, 6, 2))  # [S, T, N, 2]
    keys = close_pair_keys(positions, 1.0)
    num_flat = 3 * 6
    expected = set()
    for s in range(3):
        dist = np.linalg.norm(positions[s, :, :, None] - positions[s, :, None], axis=-1)
        i, j = np.nonzero((dist <= 1.0).any(0) & np.triu(np.ones((6, 6), bool), 1))
        expected |= set((s * 6 + i) * num_flat + s * 6 + j)
    assert keys.tolist() == sorted(expected) and len(expected) > 5


def test_isin_sorted():
    assert isin_sorted(np.array([2, 5, 9]), np.array([9, 1, 5, 10])).tolist() == [
        True, False, True, False]
    assert not isin_sorted(np.array([], dtype=np.int64), np.array([1])).any()
