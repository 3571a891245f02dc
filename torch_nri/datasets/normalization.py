from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]
# Feature groups: a list of index lists, or names mapped to index lists.
Groups = Union[Sequence[Sequence[int]], Mapping[str, Sequence[int]]]


@dataclass
class MinMaxStats:
    r"""Min-max scaling of trajectory features to :math:`[-1, 1]`, shared by
    groups of features, as the original NRI code normalised its data:

    .. math::
        \tilde{x} = 2\,\frac{x - x_{\min}}{x_{\max} - x_{\min}} - 1

    where :math:`x_{\min}, x_{\max}` are the extremes of the feature's group
    over the whole training split (springs and charged: one group for the
    two position coordinates and one for the two velocity coordinates;
    Kuramoto: each feature alone).

    Attributes:
        groups (list of list of int): Feature indices of each group.
        minimum (list of float): Minimum of each group.
        maximum (list of float): Maximum of each group.
        names (list of str, optional): The name of each group, e.g.
            ``["position", "velocity"]`` (:meth:`range_of`).
    """
    groups: List[List[int]]
    minimum: List[float]
    maximum: List[float]
    names: Optional[List[str]] = None

    @classmethod
    def fit(cls, features: np.ndarray, groups: Groups) -> "MinMaxStats":
        r"""Statistics of ``features`` ``[..., F]`` for the given groups: a
        list of index lists, or a dict from group names to index lists."""
        names = list(groups) if isinstance(groups, Mapping) else None
        indices = [list(map(int, g)) for g in (groups.values() if names else groups)]
        minimum = [float(features[..., g].min()) for g in indices]
        maximum = [float(features[..., g].max()) for g in indices]
        for g, lo, hi in zip(indices, minimum, maximum):
            if not hi > lo:
                raise ValueError(f"features {g} are constant ({lo}); they cannot be "
                                 f"min-max scaled")
        return cls(indices, minimum, maximum, names)

    @property
    def num_features(self) -> int:
        r"""The number of features the statistics scale."""
        return 1 + max(i for g in self.groups for i in g)

    def range_of(self, name: str) -> Tuple[float, float]:
        r"""The ``(min, max)`` of the group called ``name``."""
        if not self.names or name not in self.names:
            raise ValueError(f"the statistics have no feature group named {name!r} "
                             f"(groups {self.groups}, names {self.names})")
        index = self.names.index(name)
        return self.minimum[index], self.maximum[index]

    def _per_feature(self, x: Array):
        if x.shape[-1] != self.num_features:
            raise ValueError(f"the statistics scale {self.num_features} features, the data "
                             f"has {x.shape[-1]} (shape {tuple(x.shape)})")
        low, high = np.zeros(self.num_features), np.ones(self.num_features)
        for g, lo, hi in zip(self.groups, self.minimum, self.maximum):
            low[g], high[g] = lo, hi
        if isinstance(x, torch.Tensor):
            return (torch.as_tensor(low, dtype=x.dtype, device=x.device),
                    torch.as_tensor(high, dtype=x.dtype, device=x.device))
        return low.astype(x.dtype), high.astype(x.dtype)

    def normalize(self, x: Array) -> Array:
        r"""Maps raw features ``[..., F]`` to the normalised scale."""
        low, high = self._per_feature(x)
        return (x - low) * 2 / (high - low) - 1

    def denormalize(self, x: Array) -> Array:
        r"""Maps normalised features (e.g. predictions) back to raw units."""
        low, high = self._per_feature(x)
        return (x + 1) * (high - low) / 2 + low

    def to_dict(self) -> Dict:
        return {"groups": self.groups, "minimum": self.minimum, "maximum": self.maximum,
                "names": self.names}

    @classmethod
    def from_dict(cls, d: Dict) -> "MinMaxStats":
        # Statistics written by torch_nri 0.1.0 have no names.
        names = d.get("names")
        return cls([list(g) for g in d["groups"]], list(d["minimum"]), list(d["maximum"]),
                   None if names is None else list(names))
