import os
import warnings
import zipfile
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.graphs import (DEFAULT_POSITION_FEATURES, candidate_graph, check_candidate_graph,
                              check_position_features)

#: The files of a directory of your own trajectories (``train --data DIR``).
SPLIT_FILES = ("train.npz", "valid.npz", "test.npz")
#: The arrays of a trajectory file that are read; any other is warned about.
ARRAYS = ("x", "edges", "edge_list")
# The columns of an edge list's rows: one graph per sample, or a graph per step.
_COLUMNS = {4: ("sample", "sender", "receiver", "type"),
            5: ("sample", "step", "sender", "receiver", "type")}


class Relations:
    r"""The true relations of a trajectory file, read from its dense
    ``edges`` or its ``edge_list`` by :func:`read_trajectories`: the type
    (:math:`> 0`) of each related ordered pair of distinct objects, every
    other pair being of type 0, held as :math:`M` sorted integer keys, so
    that relations are never densified (dense ``[N, N]`` types of
    :math:`10^4` objects are 800 MB a sample). :meth:`edge_types` looks up
    candidate edges in :math:`O(E \log M)`.

    Args:
        keys (numpy.ndarray): The sorted int64 keys ``[M]`` of the related
            pairs, :math:`((s N + i) N + j) T' + t` for the edge
            :math:`i \rightarrow j` of sample :math:`s` at step :math:`t`
            (:math:`T' = 1` and :math:`t = 0` for one graph per sample).
        types (numpy.ndarray): Their types ``[M]``, int64.
        num_nodes (int): The objects :math:`N` of a sample.
        num_steps (int, optional): The steps :math:`T` of relations that
            change over time; :obj:`None` for one graph per sample.
    """
    def __init__(self, keys: np.ndarray, types: np.ndarray, num_nodes: int,
                 num_steps: Optional[int] = None) -> None:
        self.keys, self.types = keys, types
        self.num_nodes, self.num_steps = num_nodes, num_steps

    @property
    def per_step(self) -> bool:
        r"""Whether the relations change over time (a graph per step)."""
        return self.num_steps is not None

    def __len__(self) -> int:
        r"""The number of true relations :math:`M` (per step for relations
        that change over time)."""
        return len(self.keys)

    def edge_types(self, sample: int, senders: np.ndarray, receivers: np.ndarray) -> np.ndarray:
        r"""The types of the edges ``senders -> receivers`` of ``sample``:
        ``[E]``, or ``[E, T]`` for relations that change over time; int64,
        0 where a pair is not related."""
        n, steps = self.num_nodes, self.num_steps or 1
        pairs = (sample * n + senders.astype(np.int64)) * n + receivers
        queries = pairs[:, None] * steps + np.arange(steps)  # [E, T'], sorted like the keys
        types = np.zeros(queries.shape, dtype=np.int64)
        if len(self.keys):
            position = np.searchsorted(self.keys, queries).clip(max=len(self.keys) - 1)
            found = self.keys[position] == queries
            types[found] = self.types[position[found]]
        return types if self.per_step else types[:, 0]


def _relations(name: str, rows: np.ndarray, num_nodes: int,
               num_steps: Optional[int]) -> Relations:
    # Checked rows [M, 4] or [M, 5] (types last) as sorted keys; a pair listed
    # twice is an error naming the first row (in the file's order) that repeats one.
    steps = 1 if num_steps is None else num_steps
    step = 0 if num_steps is None else rows[:, 1]
    keys = ((rows[:, 0] * num_nodes + rows[:, -3]) * num_nodes + rows[:, -2]) * steps + step
    order = np.argsort(keys, kind="stable")  # equal keys keep the file's order
    keys = keys[order]
    repeats = np.flatnonzero(keys[1:] == keys[:-1]) + 1
    if repeats.size:
        later = int(order[repeats].min())
        first = int(order[np.searchsorted(keys, keys[np.flatnonzero(order == later)[0]])])
        fields = ", ".join(_COLUMNS[rows.shape[1]][:-1])
        raise ValueError(f"{name}: row {later} {rows[later].tolist()} repeats row {first} "
                         f"{rows[first].tolist()}: the same {fields} listed twice (each "
                         f"related pair once, with its type)")
    return Relations(keys, rows[order, -1], num_nodes, num_steps)


