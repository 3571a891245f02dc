r"""The terms of the NRI objective (Kipf et al., 2018, eq. 3).

All terms are normalised as the papers report them: summed over time steps,
features, edges and edge types, and divided by the number of nodes in the
batch (i.e. per node and per example), so a batch of :math:`B` systems of
:math:`N` objects gives the same value as the original code's division by
:math:`B \cdot N`.
"""
import math
from typing import List, NamedTuple, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_nri._validation import check_int, check_real, values_checked
from torch_nri.graphs import reverse_edge_index

Prior = Union[Tensor, Sequence[float]]


def check_prior(prior: Prior, num_edge_types: int) -> List[float]:
    r"""Raises unless ``prior`` holds ``num_edge_types`` positive, finite
    probabilities summing to 1; returns them as a list."""
    try:
        values = torch.as_tensor(prior, dtype=torch.float64).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"'prior' must have one probability per edge type "
                         f"({num_edge_types}), got {prior!r}") from None
    if values.shape != (num_edge_types,):
        raise ValueError(f"'prior' must have one probability per edge type "
                         f"({num_edge_types}), got shape {tuple(values.shape)}: "
                         f"{values.tolist()}")
    if not bool(torch.isfinite(values).all()) or bool((values <= 0).any()) \
            or abs(float(values.sum()) - 1.0) > 1e-4:
        raise ValueError(f"'prior' must hold positive probabilities summing to 1, "
                         f"got {values.tolist()}")
    return values.tolist()


