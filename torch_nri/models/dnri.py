from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module

from torch_nri._validation import check_edge_index, check_node_features, check_real
from torch_nri.graphs import GraphSizes
from torch_nri.losses import Objective, Prior, gaussian_nll, kl_categorical
from torch_nri.models.base import ConfigurableModel, FixedPrior, NRIOutput, decode


@dataclass
class DNRIOutput(NRIOutput):
    r"""What a forward pass of :class:`DNRI` returns: the fields of
    :class:`~torch_nri.models.NRIOutput` per step (``edge_logits``,
    ``edge_probs`` and ``edges`` are ``[E, T - 1, K]``: the graph of each
    step that is decoded) and the prior's logits.

    Attributes:
        prior_logits (torch.Tensor): :math:`p_\theta(z^t | \mathbf{x}^{1..t})`
            as logits, ``[E, T - 1, K]``.
    """
    prior_logits: Optional[Tensor] = None


def categorical_kl(logits: Tensor, prior_logits: Tensor, num_nodes: int) -> Tensor:
    r"""KL divergence between two categorical distributions given by logits,
    summed over every leading dimension (edges, steps) and divided by the
    number of nodes: :math:`\frac{1}{N} \sum_{e,t} \mathrm{KL}[q_{e,t}
    \,\|\, p_{e,t}]`."""
    return F.kl_div(F.log_softmax(prior_logits, dim=-1), F.log_softmax(logits, dim=-1),
                    reduction="sum", log_target=True) / num_nodes


