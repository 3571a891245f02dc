r"""Batches of systems for the training loop and the test protocol.

Where every system of a split has the same number of objects :math:`N` and
of candidate edges :math:`E` (the simulated systems, your own ``.npz``
trajectories), :class:`FixedSizeLoader` keeps the split as tensors on the
device and cuts each batch by indexing: no collation of
:class:`~torch_geometric.data.Data` objects and no copy to the device per
batch, and the batched ``edge_index`` of a shared candidate graph is built
once per batch size. Its batches are those of
:class:`torch_geometric.loader.DataLoader` on the same sampler, element for
element; :func:`make_loader` falls back to that loader for anything else
(systems of different sizes, a dataset transform).
"""
import copy
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Sequence, Union

import torch
from torch import Tensor
from torch.utils.data import Dataset, RandomSampler, Sampler, Subset
from torch_geometric.data import InMemoryDataset
from torch_geometric.loader import DataLoader

from torch_nri.graphs import GraphSizes


@dataclass
class FixedSizeBatch:
    r"""A batch of systems of ``nodes_per_graph`` objects each, laid out as
    a PyG :class:`~torch_geometric.data.Batch` of them: ``x``
    ``[B N, T, F]``, ``edge_index`` ``[2, B E]`` (the systems' graphs side by
    side, node indices offset), ``batch`` ``[B N]`` and, where the data has
    them, ``edge_type`` ``[B E]``."""
    x: Tensor
    edge_index: Tensor
    batch: Tensor
    nodes_per_graph: int
    edge_type: Optional[Tensor] = None
    max_in_degree: Optional[int] = None

    @property
    def num_graphs(self) -> int:
        return self.x.size(0) // self.nodes_per_graph

    @property
    def num_nodes(self) -> int:
        return self.x.size(0)

    @property
    def sizes(self) -> Optional[GraphSizes]:
        r"""The batch's :class:`~torch_nri.graphs.GraphSizes`, known without
        a read of the tensors (:obj:`None` without ``max_in_degree``)."""
        if self.max_in_degree is None:
            return None
        return GraphSizes(self.num_graphs, self.nodes_per_graph, self.max_in_degree)

    def __contains__(self, key: str) -> bool:
        return getattr(self, key, None) is not None

    def to(self, device: Union[str, torch.device], non_blocking: bool = False
           ) -> "FixedSizeBatch":
        def move(tensor: Optional[Tensor]) -> Optional[Tensor]:
            return None if tensor is None else tensor.to(device, non_blocking=non_blocking)

        return FixedSizeBatch(move(self.x), move(self.edge_index), move(self.batch),
                              self.nodes_per_graph, move(self.edge_type), self.max_in_degree)


def _in_memory(dataset: Dataset):
    # The InMemoryDataset behind a dataset or a Subset of one, and the indices.
    indices = None
    if isinstance(dataset, Subset):
        dataset, indices = dataset.dataset, list(dataset.indices)
    if not isinstance(dataset, InMemoryDataset) or dataset.transform is not None:
        return None, None
    return dataset, indices


def fixed_size(dataset: Dataset) -> bool:
    r"""Whether every system of ``dataset`` has the same number of objects
    and of candidate edges, so that :class:`FixedSizeLoader` can serve it."""
    data, _ = _in_memory(dataset)
    if data is None or len(data) == 0 or data.slices is None:
        return False
    slices = data.slices
    if "x" not in slices or "edge_index" not in slices:
        return False
    nodes, edges = slices["x"].diff(), slices["edge_index"].diff()
    extra = set(slices) - {"x", "edge_index", "edge_type"}
    return not extra and bool((nodes == nodes[0]).all()) and bool((edges == edges[0]).all())


