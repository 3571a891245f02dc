import math
from typing import Any, Optional, Sequence, Tuple

import torch
from torch import Tensor

from torch_nri._validation import check_sizes
from torch_nri.nn.decoder import NRIDecoder
from torch_nri.nn.edge_type_mlp import EdgeTypeMLP
from torch_nri.nn.chunking import DEFAULT_CHECKPOINT_MEMORY
from torch_nri.nn.residual_head import ResidualHead
from torch_nri.nn.temporal_model import TemporalModel


class STDecoder(NRIDecoder):
    r"""The spatio-temporal message-passing decoder of NRI-MPM (Chen et al.,
    2021, eqs. 21-27 and A8-A20). Node-to-edge and edge-to-node message
    passing each carry a sequence model over the history of the current
    prediction segment:

    .. math::
        \hat{\mathbf{e}}^t_{(i,j)} &= \sum_k z_{ij,k}\,
        \hat{f}^k_e([\mathbf{x}^t_i, \mathbf{x}^t_j])

        \hat{\mathbf{h}}^{t+1}_{(i,j)} &= S_{edge}\big(\hat{\mathbf{e}}^t_{(i,j)},
        \hat{\mathbf{h}}^{t_0+1:t}_{(i,j)}\big)

        \mathrm{MSG}^t_j &= \sum_{i \in \mathcal{N}(j)} \hat{\mathbf{h}}^{t+1}_{(i,j)}

        \hat{\mathbf{h}}^{t+1}_j &= S_{node}\big([\mathrm{MSG}^t_j, \mathbf{x}^t_j],
        \hat{\mathbf{h}}^{t_0+1:t}_j\big)

        \boldsymbol{\mu}^{t+1}_j &= \mathbf{x}^t_j + \hat{f}_v(\hat{\mathbf{h}}^{t+1}_j)

    with per-type 2-layer ReLU message MLPs :math:`\hat{f}^k_e`
    (:class:`EdgeTypeMLP`), :math:`S_{edge}, S_{node}` a
    :class:`TemporalModel` each (GRU as in the paper, or temporal attention)
    and a 3-layer ReLU output MLP :math:`\hat{f}_v` (:class:`ResidualHead`).
    Training follows Algorithm 1 (``feeding = "teacher_forcing"``, see
    :class:`NRIDecoder`): the sequence is split into segments of :math:`M` =
    ``prediction_steps`` steps, each started from the ground truth
    :math:`\mathbf{x}^{t_0}` and continued from the decoder's own predictions
    (:math:`\mathbf{x}^t := \boldsymbol{\mu}^t` for :math:`t > t_0`); all
    segments run at once. The memory of a step is the segment's history in
    both sequence models.

    As in the paper, the edge model's output is summed for every candidate
    edge, so an edge whose weights are all on the "no edge" type still sends
    :math:`S_{edge}` of a zero input; ``skip_first`` only removes type 0's
    message MLP.

    Args:
        in_channels (int): Number of features :math:`F` per node and step.
        num_edge_types (int): Number of edge types :math:`K`.
        hidden_channels (int): Hidden size of every part (256 in the paper).
        sequence_model (str, optional): ``"gru"`` or ``"attention"``.
            (default: ``"gru"``)
        skip_first (bool, optional): If set to :obj:`True`, edge type 0 has no
            message MLP. (default: :obj:`False`)
        dropout (float, optional): Dropout probability. (default: :obj:`0.0`)
        aggr (str, optional): Edge-to-node aggregation, ``"sum"`` or
            ``"mean"``. (default: ``"sum"``)
        checkpoint (bool, optional): If set to :obj:`True`, each step's
            per-edge work (message MLPs and :math:`S_{edge}`) runs in chunks
            of edges under :func:`torch.utils.checkpoint.checkpoint` and is
            recomputed in the backward pass: what a step keeps per edge is
            the memory of :math:`S_{edge}` (its hidden state, or the keys
            and values of the history), not the activations, and the
            transient memory stays within ``checkpoint_memory``.
            (default: :obj:`False`)
        checkpoint_chunk_size (int, optional): Edges per chunk with
            ``checkpoint=True``. (default: as many as fit in
            ``checkpoint_memory``)
        checkpoint_memory (int, optional): The bytes of one chunk's per-edge
            tensors with ``checkpoint=True``, and without gradients whatever
            ``checkpoint`` says. (default: 256 MiB)
        position_features (sequence of int, optional): The features that
            are coordinates: :math:`\hat{f}^k_e` then reads the pair's
            relative position and the other features, :math:`S_{node}` the
            node's features with the positions zeroed (:class:`NRIDecoder`).
            (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(N, T, F)`, edge indices
          :math:`(2, E)`, edge weights :math:`(E, K)`
        - **output:** predictions of steps :math:`2..T`, :math:`(N, T - 1, F)`
    """
    renamed_parameters = {"lin_out1": "head.mlp.lins.0", "lin_out2": "head.mlp.lins.1",
                          "lin_out3": "head.mlp.lins.2"}

    def __init__(self, in_channels: int, num_edge_types: int, hidden_channels: int,
                 sequence_model: str = "gru", skip_first: bool = False,
                 dropout: float = 0.0, aggr: str = "sum", checkpoint: bool = False,
                 checkpoint_chunk_size: Optional[int] = None,
                 checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY,
                 position_features: Optional[Sequence[int]] = None) -> None:
        check_sizes(self, hidden_channels=hidden_channels)
        super().__init__(in_channels, num_edge_types, skip_first, aggr, checkpoint,
                         checkpoint_chunk_size, checkpoint_memory=checkpoint_memory,
                         position_features=position_features)
        self.hidden_channels = hidden_channels
        self.sequence_model = sequence_model
        self.dropout = dropout
        hidden = hidden_channels
        self.edge_mlp = EdgeTypeMLP(self.pair_factor * in_channels, hidden, hidden,
                                    num_edge_types,
                                    act=torch.relu, dropout=dropout, skip_first=skip_first)
        self.edge_model = TemporalModel(hidden, hidden, sequence_model)
        self.node_model = TemporalModel(hidden + in_channels, hidden, sequence_model)
        self.head = ResidualHead(hidden, hidden, in_channels, dropout)
        self.reset_parameters()

    def step(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
             memory: Any = None) -> Tuple[Tensor, Any]:
        r"""One step of all segments: returns :math:`\boldsymbol{\mu}^{t+1}`
        ``[N, *, F]`` and the memory of both sequence models, from states
        ``[N, *, F]`` and their memory (``None`` at a segment's start)."""
        edge_memory, node_memory = memory if memory is not None else (None, None)
        messages, edge_memory = self._messages(x, edge_index, edge_weights, edge_memory)
        node_hidden, node_memory = self.node_model(
            torch.cat([messages, self.node_inputs(x)], dim=-1), node_memory)
        return self.head(x, node_hidden), (edge_memory, node_memory)

    def edge_width(self, history: int = 0) -> int:
        r"""The elements per row of edges that a checkpointed chunk holds at
        once: the message MLPs' (:meth:`EdgeTypeMLP.transient_width`) and
        :math:`12 H` for :math:`S_{edge}` (its gates, state and gradients;
        measured in ``tests/nn/test_st_decoder.py``), plus, for temporal
        attention over a history of ``history`` steps, :math:`4 (m + 1) H`
        for the stacked keys and values of the :math:`m + 1` entries and
        their gradients."""
        attention = 4 * (history + 1) if self.sequence_model == "attention" else 0
        return self.edge_mlp.transient_width() + (12 + attention) * self.hidden_channels

    def _edges(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
               edge_memory: Any) -> Tuple[Tensor, Any]:
        # The new state of S_edge on each edge and its memory (eqs. 22-23).
        typed = self.edge_mlp(self.pair_features(x, edge_index), edge_weights)
        return self.edge_model(typed, edge_memory)

    def _messages(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
                  edge_memory: Any) -> Tuple[Tensor, Any]:
        # MSG^t_j and the new memory of S_edge, in chunks of edges where the
        # layer's chunking runs any (their memory set aside as they come).
        num_edges = edge_index.size(1)
        history = 0 if edge_memory is None or self.sequence_model != "attention" else len(
            edge_memory[0])
        chunk = self.chunking.rows(num_edges, lambda: math.prod(
            x.shape[1:-1]) * self.edge_width(history) * x.element_size())
        if chunk is None:
            edge_hidden, edge_memory = self._edges(x, edge_index, edge_weights, edge_memory)
            return self.edge_to_node(edge_hidden, edge_index, x.size(0)), edge_memory
        memories = self.edge_model.split_memory(edge_memory, chunk,
                                                max(math.ceil(num_edges / chunk), 1))
        index_chunks = edge_index.split(chunk, dim=1)
        new_memories = []

        def edge_states():  # each chunk's new states, its memory set aside
            for part, part_memory in self.chunking.run(
                    self._edges, zip(index_chunks, edge_weights.split(chunk), memories), x):
                new_memories.append(part_memory)
                yield part

        aggregated = self.aggregate_chunks(zip(index_chunks, edge_states()), x.size(0),
                                           edge_index[1])
        return aggregated, self.edge_model.merge_memory(new_memories, edge_memory)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self._repr_options()}, "
                f"hidden_channels={self.hidden_channels}, "
                f"sequence_model={self.sequence_model!r}, dropout={self.dropout})")
