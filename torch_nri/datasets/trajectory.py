import os
from typing import Callable, Optional

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.datasets.candidates import candidate_graph, check_candidate_graph


class TrajectoryDataset(InMemoryDataset):
    r"""Trajectories of your own interacting system, from a ``.npz`` file.

    The file holds ``x`` of shape ``[samples, T, N, F]`` (raw, unnormalised)
    and, optionally, ``edges`` of shape ``[samples, N, N]`` with the true
    integer relation of each ordered pair (``edges[s, i, j]`` for the edge
    :math:`i \rightarrow j`). Each item is a
    :class:`~torch_geometric.data.Data` with ``x`` ``[N, T, F]``,
    ``edge_index`` (fully connected, or the ``k`` nearest neighbours of
    features 0 and 1 at the first step) and, with ``edges``, ``edge_type``.

    Args:
        path (str): The ``.npz`` file.
        stats (MinMaxStats, optional): Normalisation to apply, e.g. the
            training statistics of a run. (default: none, raw values)
        graph (str, optional): ``"full"`` or ``"knn"``. (default: ``"full"``)
        k (int, optional): Neighbours of the ``"knn"`` graph.
        transform (callable, optional): As in PyG.
    """
    def __init__(self, path: str, stats: Optional[MinMaxStats] = None, graph: str = "full",
                 k: Optional[int] = None, transform: Optional[Callable] = None) -> None:
        super().__init__(None, transform)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"trajectory file not found: {path}")
        check_candidate_graph(graph, k)
        with np.load(path) as archive:
            if "x" not in archive.files:
                raise ValueError(f"{path} has no array 'x' (found {sorted(archive.files)}); "
                                 f"expected x of shape [samples, T, N, F]")
            x = archive["x"]
            edges = archive["edges"] if "edges" in archive.files else None
        if x.ndim != 4:
            raise ValueError(f"'x' in {path} must have shape [samples, T, N, F], "
                             f"got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"'x' in {path} contains {int((~np.isfinite(x)).sum())} "
                             f"non-finite values (NaN or inf)")
        num_samples, _, num_nodes, _ = x.shape
        if edges is not None and edges.shape != (num_samples, num_nodes, num_nodes):
            raise ValueError(f"'edges' in {path} must have shape [samples, N, N] = "
                             f"{[num_samples, num_nodes, num_nodes]}, got {edges.shape}")
        self.path = path
        self.stats = stats
        x = torch.from_numpy(np.asarray(x, dtype=np.float32))
        if stats is not None:
            x = stats.normalize(x)
        graph_of = candidate_graph(graph, k, num_nodes)
        data_list = []
        for s in range(num_samples):
            nodes = x[s].transpose(0, 1).contiguous()  # [N, T, F]
            edge_index = graph_of(nodes)
            data = Data(x=nodes, edge_index=edge_index)
            if edges is not None:
                data.edge_type = torch.as_tensor(edges[s][edge_index[0], edge_index[1]],
                                                 dtype=torch.long)
            data_list.append(data)
        self.data, self.slices = self.collate(data_list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({len(self)}, path={self.path!r})"
