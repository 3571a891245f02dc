from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.nn import Linear

from torch_nri._validation import check_sizes
from torch_nri.nn.decoder import NRIDecoder
from torch_nri.nn.edge_type_mlp import EdgeTypeMLP
from torch_nri.nn.chunking import DEFAULT_CHECKPOINT_MEMORY
from torch_nri.nn.residual_head import ResidualHead


class RNNDecoder(NRIDecoder):
    r"""The recurrent decoder of NRI (Kipf et al., 2018, eqs. 13-17 and
    Figs. 16-17), for dynamics that are not Markovian in the observed state.
    Messages are computed from the recurrent hidden states:

    .. math::
        \tilde{\mathbf{h}}^t_{(i,j)} &= \frac{1}{K'} \sum_k z_{ij,k}\,
        \tilde{f}^k_e([\tilde{\mathbf{h}}^t_i, \tilde{\mathbf{h}}^t_j])

        \mathrm{MSG}^t_j &= \sum_{i \in \mathcal{N}(j)} \tilde{\mathbf{h}}^t_{(i,j)}

        \tilde{\mathbf{h}}^{t+1}_j &= \mathrm{GRU}([\mathrm{MSG}^t_j,
        \mathbf{x}^t_j], \tilde{\mathbf{h}}^t_j)

        \boldsymbol{\mu}^{t+1}_j &= \mathbf{x}^t_j + f_{out}(\tilde{\mathbf{h}}^{t+1}_j)

    with 2-layer tanh message MLPs averaged over the :math:`K'` message-passing
    types, the output MLP of :class:`ResidualHead` and the GRU of Fig. 16, whose gates read the input and the
    aggregated messages:
    :math:`\mathbf{r} = \sigma(\mathbf{W}_{ir}\mathbf{x} + \mathbf{W}_{mr}\mathrm{MSG})`,
    :math:`\mathbf{u} = \sigma(\mathbf{W}_{iu}\mathbf{x} + \mathbf{W}_{mu}\mathrm{MSG})`,
    :math:`\mathbf{n} = \tanh(\mathbf{W}_{in}\mathbf{x} + \mathbf{r} \odot
    \mathbf{W}_{mn}\mathrm{MSG})`,
    :math:`\tilde{\mathbf{h}}' = (1 - \mathbf{u}) \odot \mathbf{n} +
    \mathbf{u} \odot \tilde{\mathbf{h}}`.

    The hidden state is the decoder's memory over the whole sequence
    (``feeding = "burn_in"``, see :class:`NRIDecoder`): in :meth:`forward`,
    the input of each step is the ground truth for the first
    ``burn_in_steps`` steps and the decoder's own predictions after (paper
    section 3.5), or, without burn-in, the ground truth every
    ``prediction_steps`` steps; training burns in on the first :math:`T - M`
    steps. The original code also divided the aggregated messages by the
    number of features; that undocumented scaling is left out.

    Args:
        in_channels (int): Number of features :math:`F` per node and step.
        num_edge_types (int): Number of edge types :math:`K`.
        hidden_channels (int): Size of the hidden state and the messages.
        skip_first (bool, optional): If set to :obj:`True`, edge type 0 means
            "no edge" and passes no message. (default: :obj:`False`)
        dropout (float, optional): Dropout probability. (default: :obj:`0.0`)
        aggr (str, optional): Edge-to-node aggregation, ``"sum"`` or
            ``"mean"``. (default: ``"sum"``)
        checkpoint (bool, optional): If set to :obj:`True`, the per-edge
            activations of each step are recomputed in the backward pass
            instead of stored, as in :class:`MLPDecoder`.
            (default: :obj:`False`)
        checkpoint_chunk_size (int, optional): Edges recomputed at once with
            ``checkpoint=True``. (default: as many as fit in
            ``checkpoint_memory``)
        checkpoint_memory (int, optional): With ``checkpoint=True`` and no
            ``checkpoint_chunk_size``, the bytes that the per-edge tensors of
            one chunk may take; the chunk size follows from the sizes of each
            step (:meth:`~torch_nri.nn.NRIMessagePassing.edge_bytes`). Without
            gradients the same budget chunks the work whatever
            ``checkpoint`` says.
            (default: 256 MiB)
        skip_no_edges (bool, optional): If set to :obj:`True`, edges whose
            message-passing weights are all zero are dropped, as in
            :class:`MLPDecoder`. Needs ``aggr="sum"``. (default: :obj:`False`)
        position_features (sequence of int, optional): The features that
            are coordinates: the messages then also read the pair's relative
            position :math:`\mathbf{p}^t_j - \mathbf{p}^t_i` (its part of
            their first layer computed per node), and the GRU's input is
            :math:`\tilde{\mathbf{x}}^t_j`, the positions zeroed
            (:class:`NRIDecoder`). (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(N, T, F)`, edge indices
          :math:`(2, E)`, edge weights :math:`(E, K)` or, per step (a
          dynamic graph, see :class:`NRIDecoder`), :math:`(E, T_z, K)`
        - **output:** predictions of steps :math:`2..T`, :math:`(N, T - 1, F)`
    """
    feeding = "burn_in"
    step_weights = True
    renamed_parameters = {"lin_out1": "head.mlp.lins.0", "lin_out2": "head.mlp.lins.1",
                          "lin_out3": "head.mlp.lins.2"}

    def __init__(self, in_channels: int, num_edge_types: int, hidden_channels: int,
                 skip_first: bool = False, dropout: float = 0.0, aggr: str = "sum",
                 checkpoint: bool = False, checkpoint_chunk_size: Optional[int] = None,
                 skip_no_edges: bool = False,
                 checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY,
                 position_features: Optional[Sequence[int]] = None) -> None:
        check_sizes(self, hidden_channels=hidden_channels)
        super().__init__(in_channels, num_edge_types, skip_first, aggr, checkpoint,
                         checkpoint_chunk_size, skip_no_edges, checkpoint_memory,
                         position_features)
        self.hidden_channels = hidden_channels
        self.dropout = dropout
        hidden = hidden_channels
        # With position_features the messages also read the pair's relative position.
        relative = 0 if position_features is None else in_channels
        self.edge_mlp = EdgeTypeMLP(2 * hidden + relative, hidden, hidden, num_edge_types,
                                    act=torch.tanh, dropout=dropout, skip_first=skip_first,
                                    average_types=True)
        # Input and message projections of the three gates, each fused into one matmul.
        self.lin_input = Linear(in_channels, 3 * hidden)
        self.lin_message = Linear(hidden, 3 * hidden, bias=False)
        self.head = ResidualHead(hidden, hidden, in_channels, dropout)
        self.reset_parameters()

    def step(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
             memory: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        r"""One step: returns the prediction :math:`\boldsymbol{\mu}^{t+1}` and
        the new hidden state, from the input :math:`\mathbf{x}^t` ``[N, *, F]``
        and the hidden state ``[N, *, H]`` (zeros when :obj:`None`)."""
        hidden = x.new_zeros(*x.shape[:-1], self.hidden_channels) if memory is None else memory
        # The message MLPs' first layer runs per node and is gathered onto the
        # edges (their input is [h_i, h_j], two hidden states): exact, cheaper.
        projection = self.pair_projection(hidden, *self.edge_mlp.first_layer,
                                          positions=self.positions_of(x))
        aggregated = self.aggregate_messages(self.edge_mlp.from_first_layer, projection,
                                             edge_index, edge_weights,
                                             edge_features=self.gather_pairs,
                                             message_width=self.edge_mlp.transient_width(
                                                 first_layer_given=True))
        input_r, input_u, input_n = self.lin_input(self.node_inputs(x)).chunk(3, dim=-1)
        msg_r, msg_u, msg_n = self.lin_message(aggregated).chunk(3, dim=-1)
        reset = torch.sigmoid(input_r + msg_r)
        update = torch.sigmoid(input_u + msg_u)
        candidate = torch.tanh(input_n + reset * msg_n)
        hidden = (1 - update) * candidate + update * hidden
        return self.head(x, hidden), hidden

    def step_width(self) -> int:
        r"""What a checkpointed step keeps per node and row: :math:`24 H`,
        the pair projection of the hidden state that its chunks read and the
        GRU's gates and products (measured: 380 elements at :math:`H = 16`)."""
        return 24 * self.hidden_channels

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self._repr_options()}, "
                f"hidden_channels={self.hidden_channels}, dropout={self.dropout})")