class FixedSizeLoader:
    r"""Batches of a dataset of equal-sized systems cut from tensors on
    ``device`` (see the module's description). The order is the sampler's
    (``sampler``; or a :class:`~torch.utils.data.RandomSampler` with
    ``generator`` when ``shuffle``; or the dataset's), in batches of
    ``batch_size``, the last one smaller: the batches of
    ``DataLoader(dataset, batch_size, shuffle, sampler, generator)``.

    Args:
        dataset (Dataset): An :class:`~torch_geometric.data.InMemoryDataset`
            (or a :class:`~torch.utils.data.Subset` of one) for which
            :func:`fixed_size` holds.
        batch_size (int): Systems per batch.
        device (torch.device, optional): Where the split is kept.
        shuffle (bool, optional): A new random order every epoch.
        sampler (Sampler, optional): The order of the systems.
        generator (torch.Generator, optional): The shuffle's generator.
    """
    def __init__(self, dataset: Dataset, batch_size: int,
                 device: Union[str, torch.device] = "cpu", shuffle: bool = False,
                 sampler: Optional[Sampler] = None,
                 generator: Optional[torch.Generator] = None) -> None:
        if not fixed_size(dataset):
            raise ValueError("FixedSizeLoader needs an in-memory dataset of systems with the "
                             "same number of objects and edges and no transform")
        data, indices = _in_memory(dataset)
        store = data._data
        self.num_systems = len(data)
        num_nodes = int(data.slices["x"][1])
        num_edges = int(data.slices["edge_index"][1])
        self.num_nodes, self.num_edges = num_nodes, num_edges
        S = self.num_systems
        self.x = store.x.view(S, num_nodes, *store.x.shape[1:]).to(device)
        edge_index = store.edge_index.view(2, S, num_edges).transpose(0, 1)
        # One candidate graph for all systems (the fully connected one): batched once.
        self.shared_graph = bool((edge_index == edge_index[:1]).all())
        graphs = edge_index[:1] if self.shared_graph else edge_index
        # The largest in-degree of every system, once: the batches' GraphSizes.
        in_degree = torch.zeros(graphs.size(0), num_nodes, dtype=torch.long)
        in_degree.scatter_add_(1, graphs[:, 1], torch.ones_like(graphs[:, 1]))
        self.max_in_degree = int(in_degree.max()) if in_degree.numel() else 0
        self.edge_index = graphs.to(device)
        # [E] per system, or [E, T] for relations that change over time.
        self.edge_type = (store.edge_type.view(S, num_edges, *store.edge_type.shape[1:]).to(device)
                          if "edge_type" in data.slices else None)
        self.indices = indices
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.shuffle, self.sampler, self.generator = shuffle, sampler, generator
        self._graphs: Dict[int, Tensor] = {}
        self._batch_vectors: Dict[int, Tensor] = {}

    def __len__(self) -> int:
        count = len(self.sampler) if self.sampler is not None else len(self._positions())
        return (count + self.batch_size - 1) // self.batch_size

    def _positions(self) -> Sequence[int]:
        return self.indices if self.indices is not None else range(self.num_systems)

    def _order(self) -> Tensor:
        # DataLoader draws its workers' base seed first, from its generator or
        # the global one; drawing it too keeps every later random number equal.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        if self.sampler is not None:
            order = list(self.sampler)
        elif self.shuffle:
            positions = self._positions()
            order = [positions[i] for i in RandomSampler(positions, generator=self.generator)]
        else:
            order = list(self._positions())
        if self.sampler is not None and self.indices is not None:
            order = [self.indices[i] for i in order]
        return torch.as_tensor(order, dtype=torch.long).to(self.device)

    def _batched_graph(self, systems: Tensor) -> Tensor:
        size = systems.numel()
        offsets = torch.arange(size, device=self.device).mul_(self.num_nodes).view(-1, 1, 1)
        if not self.shared_graph:
            graphs = self.edge_index[systems] + offsets
            return graphs.transpose(0, 1).reshape(2, -1)
        if size not in self._graphs:
            self._graphs[size] = (self.edge_index + offsets).transpose(0, 1).reshape(2, -1)
        return self._graphs[size]

    def _batch_vector(self, size: int) -> Tensor:
        if size not in self._batch_vectors:
            self._batch_vectors[size] = torch.arange(
                size, device=self.device).repeat_interleave(self.num_nodes)
        return self._batch_vectors[size]

    def __iter__(self) -> Iterator[FixedSizeBatch]:
        for systems in self._order().split(self.batch_size):
            yield FixedSizeBatch(
                x=self.x[systems].flatten(0, 1), edge_index=self._batched_graph(systems),
                batch=self._batch_vector(systems.numel()), nodes_per_graph=self.num_nodes,
                edge_type=None if self.edge_type is None
                else self.edge_type[systems].flatten(0, 1), max_in_degree=self.max_in_degree)

    def reordered(self, shuffle: bool = False, sampler: Optional[Sampler] = None,
                  generator: Optional[torch.Generator] = None) -> "FixedSizeLoader":
        r"""This loader in another order (a new epoch's sampler or shuffle
        generator), sharing its tensors: the split is uploaded to the device
        once per run, not once per epoch."""
        other = copy.copy(self)
        other.shuffle, other.sampler, other.generator = shuffle, sampler, generator
        return other


def make_loader(dataset: Dataset, batch_size: int, device: Union[str, torch.device] = "cpu",
                shuffle: bool = False, sampler: Optional[Sampler] = None,
                generator: Optional[torch.Generator] = None, previous: Any = None):
    r"""A :class:`FixedSizeLoader` where :func:`fixed_size` holds, else a
    :class:`torch_geometric.loader.DataLoader` with the same arguments, whose
    batches are pinned in page-locked memory when ``device`` is CUDA, so
    that they are copied to it asynchronously (``batch.to(device,
    non_blocking=True)``). ``previous``, a loader of the same split from an
    earlier epoch, keeps a :class:`FixedSizeLoader`'s tensors where they are
    (:meth:`FixedSizeLoader.reordered`)."""
    if isinstance(previous, FixedSizeLoader):
        return previous.reordered(shuffle, sampler, generator)
    if fixed_size(dataset):
        return FixedSizeLoader(dataset, batch_size, device, shuffle, sampler, generator)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None,
                      sampler=sampler, generator=generator,
                      pin_memory=torch.device(device).type == "cuda")
