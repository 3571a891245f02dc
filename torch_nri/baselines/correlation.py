from typing import Optional, Tuple

import torch
from torch import Tensor


class CorrelationBaseline:
    r"""The "Corr. (path)" baseline of NRI (Kipf et al., 2018, supplement
    D.1.1): the correlation matrix of the objects' trajectories,

    .. math::
        R_{ij} = \frac{C_{ij}}{\sqrt{C_{ii} C_{jj}}}

    with :math:`C_{ij}` the covariance between the flattened trajectories
    :math:`\mathbf{x}_i, \mathbf{x}_j \in \mathbb{R}^{T F}`, thresholded:
    :math:`A_{ij} = 1` (an edge of any type) if :math:`R_{ij} > \theta`, or if
    :math:`|R_{ij}| > \theta'` with ``absolute``. :meth:`fit` chooses the
    threshold and whether to take the absolute value for the best accuracy on
    the training data, with an exact search over every cut between two
    observed values (:math:`O(M \log M)` for :math:`M` pairs).

    .. code-block:: python

        baseline = CorrelationBaseline().fit(x_train, edges_train)
        accuracy = baseline.score(x_test, edges_test)

    Shapes:
        - **x:** trajectories :math:`(S, T, N, F)`
        - **edges:** true relations :math:`(S, N, N)`; any non-zero type is
          an edge, the diagonal is ignored
        - **predict:** :math:`(S, N, N)`, 0 or 1, zero diagonal
    """
    def __init__(self) -> None:
        self.threshold: Optional[float] = None
        self.absolute: Optional[bool] = None

    @staticmethod
    def correlations(x: Tensor) -> Tensor:
        r"""The correlation matrices :math:`R` ``[S, N, N]`` of trajectories
        ``[S, T, N, F]`` (0 where an object's trajectory is constant)."""
        x = torch.as_tensor(x)
        if x.dim() != 4:
            raise ValueError(f"'x' must have shape [num_sims, num_steps, num_nodes, "
                             f"num_features], got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("'x' contains NaN or infinite values")
        paths = x.double().permute(0, 2, 1, 3).flatten(2)  # [S, N, T * F]
        paths = paths - paths.mean(dim=-1, keepdim=True)
        cov = paths @ paths.transpose(1, 2)
        scale = cov.diagonal(dim1=1, dim2=2).clamp_min(1e-300).sqrt()
        return cov / (scale.unsqueeze(2) * scale.unsqueeze(1))

    def fit(self, x: Tensor, edges: Tensor) -> "CorrelationBaseline":
        r"""Chooses the threshold and the raw or absolute correlation with the
        highest accuracy on ``x`` and its true ``edges``."""
        correlations = self.correlations(x)
        present = self._off_diagonal(self._check_edges(edges, correlations) != 0)
        best: Tuple[float, float, bool] = (-1.0, 0.0, False)
        for absolute in (False, True):
            values = correlations.abs() if absolute else correlations
            accuracy, threshold = best_threshold(self._off_diagonal(values), present)
            if accuracy > best[0]:
                best = (accuracy, threshold, absolute)
        _, self.threshold, self.absolute = best
        return self

    def predict(self, x: Tensor) -> Tensor:
        r"""Predicted edges ``[S, N, N]`` (1 for an edge)."""
        if self.threshold is None:
            raise RuntimeError("call fit() before predict()")
        correlations = self.correlations(x)
        values = correlations.abs() if self.absolute else correlations
        edges = (values > self.threshold).long()
        return edges * (1 - torch.eye(edges.size(-1), dtype=torch.long))

    def score(self, x: Tensor, edges: Tensor) -> float:
        r"""Accuracy of :meth:`predict` over the off-diagonal pairs."""
        predicted = self.predict(x)
        present = self._check_edges(edges, predicted) != 0
        return (self._off_diagonal(predicted.bool() == present)).double().mean().item()

    @staticmethod
    def _check_edges(edges: Tensor, like: Tensor) -> Tensor:
        edges = torch.as_tensor(edges)
        if edges.shape != like.shape:
            raise ValueError(f"'edges' must have shape [num_sims, num_nodes, num_nodes] = "
                             f"{list(like.shape)}, got {tuple(edges.shape)}")
        return edges

    @staticmethod
    def _off_diagonal(matrices: Tensor) -> Tensor:
        num_nodes = matrices.size(-1)
        mask = ~torch.eye(num_nodes, dtype=torch.bool, device=matrices.device)
        return matrices[:, mask]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(threshold={self.threshold}, "
                f"absolute={self.absolute})")


def best_threshold(values: Tensor, present: Tensor) -> Tuple[float, float]:
    r"""The threshold :math:`\theta` that maximises the accuracy of
    ``values > theta`` against ``present``, searched exactly over every cut
    between two distinct sorted values (and below and above all of them).

    Returns:
        (float, float): The best accuracy and its threshold.
    """
    values, present = values.reshape(-1).double(), present.reshape(-1).bool()
    if values.numel() == 0:
        raise ValueError("no pairs to fit a threshold on")
    order = torch.argsort(values)
    values, present = values[order], present[order]
    zero = torch.zeros(1, dtype=torch.long)
    # With the first k sorted values predicted "no edge": correct = the
    # non-edges among them plus the edges among the rest.
    negatives_below = torch.cat([zero, torch.cumsum(~present, 0)])
    positives_below = torch.cat([zero, torch.cumsum(present, 0)])
    correct = negatives_below + (positives_below[-1] - positives_below)
    # Only cuts between distinct values can be realised by a threshold.
    cut = torch.ones(values.numel() + 1, dtype=torch.bool)
    cut[1:-1] = values[1:] > values[:-1]
    k = int(torch.where(cut, correct, torch.full_like(correct, -1)).argmax())
    if k == 0:
        threshold = float(values[0]) - 1.0
    elif k == values.numel():
        threshold = float(values[-1])
    else:
        threshold = float(values[k - 1] + values[k]) / 2
    return float(correct[k]) / values.numel(), threshold
