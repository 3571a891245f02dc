from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module

from torch_nri._validation import (check_batch, check_edge_index, check_node_features,
                                   check_real, parameter_dtype, values_checked)
from torch_nri.graphs import GraphSizes
from torch_nri.losses import Objective, gaussian_nll
from torch_nri.models.base import ConfigurableModel, NRIOutput, decode

GRAPHS = ("full", "true")


class FixedGraphModel(ConfigurableModel):
    r"""A decoder trained alone on a graph it is given, not inferred: the
    path-prediction baselines "NRI (full graph)" and "NRI (true graph)" of
    NRI (Kipf et al., 2018, Table 2 and supplement D.1.1).

    With ``graph="full"`` every candidate edge carries the one edge type
    there is, :math:`z_{ij} = 1` (the paper's fully connected graph "on edge
    type 2", edge types being exclusive; the decoder has
    ``num_edge_types=1``); with ``graph="true"`` edge :math:`(i, j)` carries
    the one-hot true relation, :math:`z_{ij} = \mathrm{onehot}(r_{ij})`, so
    the decoder sees exactly the interactions of the simulator. Training
    minimises the Gaussian negative log-likelihood of the trajectories
    (:func:`~torch_nri.losses.gaussian_nll`); with no latent graph there is
    no KL term.

    Args:
        decoder (torch.nn.Module): Maps ``(x, edge_index, edge_weights)`` to
            predictions ``[N, T - 1, F]``, e.g. :class:`~torch_nri.nn.MLPDecoder`.
        graph (str, optional): ``"full"`` or ``"true"``. (default: ``"true"``)
        num_edge_types (int, optional): :math:`K`, the decoder's number of
            edge types; 1 for the full graph. (default: :obj:`2`)
        variance (float, optional): Fixed output variance of the Gaussian
            likelihood. (default: :obj:`5e-5`)

    Shapes:
        - **input:** trajectories :math:`(N, T, F)`, candidate edges
          :math:`(2, E)`, true relations :math:`(E)` (``graph="true"``)
        - **output:** :class:`~torch_nri.models.NRIOutput` with predictions
          :math:`(N, T - 1, F)`
    """
    parts = ("decoder",)
    uses_relations = True

    def __init__(self, decoder: Module, graph: str = "true", num_edge_types: int = 2,
                 variance: float = 5e-5) -> None:
        super().__init__()
        if graph not in GRAPHS:
            raise ValueError(f"'graph' must be one of {GRAPHS}, got {graph!r}")
        if graph == "full" and num_edge_types != 1:
            raise ValueError(f"the full graph has one edge type; got num_edge_types="
                             f"{num_edge_types}")
        self.check_parts(num_edge_types, decoder=decoder)
        check_real(variance, "variance", 0)
        self.decoder = decoder
        self.graph = graph
        self.num_edge_types = num_edge_types
        self.variance = variance

    def reset_parameters(self) -> None:
        self.decoder.reset_parameters()

    def infer_edges(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                    hard: bool = True, sizes: Optional[GraphSizes] = None,
                    edge_type: Optional[Tensor] = None) -> Tuple[None, Tensor]:
        r"""No logits (nothing is inferred) and the given edge weights
        ``[E, K]``: ones for the full graph, the one-hot true relations
        ``edge_type`` otherwise. ``x``, ``batch``, ``hard`` and ``sizes`` are unused;
        they make the call the same as :meth:`NRI.infer_edges
        <torch_nri.models.NRI.infer_edges>`."""
        num_edges = edge_index.size(1)
        if self.graph == "full":
            return None, x.new_ones(num_edges, 1)
        if edge_type is None:
            raise ValueError("the true-graph model needs the true relations 'edge_type'")
        if edge_type.shape != (num_edges,):
            raise ValueError(f"'edge_type' must have one entry per edge, shape "
                             f"[{num_edges}], got {tuple(edge_type.shape)}")
        if num_edges and values_checked() and (int(edge_type.min()) < 0
                                               or int(edge_type.max()) >= self.num_edge_types):
            raise ValueError(f"'edge_type' must lie in [0, {self.num_edge_types - 1}] "
                             f"(num_edge_types={self.num_edge_types}), got values in "
                             f"[{int(edge_type.min())}, {int(edge_type.max())}]")
        return None, F.one_hot(edge_type, self.num_edge_types).to(x.dtype)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_type: Optional[Tensor] = None, sizes: Optional[GraphSizes] = None,
                **decoder_kwargs: Any) -> NRIOutput:
        r"""Decodes ``x`` on the given graph.

        Args:
            x (torch.Tensor): Trajectories ``[N, T, F]``.
            edge_index (torch.Tensor): Candidate edges ``[2, E]``.
            batch (torch.Tensor, optional): Unused (the graph is given).
            sizes (GraphSizes, optional): Unused.
            edge_type (torch.Tensor, optional): The true relation of each
                candidate edge ``[E]``; needed with ``graph="true"``.
            **decoder_kwargs: Passed to the decoder, e.g. ``prediction_steps``.
        """
        check_node_features(x, "x", ndim=3, dtype=parameter_dtype(self))
        check_edge_index(edge_index, x.size(0))
        check_batch(batch, x.size(0))
        _, edges = self.infer_edges(x, edge_index, edge_type=edge_type)
        predictions, targets, nll_scale = decode(self.decoder, x, edge_index, edges,
                                                 decoder_kwargs)
        return NRIOutput(edge_logits=None, edge_probs=None, edges=edges,
                         predictions=predictions, targets=targets, edge_index=edge_index,
                         edge_type=edge_type, nll_scale=nll_scale)

    def objective(self, output: NRIOutput) -> Objective:
        r"""The Gaussian negative log-likelihood per node; no KL term."""
        nll = gaussian_nll(output.predictions, output.targets, self.variance) * output.nll_scale
        return Objective(nll, nll, torch.zeros_like(nll))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(\n  decoder={self.decoder},\n  "
                f"graph={self.graph!r}, num_edge_types={self.num_edge_types})")