def _dense_relations(path: str, edges: np.ndarray, shape: Tuple[int, ...]) -> Relations:
    # 'edges' [S, N, N] or [S, T, N, N], checked and turned into sorted keys.
    num_samples, num_steps, num_nodes = shape[:3]
    static = [num_samples, num_nodes, num_nodes]
    per_step = [num_samples, num_steps, num_nodes, num_nodes]
    if list(edges.shape) not in (static, per_step):
        raise ValueError(f"'edges' in {path} must have shape [samples, N, N] = {static} (one "
                         f"graph per sample) or [samples, T, N, N] = {per_step} (a graph per "
                         f"step), got {edges.shape}")
    if not (np.issubdtype(edges.dtype, np.integer) or edges.dtype == np.bool_):
        raise ValueError(f"'edges' in {path} must hold integer edge types, got dtype "
                         f"{edges.dtype} (convert with edges.astype(int) if the values "
                         f"are whole)")
    if edges.size and edges.min() < 0:
        raise ValueError(f"'edges' in {path} must hold non-negative edge types, got "
                         f"values down to {edges.min()}")
    index = np.nonzero(edges)
    between = index[-2] != index[-1]  # an object's relation to itself is no candidate edge
    index = tuple(i[between] for i in index)
    rows = np.stack([*index, edges[index]], axis=1).astype(np.int64)
    return _relations(f"'edges' in {path}", rows, num_nodes,
                      num_steps if edges.ndim == 4 else None)


def _listed_relations(path: str, edge_list: np.ndarray, shape: Tuple[int, ...]) -> Relations:
    # 'edge_list' [M, 4] or [M, 5], checked row by row (the first bad row
    # named), as sorted keys: never densified.
    name = f"'edge_list' in {path}"
    if edge_list.ndim != 2 or edge_list.shape[1] not in _COLUMNS:
        raise ValueError(f"{name} must have shape [M, 4], rows (sample, sender, receiver, "
                         f"type), or [M, 5], rows (sample, step, sender, receiver, type) for "
                         f"relations that change over time; got {edge_list.shape}")
    if not np.issubdtype(edge_list.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {edge_list.dtype} (convert "
                         f"with edge_list.astype(int) if the values are whole)")
    rows = edge_list.astype(np.int64)
    columns = _COLUMNS[rows.shape[1]]
    num_samples, num_steps, num_nodes = shape[:3]

    def refuse_first(bad: np.ndarray, problem: Callable[[np.ndarray], str]) -> None:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}: row {row} {edge_list[row].tolist()} ({', '.join(columns)}) "
                             f"{problem(rows[row])}")

    refuse_first(rows[:, -1] <= 0, lambda row: (
        f"has type {row[-1]}: list only related pairs, of types 1 and up (type 0 is no edge, "
        f"every pair not listed)"))
    limits = dict(sample=(num_samples, "samples"), step=(num_steps, "steps"),
                  sender=(num_nodes, "objects"), receiver=(num_nodes, "objects"))
    for column, field in enumerate(columns[:-1]):
        bound, unit = limits[field]
        refuse_first((rows[:, column] < 0) | (rows[:, column] >= bound), lambda row: (
            f"has {field} {row[column]}, outside [0, {bound}): 'x' has {bound} {unit}"))
    refuse_first(rows[:, -3] == rows[:, -2], lambda row: (
        f"relates object {row[-2]} to itself: a relation joins two objects"))
    return _relations(name, rows, num_nodes, num_steps if rows.shape[1] == 5 else None)


