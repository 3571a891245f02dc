"""PyG transforms that replace a dataset item's candidate graph with a
nearest-neighbour or radius graph of its positions at a chosen step or over
a window of steps."""
from typing import Optional, Sequence, Union

from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from torch_nri.graphs import edge_positions, knn_graph, radius_graph

Steps = Union[int, slice, Sequence[int]]


class _CandidateGraph(BaseTransform):
    """Shared by :class:`KNNGraph` and :class:`RadiusGraph`: selects the
    positions, builds the graph and carries the true edge types over."""
    def __init__(self, steps: Steps = 0, pos_features: Sequence[int] = (0, 1)) -> None:
        self.steps = steps
        self.pos_features = list(pos_features)

    def positions(self, x: Tensor) -> Tensor:
        if x.dim() != 3:
            raise ValueError(f"'data.x' must have shape [num_nodes, num_steps, num_features], "
                             f"got {tuple(x.shape)}")
        steps = self.steps if isinstance(self.steps, (int, slice)) else list(self.steps)
        return x[:, steps][..., self.pos_features]

    def graph(self, pos: Tensor, batch: Optional[Tensor]) -> Tensor:
        raise NotImplementedError

    def forward(self, data: Data) -> Data:
        edge_index = self.graph(self.positions(data.x), getattr(data, "batch", None))
        if getattr(data, "edge_type", None) is not None:
            # The true types are known on the old candidate edges only.
            position = edge_positions(data.edge_index, edge_index, data.num_nodes)
            if (position < 0).any():
                raise ValueError(
                    f"{int((position < 0).sum())} edges of the new graph are not candidate "
                    f"edges of the item, so their true type is unknown; build the dataset "
                    f"with graph='full' to apply {self.__class__.__name__}")
            data.edge_type = data.edge_type[position]
        data.edge_index = edge_index
        return data


class KNNGraph(_CandidateGraph):
    r"""Replaces ``data.edge_index`` with the :math:`k`-nearest-neighbour
    graph (:func:`torch_nri.graphs.knn_graph`) of the positions
    ``data.x[:, steps, pos_features]``: of one step, or the union over a
    window of steps. A ``data.edge_type`` of true relations is looked up on
    the old candidate edges, so the dataset should hold the fully connected
    graph. Nearest neighbours do not change under the min-max normalisation
    of the simulated datasets (one scale for all position features).

    .. code-block:: python

        SpringsDataset(root, num_nodes=100,
                       transform=KNNGraph(k=10, steps=slice(0, 10)))

    Args:
        k (int): Number of neighbours of each receiver.
        steps (int or slice or list of int, optional): The step, or the
            window of steps, whose positions define the graph.
            (default: :obj:`0`)
        pos_features (sequence of int, optional): The features that hold
            positions. (default: :obj:`(0, 1)`)
        symmetric (bool, optional): If set to :obj:`True`, adds the reverse
            of every edge. (default: :obj:`False`)
    """
    def __init__(self, k: int, steps: Steps = 0, pos_features: Sequence[int] = (0, 1),
                 symmetric: bool = False) -> None:
        super().__init__(steps, pos_features)
        self.k = k
        self.symmetric = symmetric

    def graph(self, pos: Tensor, batch: Optional[Tensor]) -> Tensor:
        return knn_graph(pos, self.k, batch, symmetric=self.symmetric)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(k={self.k}, steps={self.steps})"


class RadiusGraph(_CandidateGraph):
    r"""Replaces ``data.edge_index`` with the radius graph
    (:func:`torch_nri.graphs.radius_graph`) of the positions
    ``data.x[:, steps, pos_features]``; see :class:`KNNGraph`. The radius is
    in the units of ``data.x``: for a normalised dataset, a physical radius
    :math:`r` becomes :math:`2r / (\max - \min)` of the position statistics
    (``dataset.stats``).

    Args:
        r (float): The radius.
        steps (int or slice or list of int, optional): The step, or the
            window of steps, whose positions define the graph.
            (default: :obj:`0`)
        pos_features (sequence of int, optional): The features that hold
            positions. (default: :obj:`(0, 1)`)
    """
    def __init__(self, r: float, steps: Steps = 0,
                 pos_features: Sequence[int] = (0, 1)) -> None:
        super().__init__(steps, pos_features)
        self.r = r

    def graph(self, pos: Tensor, batch: Optional[Tensor]) -> Tensor:
        return radius_graph(pos, self.r, batch)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(r={self.r}, steps={self.steps})"
