from torch import Tensor
from torch.nn import Module
from torch_geometric.nn import MLP

from torch_nri._validation import check_sizes


class ResidualHead(Module):
    r"""The output head of the NRI decoders (Kipf et al., 2018, eqs. 12 and
    17; Chen et al., 2021, eq. 27): a 3-layer ReLU MLP
    (:class:`torch_geometric.nn.models.MLP`, dropout after both hidden
    layers) that predicts the change of state,

    .. math::
        \boldsymbol{\mu}^{t+1}_j = \mathbf{x}^t_j + f_{out}(\mathbf{h}_j).

    Args:
        in_channels (int): Size of each input :math:`\mathbf{h}_j`.
        hidden_channels (int): Size of both hidden layers.
        out_channels (int): Number of features :math:`F` of the state.
        dropout (float, optional): Dropout probability after each hidden
            layer. (default: :obj:`0.0`)

    Shapes:
        - **input:** states :math:`(*, F)`, inputs :math:`(*, C_{in})`
        - **output:** :math:`(*, F)`
    """
    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        check_sizes(self, in_channels=in_channels, hidden_channels=hidden_channels,
                    out_channels=out_channels)
        self.mlp = MLP([in_channels, hidden_channels, hidden_channels, out_channels],
                       act="relu", norm=None, dropout=float(dropout))
        self.reset_parameters()

    @property
    def dropout(self) -> float:
        return self.mlp.dropout[0]

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        return x + self.mlp(h)

    def __repr__(self) -> str:
        in_channels, hidden, _, out_channels = self.mlp.channel_list
        return (f"{self.__class__.__name__}({in_channels}, {hidden}, {out_channels}, "
                f"dropout={self.dropout})")
