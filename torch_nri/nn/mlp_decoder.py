from typing import Any, Optional, Sequence, Tuple

import torch
from torch import Tensor

from torch_nri._validation import check_sizes
from torch_nri.nn.decoder import NRIDecoder
from torch_nri.nn.edge_type_mlp import EdgeTypeMLP
from torch_nri.nn.chunking import DEFAULT_CHECKPOINT_MEMORY
from torch_nri.nn.residual_head import ResidualHead


class MLPDecoder(NRIDecoder):
    r"""The Markovian MLP decoder of NRI (Kipf et al., 2018, eqs. 10-12 and
    Fig. 15). One step maps the state :math:`\mathbf{x}^t` to the mean of the
    next one:

    .. math::
        \tilde{\mathbf{h}}^t_{(i,j)} &= \sum_k z_{ij,k}\,
        \tilde{f}^k_e([\mathbf{x}^t_i, \mathbf{x}^t_j])

        \boldsymbol{\mu}^{t+1}_j &= \mathbf{x}^t_j + \tilde{f}_v\Big(\Big[
        \mathbf{x}^t_j, \sum_{i \in \mathcal{N}(j)} \tilde{\mathbf{h}}^t_{(i,j)}
        \Big]\Big)

    with one 2-layer ReLU message MLP :math:`\tilde{f}^k_e` per edge type
    (:class:`EdgeTypeMLP`, all types in one batched computation) and a 3-layer
    ReLU output MLP :math:`\tilde{f}_v` that predicts the change of state
    (:class:`ResidualHead`).

    To keep the decoder from ignoring the graph (paper section 3.4), it is
    fed the ground truth only every ``prediction_steps`` (:math:`M`) steps
    and its own predictions in between (``feeding = "teacher_forcing"``, see
    :class:`NRIDecoder`): :math:`\boldsymbol{\mu}^{t+1} = f_{dec}(\mathbf{x}^t)`
    for :math:`t \equiv 1 \pmod M` and
    :math:`\boldsymbol{\mu}^{t+1} = f_{dec}(\boldsymbol{\mu}^t)` otherwise. All
    segments of :math:`M` steps are independent, so they run at once: the loop
    is over the :math:`M` steps of a segment, not over the :math:`T` steps.

    Args:
        in_channels (int): Number of features :math:`F` per node and step.
        num_edge_types (int): Number of edge types :math:`K`.
        msg_hidden_channels (int): Hidden size of each message MLP.
        msg_out_channels (int): Size of each message.
        hidden_channels (int): Hidden size of the output MLP.
        skip_first (bool, optional): If set to :obj:`True`, edge type 0 means
            "no edge" and passes no message. (default: :obj:`False`)
        dropout (float, optional): Dropout probability. (default: :obj:`0.0`)
        aggr (str, optional): Edge-to-node aggregation, ``"sum"`` or
            ``"mean"``. (default: ``"sum"``)
        checkpoint (bool, optional): If set to :obj:`True`, the per-edge
            activations of each step are recomputed in the backward pass
            instead of stored (see
            :meth:`~torch_nri.nn.NRIMessagePassing.aggregate_messages`): the
            memory kept over the rollout falls from :math:`O(E \cdot T \cdot H)`
            to :math:`O(N \cdot T \cdot (F + O))` for about a third more
            compute: the output MLP too runs in checkpointed chunks of nodes,
            keeping only its inputs per step. (default: :obj:`False`)
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
            message-passing weights are all zero (hard samples of the "no
            edge" type with ``skip_first=True``) are dropped before the
            rollout (:func:`~torch_nri.nn.message_passing.drop_silent_edges`):
            same output, less work. Needs ``aggr="sum"``.
            (default: :obj:`False`)
        position_features (sequence of int, optional): The features that
            are coordinates: :math:`\tilde{f}^k_e` then reads
            :math:`[\tilde{\mathbf{x}}^t_i, \tilde{\mathbf{x}}^t_j,
            \mathbf{p}^t_j - \mathbf{p}^t_i]` and :math:`\tilde{f}_v`
            :math:`\tilde{\mathbf{x}}^t_j` (the positions zeroed) in place of
            :math:`\mathbf{x}^t_j`: a translation of every position moves
            the predictions with it (:class:`NRIDecoder`).
            (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(N, T, F)`, edge indices
          :math:`(2, E)`, edge weights :math:`(E, K)` or, per step (a
          dynamic graph, see :class:`NRIDecoder`), :math:`(E, T_z, K)`
        - **output:** predictions of steps :math:`2..T`, :math:`(N, T - 1, F)`
    """
    step_weights = True
    renamed_parameters = {"lin1": "head.mlp.lins.0", "lin2": "head.mlp.lins.1",
                          "lin3": "head.mlp.lins.2"}

    def __init__(self, in_channels: int, num_edge_types: int, msg_hidden_channels: int,
                 msg_out_channels: int, hidden_channels: int, skip_first: bool = False,
                 dropout: float = 0.0, aggr: str = "sum", checkpoint: bool = False,
                 checkpoint_chunk_size: Optional[int] = None,
                 skip_no_edges: bool = False,
                 checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY,
                 position_features: Optional[Sequence[int]] = None) -> None:
        check_sizes(self, msg_hidden_channels=msg_hidden_channels,
                    msg_out_channels=msg_out_channels, hidden_channels=hidden_channels)
        super().__init__(in_channels, num_edge_types, skip_first, aggr, checkpoint,
                         checkpoint_chunk_size, skip_no_edges, checkpoint_memory,
                         position_features)
        self.msg_hidden_channels = msg_hidden_channels
        self.msg_out_channels = msg_out_channels
        self.hidden_channels = hidden_channels
        self.dropout = dropout
        self.edge_mlp = EdgeTypeMLP(self.pair_factor * in_channels, msg_hidden_channels,
                                    msg_out_channels,
                                    num_edge_types, act=torch.relu, dropout=dropout,
                                    skip_first=skip_first)
        self.head = ResidualHead(in_channels + msg_out_channels, hidden_channels, in_channels,
                                 dropout)
        self.reset_parameters()

    def step(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
             memory: Any = None) -> Tuple[Tensor, None]:
        r"""One prediction step, :math:`\mathbf{x}^t \mapsto \boldsymbol{\mu}^{t+1}`,
        for node states of shape ``[N, *, F]``; the decoder has no memory."""
        messages = self.aggregate_messages(self.edge_mlp, x, edge_index, edge_weights,
                                           message_width=self.edge_mlp.transient_width())
        return self.map_nodes(self._output, (x, messages), self.head_width()), None

    def step_width(self) -> int:
        r"""What a checkpointed step keeps per node and row: its aggregated
        messages, :math:`O` (the output MLP's chunks keep their inputs)."""
        return self.msg_out_channels

    def head_width(self) -> int:
        r"""The elements per row that the output MLP holds at once in a
        checkpointed chunk (:meth:`~torch_nri.nn.NRIMessagePassing.map_nodes`):
        :math:`2 (F + O) + 6 H`, its input twice (the concatenation and its
        gradient) and three hidden activations with their gradients
        (measured in ``tests/nn/test_decoder_memory.py``)."""
        return 2 * (self.in_channels + self.msg_out_channels) + 6 * self.hidden_channels

    def _output(self, x: Tensor, messages: Tensor) -> Tensor:
        return self.head(x, torch.cat([self.node_inputs(x), messages], dim=-1))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self._repr_options()}, "
                f"msg_hidden_channels={self.msg_hidden_channels}, "
                f"msg_out_channels={self.msg_out_channels}, "
                f"hidden_channels={self.hidden_channels}, dropout={self.dropout})")