class DNRI(FixedPrior, ConfigurableModel):
    r"""Dynamic neural relational inference (Graber and Schwing, CVPR 2020):
    a graph per time step, inferred with a learned prior.

    The encoder (:class:`~torch_nri.nn.DNRIEncoder`) gives, for each
    candidate edge and step, the prior
    :math:`p_\theta(z^t_{ij} \mid \mathbf{x}^{1..t})` from a forward pass
    over time and the posterior :math:`q_\phi(z^t_{ij} \mid \mathbf{x})`
    from the forward and a backward pass. A Gumbel-softmax sample of the
    posterior at each step,

    .. math::
        z^t_{ij} = \mathrm{softmax}\big((\text{logits}^t_{ij} + \mathbf{g}^t_{ij})
        / \tau\big), \quad \mathbf{g}^t_{ij} \sim \mathrm{Gumbel}(0, 1)^K

    (:func:`torch.nn.functional.gumbel_softmax`), weights the decoder's
    messages at that step: the decoder predicts :math:`\mathbf{x}^{t+1}` from
    :math:`\mathbf{x}^t` on :math:`z^t` (per-step edge weights
    ``[E, T - 1, K]``, see :class:`~torch_nri.nn.NRIDecoder`). Training
    minimises the negative ELBO of dNRI, per node,

    .. math::
        -\mathcal{L} = \sum_t \frac{\lVert \mathbf{x}^{t+1} -
        \boldsymbol{\mu}^{t+1} \rVert^2}{2 \sigma^2} + \sum_t
        \mathrm{KL}\big[q_\phi(z^t \mid \mathbf{x}) \,\big\|\,
        p_\theta(z^t \mid \mathbf{x}^{1..t})\big],

    with the decoder fed the ground truth at every step (dNRI's teacher
    forcing on its synthetic data), or, with ``burn_in_steps``, for the first
    steps and its own predictions after (:meth:`training_kwargs`).

    With a fixed ``prior`` :math:`p_0` over the types (e.g. ``[0.9, 0.1]``,
    "no edge" most likely), the KL term is split in halves between the
    learned prior and :math:`p_0`,
    :math:`\tfrac{1}{2} \mathrm{KL}[q \| p_\theta] + \tfrac{1}{2}
    \mathrm{KL}[q \| p_0]`, as the dNRI code does on its synthetic data
    (``--add_uniform_prior --no_edge_prior 0.9``); without it the decoder
    may pass messages on every edge at every step and the graph carries no
    information. The dNRI code compares :math:`p_0` with the posterior
    averaged over each system's edges; here each edge and step is compared,
    so that the loss of a batch is the sum of its systems' losses.

    A forecast (:meth:`forecast`) decodes the observed steps on given
    samples, then samples each further step from the prior, which reads the
    decoder's own predictions step by step: no future input is ever seen.

    Samples are soft in training and hard in evaluation, as in :class:`NRI`.

    Args:
        encoder (torch.nn.Module): A :class:`~torch_nri.nn.DNRIEncoder`, or
            a module with its ``forward`` (``(x, edge_index) -> (prior
            logits, posterior logits)``, each ``[E, T, K]``) and ``prior``.
        decoder (torch.nn.Module): An :class:`~torch_nri.nn.NRIDecoder`
            that takes per-step edge weights (``step_weights``), e.g.
            :class:`~torch_nri.nn.MLPDecoder` or :class:`~torch_nri.nn.RNNDecoder`.
        num_edge_types (int): Number of edge types :math:`K`.
        tau (float, optional): Gumbel-softmax temperature. (default: :obj:`0.5`)
        hard (bool, optional): Hard (straight-through) samples in training.
            (default: :obj:`False`)
        hard_in_eval (bool, optional): Hard samples in evaluation mode.
            (default: :obj:`True`)
        variance (float, optional): Fixed output variance :math:`\sigma^2`
            of the Gaussian likelihood. (default: :obj:`5e-5`)
        prior (sequence of float, optional): The fixed prior :math:`p_0`
            that shares the KL term with the learned one. (default: none)

    Shapes:
        - **input:** node features :math:`(N, T, F)`, edge indices :math:`(2, E)`
        - **output:** :class:`DNRIOutput` with edge logits
          :math:`(E, T - 1, K)` and predictions :math:`(N, T - 1, F)`
    """
    parts = ("encoder", "decoder")

    def __init__(self, encoder: Module, decoder: Module, num_edge_types: int,
                 tau: float = 0.5, hard: bool = False, hard_in_eval: bool = True,
                 variance: float = 5e-5, prior: Optional[Prior] = None) -> None:
        super().__init__()
        self.check_parts(num_edge_types, encoder=encoder, decoder=decoder)
        check_real(tau, "tau", 0)
        check_real(variance, "variance", 0)
        if not getattr(decoder, "step_weights", False):
            raise ValueError(f"the decoder {type(decoder).__name__} takes no per-step edge "
                             f"weights (step_weights); DNRI decodes a graph per step")
        self.encoder = encoder
        self.decoder = decoder
        self.num_edge_types = num_edge_types
        self.tau = tau
        self.hard = hard
        self.hard_in_eval = hard_in_eval
        self.variance = variance
        self.prior = prior

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        self.decoder.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                sizes: Optional[GraphSizes] = None, **decoder_kwargs: Any) -> DNRIOutput:
        r"""Encodes, samples a graph per step and decodes steps
        :math:`2..T`, each on the graph of the step before.

        Args:
            x (torch.Tensor): Trajectories ``[N, T, F]``.
            edge_index (torch.Tensor): Candidate edges ``[2, E]``.
            batch (torch.Tensor, optional): The graph of each node ``[N]``;
                not needed (every layer works on the disjoint union).
            sizes (GraphSizes, optional): Not needed either.
            **decoder_kwargs: Passed to the decoder, e.g.
                ``burn_in_steps=...`` (:meth:`training_kwargs`).
        """
        check_node_features(x, "x", ndim=3)
        check_edge_index(edge_index, x.size(0))
        if x.size(1) < 2:
            raise ValueError(f"'x' must have at least 2 steps, got shape {tuple(x.shape)}")
        prior_logits, logits = self.encoder(x, edge_index)
        # The graph of step t decodes step t + 1: steps 0..T-2.
        prior_logits, logits = prior_logits[:, :-1].float(), logits[:, :-1].float()
        hard = self.hard if self.training else self.hard_in_eval
        edges = self.sample_edges(logits, hard)
        predictions, targets, nll_scale = decode(self.decoder, x, edge_index, edges,
                                                 decoder_kwargs)
        return DNRIOutput(edge_logits=logits, edge_probs=logits.softmax(dim=-1), edges=edges,
                          predictions=predictions, targets=targets, edge_index=edge_index,
                          nll_scale=nll_scale, prior_logits=prior_logits)

    def sample_edges(self, logits: Tensor, hard: bool) -> Tensor:
        r"""A Gumbel-softmax sample of every edge and step, ``[E, T, K]``."""
        return F.gumbel_softmax(logits, tau=self.tau, hard=hard, dim=-1)

    def infer_edges(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                    hard: bool = True, sizes: Optional[GraphSizes] = None,
                    **relations: Any) -> Tuple[Tensor, Tensor]:
        r"""The posterior logits of every step of ``x``, ``[E, T, K]``, and a
        sample of them, ``[E, T, K]``: the graph of each observed step."""
        logits = self.encoder(x, edge_index)[1].float()
        return logits, self.sample_edges(logits, hard)

    def objective(self, output: NRIOutput) -> Objective:
        r"""The negative ELBO per node: the Gaussian NLL of the predictions
        and the KL divergence of the posterior from the learned prior,
        summed over edges and steps (:func:`categorical_kl`), shared with
        the fixed ``prior`` where given."""
        num_nodes = output.predictions.size(0)
        nll = gaussian_nll(output.predictions, output.targets, self.variance) * output.nll_scale
        kl = categorical_kl(output.edge_logits, output.prior_logits, num_nodes)
        if self.prior_probs is not None:
            kl = (kl + kl_categorical(output.edge_logits, num_nodes, self.prior_probs)) / 2
        return Objective(nll + kl, nll, kl)

    def training_kwargs(self, num_steps: int, prediction_steps: int,
                        burn_in_steps: Optional[int] = None) -> Dict[str, int]:
        r"""How training feeds the decoder: the ground truth at every step
        (dNRI's teacher forcing), or with ``burn_in_steps`` for those first
        steps and the decoder's own predictions after. ``prediction_steps``
        (NRI's segments) is not read: a graph per step has no segments."""
        if burn_in_steps is not None:
            return {"burn_in_steps": burn_in_steps}
        return {"prediction_steps": 1}

    def forecast(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor, horizon: int,
                 batch: Optional[Tensor] = None, dynamic_graph: bool = False,
                 window: Optional[int] = None, **relations: Any) -> Tensor:
        r"""Predicts the ``horizon`` steps after the observed steps ``x``
        ``[N, T_o, F]``. Step :math:`t` is decoded on ``edge_weights[:, t]``
        where given (``[E, T_w, K]``, e.g. the posterior samples of the
        encoder's window from :meth:`infer_edges`) and otherwise on a hard
        sample of the prior :math:`p_\theta(z^t \mid \mathbf{x}^{1..t})`,
        whose inputs after the observed steps are the decoder's own
        predictions, fed to it one step at a time. The decoder runs its
        memory through the observed steps (``"burn_in"`` decoders) or starts
        from the last one (``"teacher_forcing"``). The graph is dynamic by
        construction; ``dynamic_graph`` and ``window`` are not read.

        Returns:
            torch.Tensor: Predictions ``[N, H, F]``.
        """
        if edge_weights.dim() != 3:
            raise ValueError(f"DNRI forecasts on per-step edge weights [num_edges, "
                             f"num_steps, num_edge_types], got {tuple(edge_weights.shape)}")
        if horizon < 1:
            raise ValueError(f"'horizon' must be at least 1, got {horizon}")
        observed, given = x.size(1), edge_weights.size(1)
        prior_logits, state = self.encoder.prior(x, edge_index)
        first = 0 if self.decoder.feeding == "burn_in" else observed - 1
        memory: Any = None
        predictions: List[Tensor] = []
        for t in range(first, observed - 1 + horizon):
            if t < observed:
                current = x[:, t]
                logits = prior_logits[:, t]
            else:  # the prior's next step, on the decoder's own prediction
                current = predictions[-1]
                step_logits, state = self.encoder.prior(current[:, None], edge_index, state)
                logits = step_logits[:, 0]
            weights = (edge_weights[:, t] if t < given
                       else self.sample_edges(logits.float(), hard=True))
            prediction, memory = self.decoder.step(current, edge_index, weights, memory)
            predictions.append(prediction)
        return torch.stack(predictions[-horizon:], dim=1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(\n  encoder={self.encoder},\n  "
                f"decoder={self.decoder},\n  num_edge_types={self.num_edge_types}, "
                f"tau={self.tau}, hard={self.hard}, variance={self.variance}, "
                f"prior={self.prior})")
