"""Candidate interaction graphs as PyG ``edge_index`` tensors.

Edges follow PyG's direction convention: ``edge_index[0]`` holds the senders,
``edge_index[1]`` the receivers.
"""
import numbers
from typing import Callable, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor
from torch_geometric.utils import coalesce

from torch_nri._validation import check_batch, check_edge_index, check_int, check_real


def fully_connected_edge_index(num_nodes: Union[int, Sequence[int], Tensor],
                               device: Optional[torch.device] = None) -> Tensor:
    r"""The fully connected directed graph without self loops,
    :math:`E = N(N-1)` edges, or the disjoint union of such graphs.

    For one graph the edges are ordered by sender, then receiver (the order
    of the original NRI code's off-diagonal mask). For several graphs, their
    edges follow one another and node indices are offset as in a PyG
    :class:`~torch_geometric.data.Batch`.

    Args:
        num_nodes (int or sequence of int or torch.Tensor): The number of
            nodes, or the number of nodes of each graph of a batch.
        device (torch.device, optional): Device of the result.

    Returns:
        torch.Tensor: ``edge_index`` of shape :math:`(2, \sum_b N_b(N_b - 1))`.
    """
    if isinstance(num_nodes, Tensor):
        sizes = num_nodes
    elif isinstance(num_nodes, (list, tuple)):
        for n in num_nodes:
            check_int(n, "num_nodes", 0)
        sizes = torch.as_tensor(num_nodes, dtype=torch.long)
    else:
        check_int(num_nodes, "num_nodes", 0)
        sizes = torch.as_tensor(num_nodes)
    if sizes.is_floating_point() or sizes.dtype == torch.bool:
        raise ValueError(f"'num_nodes' must hold integers, got {sizes.dtype}")
    sizes = sizes.long().reshape(-1).cpu()
    if sizes.numel() and int(sizes.min()) < 0:
        raise ValueError(f"'num_nodes' must be non-negative, got {sizes.tolist()}")
    parts, offset = [], 0
    for n in sizes.tolist():
        degree = max(n - 1, 0)
        senders = torch.arange(n, device=device).repeat_interleave(degree)
        # For each sender i, the receivers are 0..n-1 without i.
        receivers = torch.arange(degree, device=device).repeat(n)
        receivers = receivers + (receivers >= senders).long()
        parts.append(torch.stack([senders, receivers]) + offset)
        offset += n
    if not parts:
        return torch.empty(2, 0, dtype=torch.long, device=device)
    return torch.cat(parts, dim=1)


def edge_positions(edge_index: Tensor, query_index: Tensor,
                   num_nodes: Optional[int] = None) -> Tensor:
    r"""For each query edge, its position in ``edge_index``, or -1 where
    ``edge_index`` does not hold it.

    Runs in :math:`O((E + Q) \log E)` by sorting edge keys; with duplicate
    edges, the first occurrence in sorted order is returned.

    Args:
        edge_index (torch.Tensor): Edge indices of shape :math:`(2, E)`.
        query_index (torch.Tensor): The edges to look up, :math:`(2, Q)`.
        num_nodes (int, optional): The number of nodes.
            (default: the largest index of either plus one)

    Returns:
        torch.Tensor: A long tensor of shape :math:`(Q,)`.
    """
    if num_nodes is None:
        num_nodes = max((int(index.max()) + 1 for index in (edge_index, query_index)
                         if index.numel()), default=0)
    check_edge_index(edge_index, num_nodes)
    check_edge_index(query_index, num_nodes, name="query_index")
    if edge_index.size(1) == 0:
        return torch.full((query_index.size(1),), -1, dtype=torch.long,
                          device=query_index.device)
    keys = edge_index[0] * num_nodes + edge_index[1]
    sorted_keys, order = torch.sort(keys)
    query_keys = query_index[0] * num_nodes + query_index[1]
    position = torch.searchsorted(sorted_keys, query_keys).clamp_(max=keys.numel() - 1)
    found = sorted_keys[position] == query_keys
    return torch.where(found, order[position], torch.full_like(position, -1))


