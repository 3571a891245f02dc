import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import BatchNorm1d, Conv1d, Module

from torch_nri._validation import check_sizes


class CNNBlock(Module):
    r"""1-D convolutions with attentive pooling over time (Kipf et al., 2018,
    Fig. 13), after Lin et al. (2017):

    .. math::
        \mathbf{u} &= \mathrm{BN}(\mathrm{ReLU}(\mathrm{Conv}_2(\mathrm{MaxPool}(
        \mathrm{Dropout}(\mathrm{BN}(\mathrm{ReLU}(\mathrm{Conv}_1(\mathbf{s}))))))))

        \mathbf{y} &= \frac{1}{T'} \sum_{t=1}^{T'} \mathrm{softmax}_t(
        \mathbf{w}_a^\top \mathbf{u}_t)\, \mathbf{W}_o \mathbf{u}_t

    with kernel size 5 for both convolutions, max pooling by 2 and 1x1
    output and attention convolutions. A sequence of length :math:`T` leaves
    :math:`T' = \lfloor (T - 4) / 2 \rfloor - 4` steps, so :math:`T \geq 14`.

    Args:
        in_channels (int): Number of input channels.
        hidden_channels (int): Number of channels of both convolutions.
        out_channels (int): Size of the pooled output.
        dropout (float, optional): Dropout after the first convolution.
            (default: :obj:`0.0`)

    Shapes:
        - **input:** :math:`(B, C_{in}, T)`
        - **output:** :math:`(B, C_{out})`
    """
    kernel_size = 5
    min_steps = 14

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        check_sizes(self, in_channels=in_channels, hidden_channels=hidden_channels,
                    out_channels=out_channels)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.dropout = dropout
        self.conv1 = Conv1d(in_channels, hidden_channels, self.kernel_size)
        self.norm1 = BatchNorm1d(hidden_channels)
        self.conv2 = Conv1d(hidden_channels, hidden_channels, self.kernel_size)
        self.norm2 = BatchNorm1d(hidden_channels)
        self.conv_out = Conv1d(hidden_channels, out_channels, 1)
        self.conv_attention = Conv1d(hidden_channels, 1, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""He-normal weights (fan-out) and biases of 0.1, as in the original code."""
        for conv in (self.conv1, self.conv2, self.conv_out, self.conv_attention):
            fan_out = conv.kernel_size[0] * conv.out_channels
            torch.nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / fan_out))
            torch.nn.init.constant_(conv.bias, 0.1)
        self.norm1.reset_parameters()
        self.norm2.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm1(F.relu(self.conv1(x)))
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = F.max_pool1d(x, kernel_size=2)
        x = self.norm2(F.relu(self.conv2(x)))
        attention = torch.softmax(self.conv_attention(x), dim=-1)
        return (self.conv_out(x) * attention).mean(dim=-1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"{self.out_channels}, dropout={self.dropout})")
