from typing import Any, Optional, Tuple

import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module

from torch_nri._validation import (check_batch, check_edge_index, check_node_features,
                                   check_real, parameter_dtype)
from torch_nri.graphs import GraphSizes, symmetric_lead
from torch_nri.losses import ELBO, Objective, Prior, elbo
from torch_nri.models.base import (ConfigurableModel, FixedPrior, NRIOutput, decode,
                                   encode_edges)
from torch_nri.nn.decoder import DynamicGraph


class NRI(FixedPrior, ConfigurableModel):
    r"""Neural relational inference (Kipf et al., 2018): a variational
    auto-encoder whose latent code is the interaction graph.

    The encoder gives :math:`q_\phi(z_{ij} | \mathbf{x}) =
    \mathrm{softmax}(\text{edge logits})` over :math:`K` edge types for each
    candidate edge; a sample from the concrete (Gumbel-softmax) relaxation

    .. math::
        z_{ij} = \mathrm{softmax}((\text{logits}_{ij} + \mathbf{g}) / \tau),
        \quad \mathbf{g} \sim \mathrm{Gumbel}(0, 1)^K

    (:func:`torch.nn.functional.gumbel_softmax`) weights the decoder's
    per-type messages, and the decoder predicts the trajectories. Training
    maximises the ELBO (:meth:`elbo`).

    Samples are soft in training and, as in the paper's evaluation, hard
    (one-hot categorical samples) in evaluation mode; ``hard`` and
    ``hard_in_eval`` switch each.

    Args:
        encoder (torch.nn.Module): Maps ``(x, edge_index)`` (and ``batch``,
            when given) to logits ``[E, K]``, e.g.
            :class:`~torch_nri.nn.MLPEncoder`.
        decoder (torch.nn.Module): Maps ``(x, edge_index, edge_weights)`` to
            predictions ``[N, T - 1, F]``, e.g. :class:`~torch_nri.nn.MLPDecoder`.
        num_edge_types (int): Number of edge types :math:`K`.
        tau (float, optional): Gumbel-softmax temperature. (default: :obj:`0.5`)
        hard (bool, optional): Hard (straight-through) samples in training.
            (default: :obj:`False`)
        hard_in_eval (bool, optional): Hard samples in evaluation mode.
            (default: :obj:`True`)
        prior (torch.Tensor or sequence of float, optional): Prior over edge
            types for the KL term. (default: uniform)
        variance (float, optional): Fixed output variance of the Gaussian
            likelihood. (default: :obj:`5e-5`)
        symmetry_weight (float, optional): Weight :math:`\lambda` of NRI-MPM's
            soft symmetry prior in the loss
            (:func:`~torch_nri.losses.symmetry_kl`; 100 in that paper).
            (default: :obj:`0.0`)
        hard_symmetry (bool, optional): If set to :obj:`True`, imposes the
            hard constraint :math:`z_{ji} := z_{ij}`: both edges of a pair get
            the logits and the sample of the edge from the lower node index.
            (default: :obj:`False`)
    """
    parts = ("encoder", "decoder")

    def __init__(self, encoder: Module, decoder: Module, num_edge_types: int,
                 tau: float = 0.5, hard: bool = False, hard_in_eval: bool = True,
                 prior: Optional[Prior] = None, variance: float = 5e-5,
                 symmetry_weight: float = 0.0, hard_symmetry: bool = False) -> None:
        super().__init__()
        self.check_parts(num_edge_types, encoder=encoder, decoder=decoder)
        check_real(tau, "tau", 0)
        check_real(variance, "variance", 0)
        check_real(symmetry_weight, "symmetry_weight", 0, low_open=False)
        self.encoder = encoder
        self.decoder = decoder
        self.num_edge_types = num_edge_types
        self.tau = tau
        self.hard = hard
        self.hard_in_eval = hard_in_eval
        self.prior = prior
        self.variance = variance
        self.symmetry_weight = symmetry_weight
        self.hard_symmetry = hard_symmetry

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        self.decoder.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                sizes: Optional[GraphSizes] = None, **decoder_kwargs: Any) -> NRIOutput:
        r"""Encodes, samples edges and decodes.

        Args:
            x (torch.Tensor): Trajectories ``[N, T, F]``.
            edge_index (torch.Tensor): Candidate edges ``[2, E]``.
            batch (torch.Tensor, optional): The graph of each node ``[N]``, as
                in a PyG batch; passed to the encoder (the
                :class:`~torch_nri.nn.RIEncoder` needs it for a batch of
                several systems). (default: one graph)
            sizes (GraphSizes, optional): The batch's sizes, for an encoder
                that reads them (:class:`~torch_nri.nn.RIEncoder`); without
                them it reads them back from the tensors.
            **decoder_kwargs: Passed to the decoder, e.g.
                ``prediction_steps=10`` or ``burn_in_steps=...``.
        """
        check_node_features(x, "x", ndim=3, dtype=parameter_dtype(self))
        check_edge_index(edge_index, x.size(0))
        check_batch(batch, x.size(0))
        hard = self.hard if self.training else self.hard_in_eval
        edge_logits, edges = self.infer_edges(x, edge_index, batch, hard, sizes)
        predictions, targets, nll_scale = decode(self.decoder, x, edge_index, edges,
                                                 decoder_kwargs)
        return NRIOutput(edge_logits=edge_logits, edge_probs=edge_logits.softmax(dim=-1),
                         edges=edges, predictions=predictions, targets=targets,
                         edge_index=edge_index, nll_scale=nll_scale)

    def infer_edges(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                    hard: bool = True, sizes: Optional[GraphSizes] = None,
                    **relations: Any) -> Tuple[Tensor, Tensor]:
        r"""Encodes ``x`` and samples edges (:meth:`sample_edges`); returns
        the logits ``[E, K]`` and the sample ``[E, K]``. (NRI is given no
        relations; ``relations`` is for the same call as the baselines'.)"""
        edge_logits = encode_edges(self.encoder, x, edge_index, batch, self.num_edge_types,
                                   sizes)
        return self.sample_edges(edge_logits, edge_index, x.size(0), hard)

    def dynamic_graph(self, batch: Optional[Tensor] = None,
                      **relations: Any) -> DynamicGraph:
        r"""Re-inference for a forecast: hard samples of the encoder on each
        window of the decoder's inputs."""
        return lambda window, edge_index: self.infer_edges(window, edge_index, batch,
                                                           hard=True)[1]

    def sample_edges(self, edge_logits: Tensor, edge_index: Tensor, num_nodes: int,
                     hard: bool) -> Tuple[Tensor, Tensor]:
        r"""A Gumbel-softmax sample of edge types ``[E, K]`` from the
        encoder's logits, with the model's temperature; under
        ``hard_symmetry`` the logits and samples of each pair are tied.
        Returns the (tied) logits and the sample."""
        if not self.hard_symmetry:
            return edge_logits, F.gumbel_softmax(edge_logits, tau=self.tau, hard=hard, dim=-1)
        lead = symmetric_lead(edge_index, num_nodes)
        edge_logits = edge_logits[lead]
        return edge_logits, F.gumbel_softmax(edge_logits, tau=self.tau, hard=hard,
                                             dim=-1)[lead]

    def elbo(self, output: NRIOutput) -> ELBO:
        r"""The ELBO of a forward pass with the model's prior, variance and
        symmetry weight, per node, with its terms; training minimises
        ``-model.elbo(output).elbo``."""
        return elbo(output.predictions, output.targets, output.edge_logits,
                    prior=self.prior_probs, variance=self.variance,
                    edge_index=output.edge_index,
                    symmetry_weight=self.symmetry_weight, nll_scale=output.nll_scale)

    def objective(self, output: NRIOutput) -> Objective:
        r"""What training minimises: the negative ELBO (:meth:`elbo`)."""
        terms = self.elbo(output)
        return Objective(-terms.elbo, terms.nll, terms.kl)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(\n  encoder={self.encoder},\n  "
                f"decoder={self.decoder},\n  num_edge_types={self.num_edge_types}, "
                f"tau={self.tau}, hard={self.hard}, prior={self.prior}, "
                f"symmetry_weight={self.symmetry_weight}, hard_symmetry={self.hard_symmetry})")
