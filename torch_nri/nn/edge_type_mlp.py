import math
from typing import Callable, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module, Parameter

from torch_nri._validation import check_sizes, check_skip_first


# The in-place forms of the usual activations (their backward reads their output).
_IN_PLACE = {torch.relu: torch.relu_, torch.tanh: torch.tanh_, F.relu: torch.relu_,
             torch.sigmoid: torch.sigmoid_}


class EdgeTypeMLP(Module):
    r"""One 2-layer MLP per edge type, weighted by each edge's type
    distribution: the message function of the NRI decoders (Kipf et al.,
    2018, eqs. 10 and 13, Figs. 15 and 17):

    .. math::
        \mathbf{m}_{(i,j)} = c \sum_{k=k_0}^{K-1} z_{ij,k}\,
        \sigma\big(\mathbf{W}^k_2\, \sigma(\mathbf{W}^k_1 \mathbf{h}_{(i,j)}
        + \mathbf{b}^k_1) + \mathbf{b}^k_2\big)

    where :math:`k_0 = 1` when type 0 is hard-coded as "no edge"
    (``skip_first=True``) and :math:`k_0 = 0` otherwise, and :math:`c` is 1, or
    :math:`1 / (K - k_0)` with ``average_types=True`` (the RNN decoder's
    "average over types for stability").

    The :math:`K` MLPs run as one batched computation: each layer is one
    batched matrix multiply over types (the input is shared, not copied, by
    the first). There is no Python loop over :math:`K`.

    Args:
        in_channels (int): Size of each edge's input features.
        hidden_channels (int): Hidden size of each per-type MLP.
        out_channels (int): Size of each message.
        num_edge_types (int): Number of edge types :math:`K`.
        act (callable, optional): Activation after both layers.
            (default: :func:`torch.relu`)
        dropout (float, optional): Dropout after the first layer.
            (default: :obj:`0.0`)
        skip_first (bool, optional): If set to :obj:`True`, edge type 0 sends
            no message. (default: :obj:`False`)
        average_types (bool, optional): If set to :obj:`True`, divides the sum
            over types by the number of message-passing types.
            (default: :obj:`False`)

    Shapes:
        - **input:** edge features :math:`(E, *, F_{in})`, edge weights
          :math:`(E, K)`, or :math:`(E, *, K)` for weights of each inner row
          (the per-step weights of a dynamic graph)
        - **output:** messages :math:`(E, *, F_{out})`
    """
    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_edge_types: int, act: Callable[[Tensor], Tensor] = torch.relu,
                 dropout: float = 0.0, skip_first: bool = False,
                 average_types: bool = False) -> None:
        super().__init__()
        check_sizes(self, in_channels=in_channels, hidden_channels=hidden_channels,
                    out_channels=out_channels, num_edge_types=num_edge_types)
        check_skip_first(skip_first, num_edge_types)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.num_edge_types = num_edge_types
        self.act = act
        self.dropout = dropout
        self.skip_first = skip_first
        self.average_types = average_types
        # Only message-passing types get weights: with skip_first, type 0 has none.
        num_types = num_edge_types - int(skip_first)
        self.weight1 = Parameter(torch.empty(num_types, hidden_channels, in_channels))
        self.bias1 = Parameter(torch.empty(num_types, hidden_channels))
        self.weight2 = Parameter(torch.empty(num_types, out_channels, hidden_channels))
        self.bias2 = Parameter(torch.empty(num_types, out_channels))
        self.reset_parameters()

    @property
    def num_message_types(self) -> int:
        r"""The number of edge types that pass messages."""
        return self.weight1.size(0)

    def reset_parameters(self) -> None:
        r"""Initialises each type's layers as :class:`torch.nn.Linear` does."""
        for weight, bias in ((self.weight1, self.bias1), (self.weight2, self.bias2)):
            for k in range(weight.size(0)):
                torch.nn.init.kaiming_uniform_(weight[k], a=math.sqrt(5))
            bound = 1.0 / math.sqrt(weight.size(-1))
            torch.nn.init.uniform_(bias, -bound, bound)

    @property
    def first_layer(self) -> Tuple[Tensor, Tensor]:
        r"""The first layers of all types as one linear layer, weight
        ``[K' H, C_in]`` and bias ``[K' H]``, for a first layer computed
        elsewhere (:meth:`from_first_layer`)."""
        return self.weight1.flatten(0, 1), self.bias1.flatten()

    def transient_width(self, first_layer_given: bool = False) -> int:
        r"""The elements per row of edge features that a checkpointed chunk
        of :meth:`forward` (or of :meth:`from_first_layer` if
        ``first_layer_given``) holds at once at its peak, in the backward
        pass: the ``message_width`` by which
        :meth:`~torch_nri.nn.NRIMessagePassing.aggregate_messages` sizes its
        chunks. With :math:`K'` message-passing types, hidden size :math:`H`,
        messages of size :math:`O`, input width :math:`C` and :math:`d = 1`
        while dropout is active:

        .. math::
            w = C + K' H (1 + 2d) + O + 3 K' \max(H, O)

        The first terms are what the recomputed forward pass saves for the
        backward pass: the first layer's input (only in :meth:`forward`;
        :meth:`from_first_layer` saves none of its input, so :math:`C` is left
        out), the first activation's output, dropout's mask and output; then
        the incoming gradient of the messages, and at most three per-type
        tensors of one layer alive together while that layer's backward runs
        (its saved output and two gradients: of the activation and of the
        typed messages or the layer's input). The pre-activations and the
        typed messages are freed as soon as the next operation has run.
        Measured (``tests/nn/test_decoder_memory.py``), the peak stays below
        this, by up to a third where :math:`H \neq O`."""
        types, hidden, out = self.num_message_types, self.hidden_channels, self.out_channels
        dropout = int(self.training and self.dropout > 0)
        width = types * hidden * (1 + 2 * dropout) + out + 3 * types * max(hidden, out)
        return width if first_layer_given else width + self.in_channels

    def forward(self, edge_attr: Tensor, edge_weights: Tensor) -> Tensor:
        num_types, num_rows = self.num_message_types, math.prod(edge_attr.shape[:-1])
        rows = edge_attr.reshape(1, num_rows, self.in_channels).expand(num_types, -1, -1)
        # The first layer as one batched matmul over types, in [K', E * inner, H]
        # layout (the input is shared, not copied).
        h = torch.baddbmm(self.bias1.unsqueeze(1), rows, self.weight1.transpose(1, 2))
        return self._after_first_layer(h, edge_weights, edge_attr.shape[:-1], own=True)

    def from_first_layer(self, pre: Tensor, edge_weights: Tensor) -> Tensor:
        r"""The messages given the first layers' outputs ``[E, *, K' H]`` of
        the weights :attr:`first_layer`, e.g. computed per node and gathered
        by :meth:`~torch_nri.nn.NRIMessagePassing.node_to_edge_linear` (which
        pays where the input is a hidden state, as in the RNN decoder)."""
        num_types, num_rows = self.num_message_types, math.prod(pre.shape[:-1])
        h = pre.reshape(num_rows, num_types, self.hidden_channels).transpose(0, 1)
        return self._after_first_layer(h, edge_weights, pre.shape[:-1])

    def _after_first_layer(self, h: Tensor, edge_weights: Tensor,
                           shape: Tuple[int, ...], own: bool = False) -> Tensor:
        # h: the first layers' outputs [K', E * inner, H]; shape: [E, *inner];
        # own: h is this call's own tensor, which the activation may overwrite.
        num_types, num_edges = self.num_message_types, shape[0]
        inner = math.prod(shape[1:])  # explicit, so that E = 0 works
        # The element-wise work on [K', E * inner, H] tensors costs more than
        # the matrix products (measured): activations in place on the
        # products' own outputs, which their backward passes do not read.
        h = F.dropout(self._act(h, own), p=self.dropout, training=self.training)
        msg = self._act(torch.baddbmm(self.bias2.unsqueeze(1), h,
                                      self.weight2.transpose(1, 2)), own=True)

        # Weight each edge's messages by its types and sum over types, in the
        # messages' dtype (under autocast, bf16: no float32 copy of them).
        # Weights [E, K] are shared by all inner rows; [E, *inner, K] are per row.
        weights = edge_weights[..., int(self.skip_first):].movedim(-1, 0).to(msg.dtype)
        if self.average_types:
            weights = weights / num_types
        msg = msg.view(num_types, num_edges, inner, self.out_channels)
        rows = 1 if edge_weights.dim() == 2 else inner
        out = (msg * weights.reshape(num_types, num_edges, rows, 1)).sum(dim=0)
        return out.view(*shape, self.out_channels)

    def _act(self, x: Tensor, own: bool) -> Tensor:
        # The activation, in place where x may be overwritten and it has an
        # in-place form.
        in_place = _IN_PLACE.get(self.act) if own else None
        return in_place(x) if in_place is not None else self.act(x)

    def __repr__(self) -> str:
        act = getattr(self.act, "__name__", repr(self.act))
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"{self.out_channels}, num_edge_types={self.num_edge_types}, act={act}, "
                f"dropout={self.dropout}, skip_first={self.skip_first}, "
                f"average_types={self.average_types})")
