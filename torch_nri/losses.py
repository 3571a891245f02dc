r"""The terms of the NRI objective (Kipf et al., 2018, eq. 3).

All terms are normalised as the papers report them: summed over time steps,
features, edges and edge types, and divided by the number of nodes in the
batch (i.e. per node and per example), so a batch of :math:`B` systems of
:math:`N` objects gives the same value as the original code's division by
:math:`B \cdot N`.
"""
import math
from typing import NamedTuple, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

Prior = Union[Tensor, Sequence[float]]


def gaussian_nll(predictions: Tensor, targets: Tensor, variance: float = 5e-5,
                 add_const: bool = False) -> Tensor:
    r"""Negative log-likelihood of ``targets`` under
    :math:`\mathcal{N}(\text{predictions}, \sigma^2 I)` with fixed variance:

    .. math::
        \frac{1}{N} \sum_{j,t,f} \frac{(\mu^t_{j,f} - x^t_{j,f})^2}{2\sigma^2}
        \;\Big[+ \tfrac{1}{2}\log(2\pi\sigma^2)\Big]

    Args:
        predictions (torch.Tensor): Predicted means ``[N, T, F]``.
        targets (torch.Tensor): True values, same shape.
        variance (float, optional): The fixed variance :math:`\sigma^2`
            (the papers use ``5e-5``). (default: :obj:`5e-5`)
        add_const (bool, optional): If set to :obj:`True`, adds the
            normalisation constant (the original code leaves it out).
            (default: :obj:`False`)
    """
    if predictions.shape != targets.shape:
        raise ValueError(f"'predictions' and 'targets' must have the same shape, got "
                         f"{tuple(predictions.shape)} and {tuple(targets.shape)}")
    if variance <= 0:
        raise ValueError(f"'variance' must be positive, got {variance}")
    nll = (predictions - targets).pow(2) / (2 * variance)
    if add_const:
        nll = nll + 0.5 * math.log(2 * math.pi * variance)
    return nll.sum() / predictions.size(0)


def kl_categorical(edge_logits: Tensor, num_nodes: int, prior: Optional[Prior] = None) -> Tensor:
    r"""KL divergence from the edge posterior :math:`q_\phi(z | x)` to a
    factorised categorical prior, per node:

    .. math::
        \frac{1}{N} \sum_{(i,j)} \sum_k q_{ij,k}\,
        (\log q_{ij,k} - \log p_k)

    Args:
        edge_logits (torch.Tensor): Encoder logits ``[E, K]``.
        num_nodes (int): Number of nodes of the batch, :math:`N`.
        prior (torch.Tensor or sequence of float, optional): Prior
            probabilities of the :math:`K` types, e.g.
            ``[0.91, 0.03, 0.03, 0.03]`` for a sparsity prior with type 0 as
            "no edge". (default: uniform)
    """
    log_q = F.log_softmax(edge_logits, dim=-1)
    num_types = edge_logits.size(-1)
    if prior is None:
        log_prior = torch.full((num_types,), -math.log(num_types),
                               dtype=log_q.dtype, device=log_q.device)
    else:
        prior = torch.as_tensor(prior, dtype=log_q.dtype, device=log_q.device)
        if prior.shape != (num_types,):
            raise ValueError(f"'prior' must have one probability per edge type "
                             f"({num_types}), got shape {tuple(prior.shape)}")
        if bool((prior <= 0).any()) or abs(float(prior.sum()) - 1.0) > 1e-4:
            raise ValueError(f"'prior' must hold positive probabilities summing to 1, "
                             f"got {prior.tolist()}")
        log_prior = prior.log()
    return (log_q.exp() * (log_q - log_prior)).sum() / num_nodes


class ELBO(NamedTuple):
    r"""The evidence lower bound and its two terms, all per node."""
    elbo: Tensor
    nll: Tensor
    kl: Tensor


def elbo(predictions: Tensor, targets: Tensor, edge_logits: Tensor,
         prior: Optional[Prior] = None, variance: float = 5e-5) -> ELBO:
    r"""The evidence lower bound of NRI (eq. 3),
    :math:`\mathcal{L} = -\mathrm{NLL} - \mathrm{KL}`, per node. Training
    minimises ``-elbo(...).elbo``.

    Args:
        predictions (torch.Tensor): Decoder outputs ``[N, T - 1, F]``.
        targets (torch.Tensor): True steps ``[N, T - 1, F]``.
        edge_logits (torch.Tensor): Encoder logits ``[E, K]``.
        prior (torch.Tensor or sequence of float, optional): See
            :func:`kl_categorical`. (default: uniform)
        variance (float, optional): See :func:`gaussian_nll`.
    """
    nll = gaussian_nll(predictions, targets, variance)
    kl = kl_categorical(edge_logits, predictions.size(0), prior)
    return ELBO(-(nll + kl), nll, kl)
