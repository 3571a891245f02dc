import hashlib
import json
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.datasets.candidates import candidate_graph, check_candidate_graph
from torch_nri.io import atomic_torch_save, atomic_write_text

SPLITS = ("train", "valid", "test")
# Edge types of candidate edges: (system index, senders, receivers) -> types.
EdgeTypeFn = Callable[[int, np.ndarray, np.ndarray], np.ndarray]


class SimulatedDataset(InMemoryDataset):
    r"""Base class of the simulated datasets: simulates the three splits in
    :meth:`process`, normalises them with the training split's statistics,
    and caches them under ``root/processed/<name>-<key>/``, where the key is
    a hash of every parameter, so two configurations never share a cache.
    Every file is written atomically, and the cache counts as complete only
    when all of them exist, so an interrupted generation is redone.

    Each item is a :class:`~torch_geometric.data.Data` with ``x``
    ``[N, T, F]`` (normalised), ``edge_index`` ``[2, E]`` (the candidate
    graph) and ``edge_type`` ``[E]`` (the true relation of each candidate
    edge). Subclasses define :attr:`name`, :attr:`feature_groups`,
    :meth:`simulate` and the defaults.

    Args:
        root (str): Root directory of the cache.
        split (str, optional): ``"train"``, ``"valid"`` or ``"test"``.
            (default: ``"train"``)
        num_nodes (int, optional): Objects per system. (default: :obj:`5`)
        num_train (int, optional): Training systems. (default: :obj:`50000`)
        num_valid (int, optional): Validation systems. (default: :obj:`10000`)
        num_test (int, optional): Test systems. (default: :obj:`10000`)
        length (int, optional): Integration steps of training and validation
            systems. (default: per system, giving :math:`T = 49`)
        test_length (int, optional): Integration steps of test systems.
            (default: per system, giving :math:`T = 99`)
        sample_freq (int, optional): Steps between samples.
            (default: per system)
        seed (int, optional): Seed; each split draws from its own stream.
            (default: :obj:`42`)
        graph (str, optional): Candidate graph, ``"full"`` (fully connected)
            or ``"knn"`` (the ``k`` nearest neighbours at the first step).
            (default: ``"full"``)
        k (int, optional): Neighbours of the ``"knn"`` graph.
        transform, pre_transform (callable, optional): As in PyG.
        force_reload (bool, optional): Regenerate even if cached.
        progress (bool, optional): Show progress bars. (default: :obj:`False`)
        **physics: Keyword arguments of the simulator (e.g.
            ``spring_probs=(1, 0)``, ``num_neighbors=10``).
    """
    name: str = ""
    feature_groups: List[List[int]] = []
    default_length: int = 5000
    default_test_length: int = 10000
    default_sample_freq: int = 100
    has_positions: bool = True  # features 0 and 1 are 2-D positions (for kNN graphs)

    def __init__(self, root: str, split: str = "train", num_nodes: int = 5,
                 num_train: int = 50000, num_valid: int = 10000, num_test: int = 10000,
                 length: Optional[int] = None, test_length: Optional[int] = None,
                 sample_freq: Optional[int] = None, seed: int = 42, graph: str = "full",
                 k: Optional[int] = None, transform: Optional[Callable] = None,
                 pre_transform: Optional[Callable] = None, force_reload: bool = False,
                 progress: bool = False, **physics: Any) -> None:
        if split not in SPLITS:
            raise ValueError(f"'split' must be one of {SPLITS}, got {split!r}")
        if graph == "knn" and not self.has_positions:
            raise ValueError(f"{self.name} systems have no positions for a kNN graph; "
                             f"use graph='full'")
        check_candidate_graph(graph, k)
        for arg, value in (("num_train", num_train), ("num_valid", num_valid),
                           ("num_test", num_test), ("num_nodes", num_nodes)):
            if value < 1:
                raise ValueError(f"'{arg}' must be at least 1, got {value}")
        self.params: Dict[str, Any] = dict(
            num_nodes=num_nodes, num_train=num_train, num_valid=num_valid,
            num_test=num_test, length=length or self.default_length,
            test_length=test_length or self.default_test_length,
            sample_freq=sample_freq or self.default_sample_freq, seed=seed, graph=graph,
            k=k, physics=physics)
        self.split = split
        self.progress = progress
        super().__init__(root, transform, pre_transform, force_reload=force_reload)
        self.load(self.processed_paths[SPLITS.index(split)])
        with open(self.processed_paths[-1]) as f:
            self.stats = MinMaxStats.from_dict(json.load(f)["stats"])

    @property
    def key(self) -> str:
        r"""Hash of all parameters that define the data."""
        canonical = json.dumps({"name": self.name, **self.params}, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def processed_dir(self) -> str:
        n = self.params["num_nodes"]
        return osp.join(self.root, "processed", f"{self.name}-n{n}-{self.key}")

    @property
    def raw_file_names(self) -> List[str]:
        return []

    @property
    def processed_file_names(self) -> List[str]:
        return [f"{split}.pt" for split in SPLITS] + ["meta.json"]

    def simulate(self, num_sims: int, length: int, seed: int) -> Tuple[np.ndarray, EdgeTypeFn]:
        r"""Simulates ``num_sims`` systems; returns raw features
        ``[num_sims, T, N, F]`` and a function giving candidate edges' types."""
        raise NotImplementedError

    def denormalize(self, x):
        r"""Maps normalised trajectories or predictions back to raw units."""
        return self.stats.denormalize(x)

    def process(self) -> None:
        p = self.params
        split_sizes = dict(train=p["num_train"], valid=p["num_valid"], test=p["num_test"])
        stats = None
        for index, split in enumerate(SPLITS):
            length = p["test_length"] if split == "test" else p["length"]
            split_seed = int(np.random.SeedSequence([p["seed"], index]).generate_state(1)[0])
            features, edge_types = self.simulate(split_sizes[split], length, split_seed)
            if stats is None:  # the training split comes first
                stats = MinMaxStats.fit(features, self.feature_groups)
            x = torch.from_numpy(stats.normalize(features)).transpose(1, 2)  # [S, N, T, F]
            graph_of = candidate_graph(p["graph"], p["k"], p["num_nodes"])
            data_list = [self._make_item(x[s], graph_of(x[s]), edge_types, s)
                         for s in range(x.size(0))]
            if self.pre_transform is not None:
                data_list = [self.pre_transform(d) for d in data_list]
            data, slices = self.collate(data_list)
            atomic_torch_save((data.to_dict(), slices, data.__class__), self.processed_paths[index])
        meta = {"name": self.name, "params": p, "stats": stats.to_dict()}
        atomic_write_text(json.dumps(meta, indent=2, default=str), self.processed_paths[-1])

    @staticmethod
    def _make_item(x: torch.Tensor, edge_index: torch.Tensor, edge_types: EdgeTypeFn,
                   system: int) -> Data:
        senders, receivers = edge_index.numpy()
        edge_type = torch.as_tensor(np.asarray(edge_types(system, senders, receivers)),
                                    dtype=torch.long)
        return Data(x=x.contiguous(), edge_index=edge_index, edge_type=edge_type)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({len(self)}, split={self.split!r}, "
                f"num_nodes={self.params['num_nodes']}, graph={self.params['graph']!r})")