def read_trajectories(path: str) -> Tuple[np.ndarray, Optional[Relations]]:
    r"""Reads and checks a ``.npz`` file of trajectories: ``x``
    ``[samples, T, N, F]`` of real numbers and, optionally, the true
    relations, as one of

    - ``edges``, dense non-negative integer edge types ``[samples, N, N]``
      (``edges[s, i, j]`` for the edge :math:`i \rightarrow j`), or
      ``[samples, T, N, N]`` for relations that change over time (a graph
      per step);
    - ``edge_list``, integer rows ``[M, 4]`` (sample, sender, receiver,
      type), or ``[M, 5]`` (sample, step, sender, receiver, type) for
      relations that change over time: one row per related ordered pair of
      distinct objects (a symmetric relation is listed in both directions),
      of type 1 and up; every pair not listed is of type 0 ("no edge"). It
      is never densified, so it suits files of :math:`10^4` objects and
      more.

    Every problem is a clear error that names the file: for an edge list,
    the first bad row (sample, step, sender or receiver out of range, a
    type below 1, an object related to itself, a pair listed twice). A
    relation of an object with itself in ``edges`` (its diagonal) is not
    read: candidate edges join two objects. Arrays of other names are read
    by nothing and warned about (:class:`UserWarning`).

    Returns:
        (numpy.ndarray, Relations or None): ``x`` as float32, and the true
        relations (:class:`Relations`) where the file holds them.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"trajectory file not found: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not named arrays")
        with archive:
            files = sorted(archive.files)
            arrays = {name: archive[name] for name in ARRAYS if name in files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable .npz file of numeric arrays (corrupt, "
                         f"truncated, or holding Python objects?): {error}") from None
    x = arrays.get("x")
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
    if "edges" in arrays and "edge_list" in arrays:
        raise ValueError(f"{path} holds both 'edges' and 'edge_list': give the relations "
                         f"once, as dense edges or as an edge list")
    relations = None
    if "edges" in arrays:
        relations = _dense_relations(path, arrays["edges"], x.shape)
    elif "edge_list" in arrays:
        relations = _listed_relations(path, arrays["edge_list"], x.shape)
    unread = [name for name in files if name not in ARRAYS]
    if unread:
        warnings.warn(f"{path} holds arrays that are not read: {', '.join(unread)} (a "
                      f"trajectory file's arrays are {', '.join(ARRAYS)})", UserWarning,
                      stacklevel=2)
    return x.astype(np.float32), relations


class TrajectoryDataset(InMemoryDataset):
    r"""Trajectories of your own interacting system, from a ``.npz`` file
    (:func:`read_trajectories`).

    The file holds ``x`` of shape ``[samples, T, N, F]`` (raw, unnormalised)
    and, optionally, the true relations: dense ``edges`` or an
    ``edge_list``, one graph per sample or a graph per step. Each item is a
    :class:`~torch_geometric.data.Data` with ``x`` ``[N, T, F]``,
    ``edge_index`` (the candidate graph) and, with relations, ``edge_type``
    ``[E]``, or ``[E, T]`` where they change over time (the format of
    :class:`~torch_nri.datasets.ProximityDataset`). The candidate graph is
    fully connected, the ``k`` nearest neighbours, or every pair within
    ``graph_radius``, of the positions (``position_features``, in raw
    units) at the first step, or, where the relations change over time, at
    some step (the union of every step's graph). :func:`load_splits` reads a
    directory of three such files.

    Args:
        path (str): The ``.npz`` file.
        stats (MinMaxStats, optional): Normalisation to apply, e.g. the
            training statistics of a run. (default: none, raw values)
        graph (str, optional): ``"full"``, ``"knn"`` or ``"radius"``.
            (default: ``"full"``)
        k (int, optional): Neighbours of the ``"knn"`` graph.
        graph_radius (float, optional): Distance of the ``"radius"``
            graph, in the units of the file's positions.
        position_features (list of int, optional): The features that are
            coordinates, for the ``"knn"`` and ``"radius"`` graphs.
            (default: features 0 and 1)
        transform (callable, optional): As in PyG.
        arrays (tuple, optional): The file's ``(x, relations)`` if they
            were already read with :func:`read_trajectories`.
    """
    def __init__(self, path: str, stats: Optional[MinMaxStats] = None, graph: str = "full",
                 k: Optional[int] = None, graph_radius: Optional[float] = None,
                 position_features: Optional[Sequence[int]] = None,
                 transform: Optional[Callable] = None,
                 arrays: Optional[Tuple[np.ndarray, Optional[Relations]]] = None) -> None:
        super().__init__(None, transform)
        check_candidate_graph(graph, k, graph_radius)
        x, relations = read_trajectories(path) if arrays is None else arrays
        num_samples, _, num_nodes, num_features = x.shape
        check_position_features(position_features, num_features, where=f" of 'x' in {path}")
        if position_features is None and num_features >= len(DEFAULT_POSITION_FEATURES):
            position_features = DEFAULT_POSITION_FEATURES
        if graph != "full" and position_features is None:
            raise ValueError(f"graph={graph!r} finds neighbours by features 0 and 1 "
                             f"(positions) unless 'position_features' names others; 'x' in "
                             f"{path} has {num_features} feature")
        self.path = path
        self.stats = stats
        #: The features that are positions (declared, or 0 and 1; :obj:`None`
        #: for a single feature).
        self.position_features = None if position_features is None else list(position_features)
        raw = torch.from_numpy(x)
        x = raw
        if stats is not None:
            if stats.num_features != num_features:
                raise ValueError(f"'x' in {path} has {num_features} features, but the "
                                 f"normalisation (e.g. the run's stats.json) is for "
                                 f"{stats.num_features}")
            x = stats.normalize(raw)
        per_step = relations is not None and relations.per_step
        graph_of = candidate_graph(graph, k, num_nodes, graph_radius, position_features,
                                   all_steps=per_step)
        data_list, found = [], 0
        for s in range(num_samples):
            try:  # raw positions: a radius in the file's units
                edge_index = graph_of(raw[s].transpose(0, 1))
            except ValueError as error:
                raise ValueError(f"{path}, sample {s}: {error}") from None
            data = Data(x=x[s].transpose(0, 1).contiguous(), edge_index=edge_index)
            if relations is not None:
                data.edge_type = torch.from_numpy(relations.edge_types(s, *edge_index.numpy()))
                found += int(data.edge_type.count_nonzero())
            data_list.append(data)
        self._candidate_recall = (found / len(relations) if relations is not None
                                  and len(relations) else None)
        self.data, self.slices = self.collate(data_list)

    @property
    def candidate_recall(self) -> Optional[float]:
        r"""The fraction of the true relations (type :math:`\neq 0`; each
        step's, where they change over time) that are candidate edges: the
        most of them an encoder can find. Related pairs that are not
        candidates count against it. :obj:`None` where the file holds no
        relations (or none of type :math:`\neq 0`)."""
        return self._candidate_recall

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({len(self)}, path={self.path!r})"


def load_splits(directory: str, graph: str = "full", k: Optional[int] = None,
                graph_radius: Optional[float] = None,
                position_features: Optional[Sequence[int]] = None
                ) -> Tuple[TrajectoryDataset, TrajectoryDataset, TrajectoryDataset]:
    r"""The train, valid and test splits of your own trajectories: the files
    ``train.npz``, ``valid.npz`` and ``test.npz`` of ``directory``
    (:func:`read_trajectories`), with the same number of objects :math:`N`
    and features :math:`F` (the number of steps may differ) and relations
    of one form (a graph per sample or a graph per step), each feature
    min-max scaled to :math:`[-1, 1]` with the training split's statistics.
    The other arguments are those of :class:`TrajectoryDataset`.
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
    forms = {path: "a graph per step" if relations.per_step else "one graph per sample"
             for path, (_, relations) in zip(paths, arrays) if relations is not None}
    if len(set(forms.values())) > 1:
        raise ValueError(f"the splits' relations must be of one form, got "
                         f"{'; '.join(f'{form} in {path}' for path, form in forms.items())}")
    try:
        stats = MinMaxStats.fit(x_train, [[f] for f in range(num_features)])
    except ValueError as error:
        raise ValueError(f"{paths[0]}: {error}") from None
    return tuple(TrajectoryDataset(path, stats=stats, graph=graph, k=k,
                                   graph_radius=graph_radius,
                                   position_features=position_features, arrays=split)
                 for path, split in zip(paths, arrays))
