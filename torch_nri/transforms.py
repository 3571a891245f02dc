"""PyG transforms that replace a dataset item's candidate graph with a
nearest-neighbour or radius graph of its positions at a chosen step or over
a window of steps."""
import operator
from typing import Any, List, Optional, Sequence, Union

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from torch_nri.graphs import edge_positions, knn_graph, radius_graph

Steps = Union[int, slice, Sequence[int]]


def _is_int(value: Any) -> bool:
    # An integer of any kind (numpy's, a 0-d integer tensor), not a bool.
    if isinstance(value, bool) or (isinstance(value, Tensor) and value.dtype == torch.bool):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _int_list(values: Any) -> bool:
    # A non-empty sequence of integers (not a string, not a tensor of floats).
    try:
        items: List[Any] = list(values)
    except TypeError:
        return False
    return (not isinstance(values, (str, bytes)) and len(items) > 0
            and all(_is_int(item) for item in items))


class _CandidateGraph(BaseTransform):
    """Shared by :class:`KNNGraph` and :class:`RadiusGraph`: selects the
    positions, builds the graph and carries the true edge types over."""
    def __init__(self, steps: Steps = 0, pos_features: Sequence[int] = (0, 1)) -> None:
        if isinstance(steps, slice):
            if not all(_is_int(b) or b is None for b in (steps.start, steps.stop, steps.step)) \
                    or steps.step == 0:
                raise ValueError(f"'steps' as a slice must have integer bounds and a non-zero "
                                 f"step, got {steps!r}")
        elif not _is_int(steps) and not _int_list(steps):
            raise ValueError(f"'steps' must be a step (int), a slice of steps or a non-empty "
                             f"list of steps, got {steps!r}")
        if not _int_list(pos_features) or min(pos_features) < 0:
            raise ValueError(f"'pos_features' must be a non-empty list of feature indices "
                             f"(non-negative integers), got {pos_features!r}")
        self.steps = steps
        self.pos_features = list(pos_features)

    def positions(self, x: Tensor) -> Tensor:
        if x.dim() != 3:
            raise ValueError(f"'data.x' must have shape [num_nodes, num_steps, num_features], "
                             f"got {tuple(x.shape)}")
        self.check_range(x.size(1), x.size(2))
        steps = self.steps if isinstance(self.steps, slice) or _is_int(self.steps) \
            else list(self.steps)
        return x[:, steps][..., self.pos_features]

    def check_range(self, num_steps: int, num_features: int) -> None:
        r"""Raises a :class:`ValueError` that names the step or feature
        asked for, and the trajectory's number of steps or features, unless
        ``steps`` and ``pos_features`` lie in trajectories ``data.x`` of
        shape ``[N, num_steps, num_features]`` (negative steps count from
        the end, as in Python)."""
        steps = self.steps
        span = (f"the trajectory's {num_steps} steps (data.x has steps 0 to {num_steps - 1}, "
                f"or {-num_steps} to -1 from its end)")
        if isinstance(steps, slice):
            for end, bound in (("starts", steps.start), ("ends", steps.stop)):
                if bound is not None and not -num_steps <= bound <= num_steps:
                    raise ValueError(f"'steps' {steps!r} {end} at step {bound}, beyond {span}")
            if not range(num_steps)[steps]:
                raise ValueError(f"'steps' {steps!r} selects no step of {span}")
        else:
            for step in [steps] if _is_int(steps) else steps:
                step = operator.index(step)
                if not -num_steps <= step < num_steps:
                    raise ValueError(f"'steps' asks for step {step}, beyond {span}")
        beyond = [int(i) for i in self.pos_features if i >= num_features]
        if beyond:
            raise ValueError(f"'pos_features' {self.pos_features} asks for feature {beyond[0]}, "
                             f"but data.x has {num_features} features (0 to "
                             f"{num_features - 1})")

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
            window of steps, whose positions define the graph; negative
            steps count from the end, and a step beyond the trajectory is a
            :class:`ValueError` that names it.
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
            window of steps, whose positions define the graph; negative
            steps count from the end, and a step beyond the trajectory is a
            :class:`ValueError` that names it.
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
