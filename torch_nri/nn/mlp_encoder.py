from typing import Optional

import torch
from torch import Tensor
from torch.nn import Linear

from torch_nri._validation import (check_batch, check_batch_norm_sizes, check_edge_index,
                                   check_node_features, parameter_dtype)
from torch_nri.nn.message_passing import NRIMessagePassing
from torch_nri.nn.mlp_block import MLPBlock


class MLPEncoder(NRIMessagePassing):
    r"""The MLP encoder of NRI (Kipf et al., 2018, eqs. 5-8 and Fig. 12),
    mapping trajectories to edge-type logits over a candidate graph:

    .. math::
        \mathbf{h}^1_j &= f_{emb}(\mathbf{x}_j)

        \mathbf{h}^1_{(i,j)} &= f^1_e([\mathbf{h}^1_i, \mathbf{h}^1_j])

        \mathbf{h}^2_j &= f^1_v\Big(\sum_{i \in \mathcal{N}(j)}
        \mathbf{h}^1_{(i,j)}\Big)

        \mathbf{h}^2_{(i,j)} &= f^2_e([\mathbf{h}^2_i, \mathbf{h}^2_j,
        \mathbf{h}^1_{(i,j)}])

    and logits :math:`\mathbf{W}\mathbf{h}^2_{(i,j)} + \mathbf{b}`, so that
    :math:`q_\phi(z_{ij} | \mathbf{x}) = \mathrm{softmax}(\cdot)`. Every
    :math:`f` is a :class:`MLPBlock`. The last edge MLP also sees
    :math:`\mathbf{h}^1_{(i,j)}` (the skip connection of Fig. 12). Without the
    factor-graph step (``factor=False``),
    :math:`\mathbf{h}^2_{(i,j)} = f^2_e([f_3(\mathbf{h}^1_{(i,j)}),
    \mathbf{h}^1_{(i,j)}])` and no information crosses between edges.

    The whole trajectory of each node is flattened into one vector, so
    ``in_channels`` must equal ``T * F``.

    Args:
        in_channels (int): Size of each node's flattened trajectory, ``T * F``.
        hidden_channels (int): Hidden and output size of every MLP (256 in
            the paper).
        num_edge_types (int): Number of edge types :math:`K`.
        factor (bool, optional): If set to :obj:`False`, leaves out the
            edge-to-node-to-edge step. (default: :obj:`True`)
        dropout (float, optional): Dropout probability inside the MLPs.
            (default: :obj:`0.0`)
        aggr (str, optional): Edge-to-node aggregation, ``"sum"`` or
            ``"mean"``. (default: ``"sum"``)
        batch_norm (bool, optional): If set to :obj:`False`, the MLPs have no
            batch normalisation (whose statistics are per process under
            distributed training on CPUs). (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(N, T, F)` (or :math:`(N, T \cdot F)`),
          edge indices :math:`(2, E)`
        - **output:** edge logits :math:`(E, K)`
    """
    def __init__(self, in_channels: int, hidden_channels: int, num_edge_types: int,
                 factor: bool = True, dropout: float = 0.0, aggr: str = "sum",
                 batch_norm: bool = True) -> None:
        super().__init__(aggr=aggr)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_edge_types = num_edge_types
        self.factor = factor
        self.dropout = dropout
        self.batch_norm = batch_norm
        hidden = hidden_channels
        self.node_mlp1 = MLPBlock(in_channels, hidden, hidden, dropout, batch_norm)
        self.edge_mlp1 = MLPBlock(2 * hidden, hidden, hidden, dropout, batch_norm)
        if factor:
            self.node_mlp2 = MLPBlock(hidden, hidden, hidden, dropout, batch_norm)
            self.edge_mlp2 = MLPBlock(3 * hidden, hidden, hidden, dropout, batch_norm)
        else:
            self.edge_mlp_nofactor = MLPBlock(hidden, hidden, hidden, dropout, batch_norm)
            self.edge_mlp2 = MLPBlock(2 * hidden, hidden, hidden, dropout, batch_norm)
        self.lin_out = Linear(hidden, num_edge_types)
        # This class's own reset: a subclass's may reach layers not built yet.
        MLPEncoder.reset_parameters(self)

    def reset_parameters(self) -> None:
        for module in (self.node_mlp1, self.edge_mlp1, self.edge_mlp2,
                       *((self.node_mlp2,) if self.factor else (self.edge_mlp_nofactor,))):
            module.reset_parameters()
        torch.nn.init.xavier_normal_(self.lin_out.weight)
        torch.nn.init.constant_(self.lin_out.bias, 0.1)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None) -> Tensor:
        r"""Edge logits ``[E, K]``. ``batch`` (the graph of each node) is
        accepted for a uniform encoder interface and not needed."""
        edges = self.edge_embeddings(x, edge_index)
        check_batch(batch, x.size(0))
        return self.lin_out(edges)

    def edge_embeddings(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""The edge embeddings :math:`\mathbf{h}^2_{(i,j)}` ``[E, H]``, before
        the output layer."""
        check_node_features(x, "x", ndim=None, dtype=parameter_dtype(self))
        if x.dim() not in (2, 3):
            raise ValueError(f"'x' must have shape [num_nodes, num_steps, num_features] or "
                             f"[num_nodes, num_steps * num_features], got shape {tuple(x.shape)}")
        if x[0].numel() != self.in_channels:
            raise ValueError(f"'x' must hold in_channels = T * F = {self.in_channels} values "
                             f"per node, got shape {tuple(x.shape)}")
        x = x.reshape(x.size(0), -1)
        check_edge_index(edge_index, x.size(0))
        check_batch_norm_sizes(x.size(0), edge_index.size(1), self.training, self.batch_norm)

        # The edge MLPs' first layers run per node and are gathered
        # (node_to_edge_linear): the same result for about E/N times less work.
        h = self.node_mlp1(x)
        edge_skip = self.run_edge_mlp(self.edge_mlp1, h, edge_index)
        if self.factor:
            h = self.node_mlp2(self.edge_to_node(edge_skip, edge_index, x.size(0)))
            return self.run_edge_mlp(self.edge_mlp2, h, edge_index, edge_attr=edge_skip)
        return self.edge_mlp2(torch.cat([self.edge_mlp_nofactor(edge_skip), edge_skip], dim=-1))

    def _repr_options(self) -> str:
        return (f"num_edge_types={self.num_edge_types}, factor={self.factor}, "
                f"dropout={self.dropout}, aggr={self.aggr!r}, batch_norm={self.batch_norm}")

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"{self._repr_options()})")
