from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.utils.data import Dataset


def as_arrays(dataset: Dataset, num_steps: Optional[int] = None
              ) -> Tuple[Tensor, Optional[Tensor]]:
    r"""The systems of a dataset of equal-sized graphs (e.g.
    :class:`~torch_nri.datasets.SpringsDataset`) in the layout of the
    baselines: trajectories ``[S, T, N, F]`` and true relations ``[S, N, N]``
    (0 off the candidate graph; :obj:`None` where the dataset has no
    ``edge_type``), keeping the first ``num_steps`` steps.
    """
    items = [dataset[i] for i in range(len(dataset))]
    if not items:
        raise ValueError("the dataset is empty")
    num_nodes = items[0].num_nodes
    if any(item.num_nodes != num_nodes for item in items):
        raise ValueError("the baselines need systems with the same number of objects")
    x = torch.stack([item.x[:, :num_steps] for item in items]).permute(0, 2, 1, 3)
    if "edge_type" not in items[0]:
        return x, None
    edges = torch.zeros(len(items), num_nodes, num_nodes, dtype=torch.long)
    for s, item in enumerate(items):
        edges[s, item.edge_index[0], item.edge_index[1]] = item.edge_type
    return x, edges
