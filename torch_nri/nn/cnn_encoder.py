from typing import Optional, Sequence

import torch
from torch import Tensor
from torch.nn import Linear

from torch_nri._validation import (check_batch, check_batch_norm_sizes, check_edge_index,
                                   check_node_features, check_sizes, parameter_dtype)
from torch_nri.nn.cnn_block import CNNBlock
from torch_nri.nn.message_passing import NRIMessagePassing
from torch_nri.nn.mlp_block import MLPBlock


class CNNEncoder(NRIMessagePassing):
    r"""The CNN encoder of NRI (Kipf et al., 2018, Figs. 13 and 14).

    Each edge :math:`i \rightarrow j` first sees the two time series side by
    side, :math:`[\mathbf{x}_i, \mathbf{x}_j] \in \mathbb{R}^{T \times 2F}`,
    which a :class:`CNNBlock` pools over time into an edge embedding; the rest
    is the factor-graph step of :class:`MLPEncoder`:

    .. math::
        \mathbf{h}^1_{(i,j)} &= f_1(\mathrm{CNN}([\mathbf{x}_i, \mathbf{x}_j]))

        \mathbf{h}^2_j &= f_2\Big(\sum_{i \in \mathcal{N}(j)}
        \mathbf{h}^1_{(i,j)}\Big)

        \mathbf{h}^2_{(i,j)} &= f_3([\mathbf{h}^2_i, \mathbf{h}^2_j,
        \mathbf{h}^1_{(i,j)}])

    followed by a linear layer to :math:`K` logits. With ``factor=False`` the
    logits are read from :math:`\mathbf{h}^1_{(i,j)}` directly. Pooling over
    time makes the encoder work for any trajectory length
    :math:`T \geq 14`.

    Args:
        in_channels (int): Number of features :math:`F` per node and step.
        hidden_channels (int): Hidden size of the convolutions and MLPs.
        num_edge_types (int): Number of edge types :math:`K`.
        factor (bool, optional): If set to :obj:`False`, leaves out the
            edge-to-node-to-edge step. (default: :obj:`True`)
        dropout (float, optional): Dropout probability. (default: :obj:`0.0`)
        aggr (str, optional): Edge-to-node aggregation, ``"sum"`` or
            ``"mean"``. (default: ``"sum"``)
        position_features (sequence of int, optional): The features that
            are coordinates: the convolutions then read
            :math:`[\tilde{\mathbf{x}}_i, \tilde{\mathbf{x}}_j,
            \mathbf{p}_j - \mathbf{p}_i]` over time, the positions zeroed in
            :math:`\tilde{\mathbf{x}}` (:class:`NRIMessagePassing`), so that
            the logits are invariant to a translation. (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(N, T, F)`, edge indices :math:`(2, E)`
        - **output:** edge logits :math:`(E, K)`
    """
    def __init__(self, in_channels: int, hidden_channels: int, num_edge_types: int,
                 factor: bool = True, dropout: float = 0.0, aggr: str = "sum",
                 position_features: Optional[Sequence[int]] = None) -> None:
        check_sizes(self, in_channels=in_channels, hidden_channels=hidden_channels,
                    num_edge_types=num_edge_types)
        super().__init__(aggr=aggr, position_features=position_features)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_edge_types = num_edge_types
        self.factor = factor
        self.dropout = dropout
        hidden = hidden_channels
        self.cnn = CNNBlock(self.pair_factor * in_channels, hidden, hidden, dropout)
        self.edge_mlp1 = MLPBlock(hidden, hidden, hidden, dropout)
        if factor:
            self.node_mlp = MLPBlock(hidden, hidden, hidden, dropout)
            self.edge_mlp2 = MLPBlock(3 * hidden, hidden, hidden, dropout)
        self.lin_out = Linear(hidden, num_edge_types)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.children():
            if isinstance(module, (MLPBlock, CNNBlock)):
                module.reset_parameters()
        torch.nn.init.xavier_normal_(self.lin_out.weight)
        torch.nn.init.constant_(self.lin_out.bias, 0.1)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None) -> Tensor:
        r"""Edge logits ``[E, K]``. ``batch`` (the graph of each node) is
        accepted for a uniform encoder interface and not needed."""
        check_node_features(x, "x", ndim=3, num_features=self.in_channels,
                            dtype=parameter_dtype(self))
        if x.size(1) < CNNBlock.min_steps:
            raise ValueError(f"'x' must have at least {CNNBlock.min_steps} time steps "
                             f"for the CNN encoder's kernels, got shape {tuple(x.shape)}")
        self.check_positions(x)
        check_edge_index(edge_index, x.size(0))
        check_batch(batch, x.size(0))
        check_batch_norm_sizes(x.size(0), edge_index.size(1), self.training)

        series = self.pair_features(x, edge_index)  # [E, T, 2F] (3F with positions)
        edge_skip = self.edge_mlp1(self.cnn(series.transpose(1, 2)))
        if not self.factor:
            return self.lin_out(edge_skip)
        h = self.node_mlp(self.edge_to_node(edge_skip, edge_index, x.size(0)))
        return self.lin_out(self.run_edge_mlp(self.edge_mlp2, h, edge_index, edge_attr=edge_skip))

    def __repr__(self) -> str:
        options = [f"num_edge_types={self.num_edge_types}", f"factor={self.factor}",
                   f"dropout={self.dropout}", f"aggr={self.aggr!r}", *self.memory_options()]
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"{', '.join(options)})")
