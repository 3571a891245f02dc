"""Candidate interaction graphs as PyG ``edge_index`` tensors.

Edges follow PyG's direction convention: ``edge_index[0]`` holds the senders,
``edge_index[1]`` the receivers.
"""
from typing import Optional, Sequence, Union

import torch
from scipy.spatial import cKDTree
from torch import Tensor
from torch_geometric.utils import coalesce

from torch_nri._validation import check_edge_index


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
    sizes = torch.as_tensor(num_nodes, dtype=torch.long).reshape(-1).cpu()
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


def reverse_edge_index(edge_index: Tensor, num_nodes: Optional[int] = None) -> Tensor:
    r"""For each edge :math:`i \rightarrow j`, the position of its reverse edge
    :math:`j \rightarrow i` in ``edge_index``, or -1 where there is none.

    Runs in :math:`O(E \log E)` by sorting edge keys; with duplicate edges,
    the first occurrence in sorted order is returned.

    Args:
        edge_index (torch.Tensor): Edge indices of shape :math:`(2, E)`.
        num_nodes (int, optional): The number of nodes.
            (default: ``edge_index.max() + 1``)

    Returns:
        torch.Tensor: A long tensor of shape :math:`(E,)`.
    """
    if num_nodes is None:
        num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
    check_edge_index(edge_index, num_nodes)
    if edge_index.size(1) == 0:
        return torch.empty(0, dtype=torch.long, device=edge_index.device)
    senders, receivers = edge_index
    keys = senders * num_nodes + receivers
    sorted_keys, order = torch.sort(keys)
    reverse_keys = receivers * num_nodes + senders
    position = torch.searchsorted(sorted_keys, reverse_keys).clamp_(max=keys.numel() - 1)
    found = sorted_keys[position] == reverse_keys
    return torch.where(found, order[position], torch.full_like(position, -1))


def knn_graph(pos: Tensor, k: int, batch: Optional[Tensor] = None,
              symmetric: bool = False) -> Tensor:
    r"""The :math:`k`-nearest-neighbour candidate graph of points ``pos``:
    an edge from each of a node's :math:`k` nearest neighbours (senders) to
    the node (receiver), without self loops, found with
    :class:`scipy.spatial.cKDTree`. Graphs of a batch are kept apart.

    Args:
        pos (torch.Tensor): Positions ``[N, D]``.
        k (int): Number of neighbours; graphs with at most :math:`k` nodes
            become fully connected.
        batch (torch.Tensor, optional): Graph index of each node ``[N]``,
            sorted as in a PyG batch. (default: one graph)
        symmetric (bool, optional): If set to :obj:`True`, adds the reverse
            of every edge (without duplicates). (default: :obj:`False`)

    Returns:
        torch.Tensor: ``edge_index`` of shape :math:`(2, E)`.
    """
    if pos.dim() != 2:
        raise ValueError(f"'pos' must have shape [num_nodes, num_dims], got {tuple(pos.shape)}")
    if k < 1:
        raise ValueError(f"'k' must be at least 1, got {k}")
    points = pos.detach().cpu().double().numpy()
    if batch is None:
        sizes = [points.shape[0]]
    else:
        sizes = torch.bincount(batch.cpu()).tolist()
    parts, offset = [], 0
    for n in sizes:
        if n > 1:
            k_eff = min(k, n - 1)
            _, neighbours = cKDTree(points[offset:offset + n]).query(
                points[offset:offset + n], k=k_eff + 1)
            senders = torch.as_tensor(neighbours[:, 1:].reshape(-1), dtype=torch.long)
            receivers = torch.arange(n).repeat_interleave(k_eff)
            parts.append(torch.stack([senders, receivers]) + offset)
        offset += n
    if not parts:
        return torch.empty(2, 0, dtype=torch.long, device=pos.device)
    edge_index = torch.cat(parts, dim=1)
    if symmetric:
        edge_index = coalesce(torch.cat([edge_index, edge_index.flip(0)], dim=1),
                              num_nodes=points.shape[0])
    return edge_index.to(pos.device)
