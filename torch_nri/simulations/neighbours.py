"""Neighbour pairs for the large-N variants, found with
:class:`scipy.spatial.cKDTree` on all systems at once."""
from typing import Optional, Tuple

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


def radius_pairs(points: np.ndarray, radius: float,
                 num_nodes: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Undirected pairs ``(i < j)`` closer than ``radius``; given
    ``num_nodes``, only pairs of one system (``i // num_nodes == j //
    num_nodes``), so that systems whose objects have moved since
    :func:`union_offsets` placed them never interact."""
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray").reshape(-1, 2)
    senders, receivers = pairs[:, 0], pairs[:, 1]
    if num_nodes is not None:
        same = senders // num_nodes == receivers // num_nodes
        senders, receivers = senders[same], receivers[same]
    return senders, receivers


def close_pair_keys(positions: np.ndarray, radius: float) -> np.ndarray:
    r"""The undirected pairs of one system closer than ``radius`` at some
    step of positions ``[S, T, N, 2]``, as sorted keys ``i * (S N) + j``
    (``i < j``) of flat node indices ``s N + n``: one tree per step over
    all systems, :math:`O(T (S N \log(S N) + E_t))`."""
    num_sims, num_steps, num_nodes = positions.shape[:3]
    num_flat = num_sims * num_nodes
    keys = np.empty(0, dtype=np.int64)
    for t in range(num_steps):
        senders, receivers = radius_pairs(union_offsets(positions[:, t]), radius, num_nodes)
        keys = np.union1d(keys, senders.astype(np.int64) * num_flat + receivers)
    return keys


def isin_sorted(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in the sorted array ``sorted_keys``, by
    binary search."""
    if not sorted_keys.size:
        return np.zeros(keys.shape, dtype=bool)
    index = np.searchsorted(sorted_keys, keys).clip(max=sorted_keys.size - 1)
    return sorted_keys[index] == keys
