import os
import zipfile
from typing import Callable, Optional, Tuple

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.graphs import candidate_graph, check_candidate_graph

#: The files of a directory of your own trajectories (``train --data DIR``).
SPLIT_FILES = ("train.npz", "valid.npz", "test.npz")


def read_trajectories(path: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    r"""Reads and checks a ``.npz`` file of trajectories: ``x``
    ``[samples, T, N, F]`` of real numbers and, optionally, ``edges``
    ``[samples, N, N]`` of non-negative integer edge types. Every problem is
    a clear error that names the file.

    Returns:
        (numpy.ndarray, numpy.ndarray or None): ``x`` as float32 and
        ``edges`` as int64.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"trajectory file not found: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not named arrays")
        with archive:
            files = sorted(archive.files)
            x = archive["x"] if "x" in files else None
            edges = archive["edges"] if "edges" in files else None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable .npz file of numeric arrays (corrupt, "
                         f"truncated, or holding Python objects?): {error}") from None
    if x is None:
        raise ValueError(f"{path} has no array 'x' (found {files}); expected x of shape "
                         f"[samples, T, N, F]")
    if x.ndim != 4:
        raise ValueError(f"'x' in {path} must have shape [samples, T, N, F], got {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"'x' in {path} must hold real numbers, got dtype {x.dtype}")
    num_samples, num_steps, num_nodes, num_features = x.shape
    if num_samples < 1 or num_steps < 2 or num_nodes < 2 or num_features < 1:
        raise ValueError(f"'x' in {path} needs at least 1 sample, 2 steps, 2 objects and "
                         f"1 feature, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"'x' in {path} contains {int((~np.isfinite(x)).sum())} "
                         f"non-finite values (NaN or inf)")
    if edges is not None:
        if edges.shape != (num_samples, num_nodes, num_nodes):
            raise ValueError(f"'edges' in {path} must have shape [samples, N, N] = "
                             f"{[num_samples, num_nodes, num_nodes]}, got {edges.shape}")
        if not (np.issubdtype(edges.dtype, np.integer) or edges.dtype == np.bool_):
            raise ValueError(f"'edges' in {path} must hold integer edge types, got dtype "
                             f"{edges.dtype} (convert with edges.astype(int) if the values "
                             f"are whole)")
        if edges.size and edges.min() < 0:
            raise ValueError(f"'edges' in {path} must hold non-negative edge types, got "
                             f"values down to {edges.min()}")
        edges = edges.astype(np.int64)
    return x.astype(np.float32), edges


class TrajectoryDataset(InMemoryDataset):
    r"""Trajectories of your own interacting system, from a ``.npz`` file
    (:func:`read_trajectories`).

    The file holds ``x`` of shape ``[samples, T, N, F]`` (raw, unnormalised)
    and, optionally, ``edges`` of shape ``[samples, N, N]`` with the true
    integer relation of each ordered pair (``edges[s, i, j]`` for the edge
    :math:`i \rightarrow j`). Each item is a
    :class:`~torch_geometric.data.Data` with ``x`` ``[N, T, F]``,
    ``edge_index`` (fully connected, or the ``k`` nearest neighbours of
    features 0 and 1 at the first step) and, with ``edges``, ``edge_type``.
    :func:`load_splits` reads a directory of three such files.

    Args:
        path (str): The ``.npz`` file.
        stats (MinMaxStats, optional): Normalisation to apply, e.g. the
            training statistics of a run. (default: none, raw values)
        graph (str, optional): ``"full"`` or ``"knn"``. (default: ``"full"``)
        k (int, optional): Neighbours of the ``"knn"`` graph.
        transform (callable, optional): As in PyG.
        arrays (tuple, optional): The file's ``(x, edges)`` if they were
            already read with :func:`read_trajectories`.
    """
    def __init__(self, path: str, stats: Optional[MinMaxStats] = None, graph: str = "full",
                 k: Optional[int] = None, transform: Optional[Callable] = None,
                 arrays: Optional[Tuple[np.ndarray, Optional[np.ndarray]]] = None) -> None:
        super().__init__(None, transform)
        check_candidate_graph(graph, k)
        # arrays: the file's (x, edges), already read by read_trajectories.
        x, edges = read_trajectories(path) if arrays is None else arrays
        num_samples, _, num_nodes, num_features = x.shape
        if graph == "knn" and num_features < 2:
            raise ValueError(f"graph='knn' finds neighbours by features 0 and 1 (positions); "
                             f"'x' in {path} has {num_features} feature")
        self.path = path
        self.stats = stats
        x = torch.from_numpy(x)
        if stats is not None:
            if stats.num_features != num_features:
                raise ValueError(f"'x' in {path} has {num_features} features, but the "
                                 f"normalisation (e.g. the run's stats.json) is for "
                                 f"{stats.num_features}")
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


def load_splits(directory: str, graph: str = "full", k: Optional[int] = None
                ) -> Tuple[TrajectoryDataset, TrajectoryDataset, TrajectoryDataset]:
    r"""The train, valid and test splits of your own trajectories: the files
    ``train.npz``, ``valid.npz`` and ``test.npz`` of ``directory``
    (:func:`read_trajectories`), with the same number of objects :math:`N`
    and features :math:`F` (the number of steps may differ), each feature
    min-max scaled to :math:`[-1, 1]` with the training split's statistics.
    """
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"trajectory directory expected, but {directory} is a file (a "
                         f"directory with {', '.join(SPLIT_FILES)})")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"trajectory directory not found: {directory} (expected "
                                f"a directory with {', '.join(SPLIT_FILES)})")
    paths = [os.path.join(directory, name) for name in SPLIT_FILES]
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError(f"{directory} must hold {', '.join(SPLIT_FILES)}; missing: "
                                f"{', '.join(missing)}")
    arrays = [read_trajectories(path) for path in paths]
    x_train = arrays[0][0]
    num_nodes, num_features = x_train.shape[2:]
    for path, (x, _) in zip(paths[1:], arrays[1:]):
        shape = x.shape
        if shape[2:] != (num_nodes, num_features):
            raise ValueError(f"'x' in {path} has N={shape[2]} objects and F={shape[3]} "
                             f"features, {paths[0]} has N={num_nodes} and F={num_features}: "
                             f"every split needs the same N and F")
    try:
        stats = MinMaxStats.fit(x_train, [[f] for f in range(num_features)])
    except ValueError as error:
        raise ValueError(f"{paths[0]}: {error}") from None
    return tuple(TrajectoryDataset(path, stats=stats, graph=graph, k=k, arrays=split)
                 for path, split in zip(paths, arrays))
