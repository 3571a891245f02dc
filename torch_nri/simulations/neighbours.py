"""Neighbour pairs for the large-N variants, found with
:class:`scipy.spatial.cKDTree` on all systems at once."""
from typing import Tuple

import numpy as np
from scipy.spatial import cKDTree


def union_offsets(positions: np.ndarray) -> np.ndarray:
    """Flattens ``[S, N, 2]`` positions into one point cloud ``[S * N, 2]`` with
    the systems shifted apart along x, so that no system's neighbours can come
    from another: one tree then serves every system."""
    num_sims = positions.shape[0]
    span = 2 * np.abs(positions).max() + 1.0
    shift = np.zeros((num_sims, 1, 2))
    shift[:, 0, 0] = np.arange(num_sims) * span * 3
    return (positions + shift).reshape(-1, 2)


def knn_pairs(points: np.ndarray, k: int, num_nodes: int) -> Tuple[np.ndarray, np.ndarray]:
    """Undirected pairs ``(i < j)`` where ``j`` is among the ``k`` nearest
    neighbours of ``i`` or the reverse, as flat indices into ``points``."""
    if not 1 <= k < num_nodes:
        raise ValueError(f"'num_neighbors' must be in [1, num_nodes - 1 = {num_nodes - 1}], "
                         f"got {k}")
    _, neighbours = cKDTree(points).query(points, k=k + 1)
    i = np.repeat(np.arange(points.shape[0]), k)
    j = neighbours[:, 1:].reshape(-1)  # the nearest is the point itself
    low, high = np.minimum(i, j), np.maximum(i, j)
    pairs = np.unique(low * points.shape[0] + high)
    return pairs // points.shape[0], pairs % points.shape[0]


def radius_pairs(points: np.ndarray, radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """Undirected pairs ``(i < j)`` closer than ``radius``."""
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    return pairs[:, 0], pairs[:, 1]