def reverse_edge_index(edge_index: Tensor, num_nodes: Optional[int] = None) -> Tensor:
    r"""For each edge :math:`i \rightarrow j`, the position of its reverse edge
    :math:`j \rightarrow i` in ``edge_index``, or -1 where there is none
    (:func:`edge_positions` of the flipped edges).

    Args:
        edge_index (torch.Tensor): Edge indices of shape :math:`(2, E)`.
        num_nodes (int, optional): The number of nodes.
            (default: ``edge_index.max() + 1``)

    Returns:
        torch.Tensor: A long tensor of shape :math:`(E,)`.
    """
    return edge_positions(edge_index, edge_index.flip(0), num_nodes)


class GraphSizes(NamedTuple):
    r"""The sizes of a batch of candidate graphs that a layer must know as
    numbers, to pad sets of nodes or edges into dense tensors (the sequence
    models of :class:`~torch_nri.nn.RIEncoder`). Computed from the tensors
    (:func:`graph_sizes`) they take a read back to the host, a
    synchronisation on a GPU; the training loop's batches of equal-sized
    systems know them without one (computed once per candidate graph,
    :class:`~torch_nri.training.batching.FixedSizeLoader`) and pass them in.
    Larger values than the true ones are allowed (more padding); smaller
    ones are not.
    """
    #: The graphs of the batch.
    num_graphs: int
    #: The nodes of its largest graph.
    max_graph_size: int
    #: The most candidate edges into one node.
    max_in_degree: int


def graph_sizes(edge_index: Tensor, num_nodes: int,
                batch: Optional[Tensor] = None) -> GraphSizes:
    r"""The :class:`GraphSizes` of a batch of graphs (one read back to the
    host).

    Args:
        edge_index (torch.Tensor): The candidate edges ``[2, E]``.
        num_nodes (int): The nodes of the batch.
        batch (torch.Tensor, optional): The graph of each node ``[N]``.
            (default: one graph)
    """
    if num_nodes == 0:
        return GraphSizes(0, 0, 0)
    counts = torch.zeros(2, num_nodes, dtype=torch.long, device=edge_index.device)
    counts[0].scatter_add_(0, edge_index[1], torch.ones_like(edge_index[1]))  # in-degrees
    if batch is None:
        counts[1, 0] = num_nodes
        batch = counts.new_zeros(1)
    else:
        counts[1].scatter_add_(0, batch, torch.ones_like(batch))  # graph sizes
    # One read of all three: the last graph index (graphs are consecutive), the sizes.
    num_graphs, max_graph_size, max_in_degree = torch.stack(
        [batch[-1] + 1, counts[1].max(), counts[0].max()]).tolist()
    return GraphSizes(num_graphs, max_graph_size, max_in_degree)


def _positions(pos: Tensor) -> np.ndarray:
    """``pos`` ``[N, D]`` or ``[N, W, D]`` as a float64 array ``[N, W, D]``."""
    if not isinstance(pos, Tensor):
        raise ValueError(f"'pos' must be a tensor, got {type(pos).__name__} (convert it with "
                         f"torch.as_tensor)")
    if pos.dim() not in (2, 3):
        raise ValueError(f"'pos' must have shape [num_nodes, num_dims] or "
                         f"[num_nodes, num_steps, num_dims], got {tuple(pos.shape)}")
    points = pos.detach().cpu().double().numpy()
    if not np.isfinite(points).all():
        raise ValueError("'pos' contains NaN or infinite values")
    return points[:, None] if pos.dim() == 2 else points


def _graph_per_system(pos: Tensor, batch: Optional[Tensor], symmetric: bool,
                      pairs: Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]) -> Tensor:
    """Applies ``pairs(points [n, D]) -> (senders, receivers)`` to each graph
    of the batch and each step of the window; returns the union as one
    ``edge_index`` (coalesced where a union or symmetrisation can repeat
    edges)."""
    points = _positions(pos)
    num_nodes, num_steps = points.shape[:2]
    if batch is None:
        sizes = [num_nodes]
    else:
        # Graphs are cut out of consecutive nodes: an unsorted vector would join them.
        check_batch(batch, num_nodes)
        sizes = torch.bincount(batch.cpu(), minlength=1).tolist()
    parts, offset = [], 0
    for n in sizes:
        for t in range(num_steps if n > 1 else 0):
            senders, receivers = pairs(points[offset:offset + n, t])
            parts.append(torch.as_tensor(np.stack([senders, receivers]).astype(np.int64))
                         + offset)
        offset += n
    if not parts:
        return torch.empty(2, 0, dtype=torch.long, device=pos.device)
    edge_index = torch.cat(parts, dim=1)
    if symmetric:
        edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    if symmetric or num_steps > 1:
        edge_index = coalesce(edge_index, num_nodes=num_nodes)
    return edge_index.to(pos.device)


