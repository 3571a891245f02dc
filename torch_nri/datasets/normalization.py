from dataclasses import dataclass
from typing import Dict, List, Sequence, Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]


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
    """
    groups: List[List[int]]
    minimum: List[float]
    maximum: List[float]

    @classmethod
    def fit(cls, features: np.ndarray, groups: Sequence[Sequence[int]]) -> "MinMaxStats":
        r"""Statistics of ``features`` ``[..., F]`` for the given groups."""
        groups = [list(map(int, g)) for g in groups]
        minimum = [float(features[..., g].min()) for g in groups]
        maximum = [float(features[..., g].max()) for g in groups]
        for g, lo, hi in zip(groups, minimum, maximum):
            if not hi > lo:
                raise ValueError(f"features {g} are constant ({lo}); they cannot be "
                                 f"min-max scaled")
        return cls(groups, minimum, maximum)

    def _per_feature(self, x: Array):
        num_features = 1 + max(i for g in self.groups for i in g)
        low, high = np.zeros(num_features), np.ones(num_features)
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
        return {"groups": self.groups, "minimum": self.minimum, "maximum": self.maximum}

    @classmethod
    def from_dict(cls, d: Dict) -> "MinMaxStats":
        return cls([list(g) for g in d["groups"]], list(d["minimum"]), list(d["maximum"]))
