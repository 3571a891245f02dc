from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module

from torch_nri._validation import (check_batch, check_edge_index, check_node_features,
                                   parameter_dtype)
from torch_nri.graphs import GraphSizes
from torch_nri.losses import Objective
from torch_nri.models.base import ConfigurableModel, NRIOutput, encode_edges


class SupervisedEncoder(ConfigurableModel):
    r"""An encoder trained alone on the true relations: the "Supervised"
    row of NRI (Kipf et al., 2018, Table 1 and supplement D.1.1), the gold
    standard of edge recovery. Training minimises the cross-entropy of the
    true relation :math:`r_{ij}` of each candidate edge under the encoder's
    distribution,

    .. math::
        \mathcal{L} = -\frac{1}{|\mathcal{E}|} \sum_{(i,j) \in \mathcal{E}}
        \log \mathrm{softmax}(\text{edge logits}_{ij})_{r_{ij}},

    and the training loop keeps the epoch with the best validation accuracy.
    The paper trains it with dropout 0.5 in every MLP of the encoder; pass
    the encoder ``dropout=0.5``. Any encoder of :mod:`torch_nri.nn` works.

    Args:
        encoder (torch.nn.Module): Maps ``(x, edge_index)`` (and ``batch``) to
            logits ``[E, K]``, e.g. :class:`~torch_nri.nn.MLPEncoder`.
        num_edge_types (int): Number of edge types :math:`K`.

    Shapes:
        - **input:** trajectories :math:`(N, T, F)`, candidate edges
          :math:`(2, E)`, true relations :math:`(E)` (for the loss)
        - **output:** :class:`~torch_nri.models.NRIOutput` with edge logits
          :math:`(E, K)`
    """
    parts = ("encoder",)
    uses_relations = True
    decoder = None

    def __init__(self, encoder: Module, num_edge_types: int) -> None:
        super().__init__()
        self.check_parts(num_edge_types, encoder=encoder)
        self.encoder = encoder
        self.num_edge_types = num_edge_types

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()

    def infer_edges(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                    hard: bool = True, sizes: Optional[GraphSizes] = None,
                    edge_type: Optional[Tensor] = None) -> Tuple[Tensor, None]:
        r"""The encoder's logits ``[E, K]`` and no sample (there is no
        decoder to feed). ``edge_type`` and ``hard`` are unused."""
        logits = encode_edges(self.encoder, x, edge_index, batch, self.num_edge_types, sizes)
        return logits, None

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_type: Optional[Tensor] = None, sizes: Optional[GraphSizes] = None,
                **unused: Any) -> NRIOutput:
        r"""Encodes ``x``; ``edge_type`` (the true relations ``[E]``) is kept
        for :meth:`objective`. Decoder options (``**unused``) are ignored,
        so the training loop calls every model the same way."""
        check_node_features(x, "x", ndim=3, dtype=parameter_dtype(self))
        check_edge_index(edge_index, x.size(0))
        check_batch(batch, x.size(0))
        logits, _ = self.infer_edges(x, edge_index, batch, sizes=sizes)
        return NRIOutput(edge_logits=logits, edge_probs=logits.softmax(-1), edges=None,
                         predictions=None, targets=None, edge_index=edge_index,
                         edge_type=edge_type)

    def objective(self, output: NRIOutput) -> Objective:
        r"""The cross-entropy of the true relations (mean over edges)."""
        if output.edge_type is None:
            raise ValueError("the supervised encoder is trained on the true relations: "
                             "pass 'edge_type'")
        loss = F.cross_entropy(output.edge_logits, output.edge_type)
        return Objective(loss, loss, torch.zeros_like(loss))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(\n  encoder={self.encoder},\n  "
                f"num_edge_types={self.num_edge_types})")