def knn_graph(pos: Tensor, k: int, batch: Optional[Tensor] = None,
              symmetric: bool = False) -> Tensor:
    r"""The :math:`k`-nearest-neighbour candidate graph of points ``pos``:
    an edge from each of a node's :math:`k` nearest neighbours (senders) to
    the node (receiver), without self loops, found with
    :class:`scipy.spatial.cKDTree` in :math:`O(N k \log N)`. Graphs of a
    batch are kept apart.

    Given positions over a window of steps, ``[N, W, D]``, the graph is the
    union of the :math:`W` per-step graphs, so that it holds every pair that
    comes close at some step of the window.

    Args:
        pos (torch.Tensor): Positions ``[N, D]``, or ``[N, W, D]`` for the
            union over a window of :math:`W` steps.
        k (int): Number of neighbours; graphs with at most :math:`k` nodes
            become fully connected.
        batch (torch.Tensor, optional): Graph index of each node ``[N]``,
            sorted as in a PyG batch. (default: one graph)
        symmetric (bool, optional): If set to :obj:`True`, adds the reverse
            of every edge (without duplicates). (default: :obj:`False`)

    Returns:
        torch.Tensor: ``edge_index`` of shape :math:`(2, E)`.
    """
    check_int(k, "k", 1)

    def pairs(points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        n = points.shape[0]
        k_eff = min(k, n - 1)
        # The nearest point of each query is itself; drop it.
        _, neighbours = cKDTree(points).query(points, k=k_eff + 1)
        return neighbours[:, 1:].reshape(-1), np.repeat(np.arange(n), k_eff)

    return _graph_per_system(pos, batch, symmetric, pairs)


def radius_graph(pos: Tensor, r: float, batch: Optional[Tensor] = None) -> Tensor:
    r"""The radius candidate graph of points ``pos``: an edge in both
    directions between every two nodes of one graph closer than or at
    distance :math:`r`, without self loops, found with
    :meth:`scipy.spatial.cKDTree.query_pairs` in :math:`O(N \log N + E)`.

    Given positions over a window of steps, ``[N, W, D]``, the graph is the
    union of the :math:`W` per-step graphs.

    Args:
        pos (torch.Tensor): Positions ``[N, D]``, or ``[N, W, D]`` for the
            union over a window of :math:`W` steps.
        r (float): The radius.
        batch (torch.Tensor, optional): Graph index of each node ``[N]``,
            sorted as in a PyG batch. (default: one graph)

    Returns:
        torch.Tensor: ``edge_index`` of shape :math:`(2, E)`, coalesced.
    """
    check_real(r, "r", 0)

    def pairs(points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        close = cKDTree(points).query_pairs(r, output_type="ndarray").reshape(-1, 2)
        return close[:, 0], close[:, 1]

    return _graph_per_system(pos, batch, True, pairs)


def symmetric_lead(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""For each edge, the edge that speaks for its pair under a hard
    symmetry constraint (NRI-MPM's :math:`z_{ji} := z_{ij}`): itself, or its
    reverse where that exists and starts at the lower node index."""
    reverse = reverse_edge_index(edge_index, num_nodes)
    follows = (reverse >= 0) & (edge_index[0] > edge_index[1])
    return torch.where(follows, reverse, torch.arange(edge_index.size(1),
                                                      device=edge_index.device))


#: The candidate graphs of a dataset (:func:`candidate_graph`).
CANDIDATE_GRAPHS = ("full", "knn", "radius")
#: The features that are positions where none are declared: 0 and 1.
DEFAULT_POSITION_FEATURES = (0, 1)


def check_candidate_graph(graph: str, k: Optional[int],
                          graph_radius: Optional[float] = None) -> None:
    r"""Raises unless ``graph`` is ``"full"``, ``"knn"`` with a positive
    ``k``, or ``"radius"`` with a positive ``graph_radius`` (which no other
    graph takes)."""
    if graph not in CANDIDATE_GRAPHS:
        raise ValueError(f"'graph' must be one of {CANDIDATE_GRAPHS}, got {graph!r}")
    if graph == "knn" and (k is None or k < 1):
        raise ValueError(f"graph='knn' needs a positive 'k', got k={k}")
    if graph == "radius":
        if graph_radius is None:
            raise ValueError("graph='radius' needs a positive 'graph_radius' (the distance "
                             "within which two objects are candidates), got graph_radius=None")
        check_real(graph_radius, "graph_radius", 0, where=" of graph='radius'")
    elif graph_radius is not None:
        raise ValueError(f"'graph_radius' is the distance of graph='radius', but "
                         f"graph={graph!r} (got graph_radius={graph_radius}); leave it out or "
                         f"use graph='radius'")


def check_position_features(position_features: Optional[Sequence[int]],
                            num_features: Optional[int] = None, where: str = "") -> None:
    r"""Raises unless ``position_features`` (the indices of the features
    that are coordinates; :obj:`None`: not declared) is a sequence of at
    least one distinct non-negative integer, each below ``num_features``
    where that is given. ``where`` says whose features they are."""
    if position_features is None:
        return
    if isinstance(position_features, (str, bytes)) \
            or not isinstance(position_features, (Sequence, np.ndarray)) \
            or any(isinstance(i, bool) or not isinstance(i, numbers.Integral) or i < 0
                   for i in position_features):
        raise ValueError(f"'position_features' must be a list of non-negative integer "
                         f"feature indices, got {position_features!r}")
    if len(position_features) == 0:
        raise ValueError("'position_features' must name at least one feature, got []")
    if len(set(position_features)) != len(position_features):
        raise ValueError(f"'position_features' must be distinct, got {list(position_features)}")
    if num_features is not None and max(position_features) >= num_features:
        raise ValueError(f"'position_features' {list(position_features)} must index the "
                         f"{num_features} features{where}: index {max(position_features)} is "
                         f"out of range")


def _closest_pair_distance(points: np.ndarray) -> float:
    """The smallest distance between two of the points ``[n, W, D]`` at one step."""
    return min(float(cKDTree(points[:, t]).query(points[:, t], k=2)[0][:, 1].min())
               for t in range(points.shape[1]))


def candidate_graph(graph: str, k: Optional[int], num_nodes: int,
                    graph_radius: Optional[float] = None,
                    position_features: Optional[Sequence[int]] = None,
                    all_steps: bool = False) -> Callable[[Tensor], Tensor]:
    r"""The candidate graph of a dataset's systems, as a function from one
    system's trajectories ``[N, T, F]`` to its ``edge_index``: the fully
    connected graph (built once, the same for every system), the ``k``
    nearest neighbours (:func:`knn_graph`) or every pair within
    ``graph_radius`` (:func:`radius_graph`) of the positions ``position_features``
    (default: :data:`DEFAULT_POSITION_FEATURES`) at the first step, or
    with ``all_steps`` the union of every step's graph (for relations that
    change over time: every pair that comes close at some step).

    A radius that leaves a system without a candidate edge is a
    :class:`ValueError` that gives the distance of its closest two objects.

    Args:
        graph (str): ``"full"``, ``"knn"`` or ``"radius"``.
        k (int, optional): Neighbours of the ``"knn"`` graph.
        num_nodes (int): The objects :math:`N` of each system.
        graph_radius (float, optional): Distance of the ``"radius"`` graph,
            in the units of the positions given to the function.
        position_features (sequence of int, optional): The features that
            are positions.
        all_steps (bool, optional): The union of every step's graph rather
            than the first step's. (default: :obj:`False`)
    """
    check_candidate_graph(graph, k, graph_radius)
    check_position_features(position_features)
    if graph == "full":
        full = fully_connected_edge_index(num_nodes)
        return lambda x: full
    features = list(DEFAULT_POSITION_FEATURES if position_features is None
                    else position_features)

    def positions(x: Tensor) -> Tensor:
        return x[:, :, features] if all_steps else x[:, 0, features]

    if graph == "knn":
        return lambda x: knn_graph(positions(x), k)

    def within_radius(x: Tensor) -> Tensor:
        pos = positions(x)
        edge_index = radius_graph(pos, graph_radius)
        if edge_index.size(1) == 0:
            closest = _closest_pair_distance(_positions(pos))
            raise ValueError(f"graph='radius' with graph_radius={graph_radius} leaves a system "
                             f"without a candidate edge: its closest two objects are "
                             f"{closest:.4g} apart (in the units of the position features "
                             f"{features}); use a larger graph_radius")
        return edge_index

    return within_radius