def _shape(value: object) -> str:
    return str(tuple(value.shape)) if isinstance(value, Tensor) else type(value).__name__


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
    if not isinstance(predictions, Tensor) or not isinstance(targets, Tensor) \
            or predictions.shape != targets.shape or predictions.dim() == 0:
        raise ValueError(f"'predictions' and 'targets' must have the same shape "
                         f"[num_nodes, ...], got {_shape(predictions)} and {_shape(targets)}")
    check_real(variance, "variance", 0)
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
        edge_logits (torch.Tensor): Encoder logits ``[E, K]``, or per step
            ``[E, T, K]`` (summed over the steps too).
        num_nodes (int): Number of nodes of the batch, :math:`N`.
        prior (torch.Tensor or sequence of float, optional): Prior
            probabilities of the :math:`K` types, e.g.
            ``[0.91, 0.03, 0.03, 0.03]`` for a sparsity prior with type 0 as
            "no edge". A tensor is used where it is (a model keeps its prior
            as a buffer on its device, so a training step copies nothing from
            the host); its values are checked where values are checked
            (:func:`~torch_nri.value_checks`). (default: uniform)
    """
    if not isinstance(edge_logits, Tensor) or edge_logits.dim() not in (2, 3):
        raise ValueError(f"'edge_logits' must have shape [num_edges, num_edge_types] (or "
                         f"[num_edges, num_steps, num_edge_types]), got "
                         f"{_shape(edge_logits)}")
    check_int(num_nodes, "num_nodes", 1)
    log_q = F.log_softmax(edge_logits, dim=-1)
    num_types = edge_logits.size(-1)
    if prior is None:
        log_prior: Union[float, Tensor] = -math.log(num_types)
    elif isinstance(prior, Tensor):
        if prior.shape != (num_types,):
            raise ValueError(f"'prior' must have one probability per edge type "
                             f"({num_types}), got shape {tuple(prior.shape)}")
        if values_checked():
            check_prior(prior, num_types)
        log_prior = prior.to(log_q.dtype).log()
    else:
        log_prior = torch.as_tensor(check_prior(prior, num_types), dtype=log_q.dtype,
                                    device=log_q.device).log()
    return (log_q.exp() * (log_q - log_prior)).sum() / num_nodes


def symmetry_kl(edge_probs: Tensor, edge_index: Tensor,
                num_nodes: Optional[int] = None) -> Tensor:
    r"""The soft symmetry prior of NRI-MPM (Chen et al., 2021, eqs. 28-29 and
    A3): the KL divergence from the "transposed" posterior
    :math:`q'(z_{ij}) = q(z_{ji})` to :math:`q`, per node,

    .. math::
        \mathrm{KL}[q' \,\|\, q] = \frac{1}{N} \sum_{(i,j)} \sum_k
        q_{ji,k}\, (\log q_{ji,k} - \log q_{ij,k})

    over the candidate edges whose reverse is also a candidate edge (others
    have no :math:`q'`). It is zero exactly when :math:`q_{ij} = q_{ji}` for
    every such pair; training adds :math:`\lambda` times it to the loss.

    Args:
        edge_probs (torch.Tensor): :math:`q_\phi(z | x)`, ``[E, K]``.
        edge_index (torch.Tensor): The candidate edges ``[2, E]``.
        num_nodes (int, optional): Number of nodes of the batch, :math:`N`.
            (default: ``edge_index.max() + 1``)
    """
    if edge_probs.dim() != 2 or edge_probs.size(0) != edge_index.size(1):
        raise ValueError(f"'edge_probs' must have shape [num_edges={edge_index.size(1)}, "
                         f"num_edge_types], got {tuple(edge_probs.shape)}")
    if num_nodes is None:
        num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 1
    check_int(num_nodes, "num_nodes", 1)
    reverse = reverse_edge_index(edge_index, num_nodes)
    # A floor keeps log 0 finite; probabilities that small add nothing.
    log_q = edge_probs.clamp_min(torch.finfo(edge_probs.dtype).tiny).log()
    # Every edge reads a partner (itself where it has no reverse) and the
    # unpaired ones are zeroed: no mask of data-dependent size, so no host read.
    partner = reverse.clamp(min=0)
    terms = edge_probs[partner] * (log_q[partner] - log_q)
    return torch.where((reverse >= 0).unsqueeze(-1), terms, 0.0).sum() / num_nodes


class ELBO(NamedTuple):
    r"""The evidence lower bound and its terms, all per node. ``symmetry`` is
    the symmetry prior :func:`symmetry_kl` (zero when not used)."""
    elbo: Tensor
    nll: Tensor
    kl: Tensor
    symmetry: Tensor


def elbo(predictions: Tensor, targets: Tensor, edge_logits: Tensor,
         prior: Optional[Prior] = None, variance: float = 5e-5,
         edge_index: Optional[Tensor] = None, symmetry_weight: float = 0.0,
         nll_scale: float = 1.0) -> ELBO:
    r"""The evidence lower bound of NRI (eq. 3),
    :math:`\mathcal{L} = -\mathrm{NLL} - \mathrm{KL}`, per node, with
    NRI-MPM's symmetry prior, :math:`\mathcal{L}' = \mathcal{L} - \lambda\,
    \mathrm{KL}[q' \| q]` (eq. 29), when ``symmetry_weight`` :math:`\lambda > 0`.
    Training minimises ``-elbo(...).elbo``.

    Args:
        predictions (torch.Tensor): Decoder outputs ``[N, T - 1, F]``.
        targets (torch.Tensor): True steps ``[N, T - 1, F]``.
        edge_logits (torch.Tensor): Encoder logits ``[E, K]``.
        prior (torch.Tensor or sequence of float, optional): See
            :func:`kl_categorical`. (default: uniform)
        variance (float, optional): See :func:`gaussian_nll`.
        edge_index (torch.Tensor, optional): The candidate edges; needed for
            the symmetry prior.
        symmetry_weight (float, optional): :math:`\lambda`. (default: :obj:`0.0`)
        nll_scale (float, optional): A factor of the NLL: where the
            predictions are a random subset of the steps, the one that makes
            it an estimate of the NLL of all (:func:`~torch_nri.models.base.decode`).
            (default: :obj:`1.0`)
    """
    num_nodes = predictions.size(0)
    nll = gaussian_nll(predictions, targets, variance) * nll_scale
    kl = kl_categorical(edge_logits, num_nodes, prior)
    if symmetry_weight:
        if edge_index is None:
            raise ValueError("the symmetry prior ('symmetry_weight' > 0) needs 'edge_index'")
        symmetry = symmetry_kl(edge_logits.softmax(dim=-1), edge_index, num_nodes)
    else:
        symmetry = torch.zeros((), dtype=nll.dtype, device=nll.device)
    return ELBO(-(nll + kl + symmetry_weight * symmetry), nll, kl, symmetry)


class Objective(NamedTuple):
    r"""What the training loop minimises for a model of
    :mod:`torch_nri.models` (its ``objective`` method), and the terms it
    logs: ``loss``; ``nll``, the negative log-likelihood of what the model is
    fitted to (the trajectories, or for the supervised encoder the true
    relations); ``kl``, the KL term (zero where there is no latent graph)."""
    loss: Tensor
    nll: Tensor
    kl: Tensor
