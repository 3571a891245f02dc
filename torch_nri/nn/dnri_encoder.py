from typing import Callable, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.nn import LSTM
from torch_geometric.nn.models import MLP

from torch_nri._validation import check_edge_index, check_node_features, check_sizes
from torch_nri.nn.chunking import DEFAULT_CHECKPOINT_MEMORY
from torch_nri.nn.message_passing import NRIMessagePassing
from torch_nri.nn.mlp_encoder import factor_graph_in_chunks
from torch_nri.nn.mlp_block import MLPBlock

# The forward LSTM's state per edge: (h, c), each [1, E, R].
PriorState = Tuple[Tensor, Tensor]


class DNRIEncoder(NRIMessagePassing):
    r"""The encoder and learned prior of dynamic NRI (Graber and Schwing,
    2020): a graph per time step. Each step's states
    are embedded on every candidate edge by NRI's node-to-edge and
    edge-to-node steps (:class:`NRIMessagePassing`, Kipf et al. 2018,
    eqs. 5-8), with no mixing of steps:

    .. math::
        \mathbf{h}^t_j &= f_1(\mathbf{x}^t_j), \qquad
        \mathbf{h}^t_{(i,j)} = f_2([\mathbf{h}^t_i, \mathbf{h}^t_j])

        \tilde{\mathbf{h}}^t_j &= f_3\Big(\frac{1}{|\mathcal{N}(j)|}
        \sum_{i \in \mathcal{N}(j)} \mathbf{h}^t_{(i,j)}\Big), \qquad
        \mathbf{e}^t_{(i,j)} = f_4([\tilde{\mathbf{h}}^t_i,
        \tilde{\mathbf{h}}^t_j, \mathbf{h}^t_{(i,j)}])

    Then one LSTM runs forward over time on each edge, another backward:

    .. math::
        \overrightarrow{\mathbf{s}}^t_{ij} &=
        \mathrm{LSTM}_{fwd}(\mathbf{e}^t_{(i,j)}, \overrightarrow{\mathbf{s}}^{t-1}_{ij}),
        \qquad \overleftarrow{\mathbf{s}}^t_{ij} =
        \mathrm{LSTM}_{bwd}(\mathbf{e}^t_{(i,j)}, \overleftarrow{\mathbf{s}}^{t+1}_{ij})

        p_\theta(z^t_{ij} \mid \mathbf{x}^{1..t}) &=
        \mathrm{softmax}\big(f_{prior}(\overrightarrow{\mathbf{s}}^t_{ij})\big),
        \qquad q_\phi(z^t_{ij} \mid \mathbf{x}) =
        \mathrm{softmax}\big(f_{enc}([\overrightarrow{\mathbf{s}}^t_{ij},
        \overleftarrow{\mathbf{s}}^t_{ij}])\big)

    so the prior at step :math:`t` reads the steps up to :math:`t` only, and
    the posterior the whole sequence. :math:`f_1, \dots, f_4` are the 2-layer
    ELU MLPs of :class:`MLPBlock`; :math:`f_{prior}` and :math:`f_{enc}` are
    3-layer ELU MLPs (:class:`torch_geometric.nn.models.MLP`), as in dNRI's
    code. The per-step work is :math:`O(E)`: nothing of size
    :math:`N \times N`.

    Batch normalisation (``batch_norm=True``, dNRI's choice) normalises with
    the statistics of the whole batch in training, every step included;
    in evaluation it uses running statistics, and the prior is causal in
    every respect. ``batch_norm=False`` makes it causal in training too.

    Args:
        in_channels (int): Number of features :math:`F` per node and step.
        hidden_channels (int): Hidden size :math:`H` of the embeddings.
        num_edge_types (int): Number of edge types :math:`K`.
        rnn_channels (int, optional): Hidden size :math:`R` of each LSTM.
            (default: ``hidden_channels``)
        head_channels (int, optional): Hidden size of :math:`f_{prior}` and
            :math:`f_{enc}`. (default: ``hidden_channels``)
        dropout (float, optional): Dropout probability of the MLPs.
            (default: :obj:`0.0`)
        batch_norm (bool, optional): Batch normalisation in :math:`f_1,
            \dots, f_4`. (default: :obj:`True`)
        checkpoint (bool, optional): If set to :obj:`True`, every per-edge
            part (the edge MLPs, both LSTMs and both heads) runs in chunks of
            edges recomputed in the backward pass, so that only the logits
            are kept per edge and step (:class:`MLPEncoder`'s scheme; batch
            normalisation still sees every edge). (default: :obj:`False`)
        checkpoint_chunk_size (int, optional): Edges per chunk.
            (default: as many as fit in ``checkpoint_memory``,
            :meth:`edge_width`)
        checkpoint_memory (int, optional): The bytes of one chunk's per-edge
            tensors, with ``checkpoint=True``, and without gradients
            whatever ``checkpoint`` says. (default: 256 MiB)
        position_features (sequence of int, optional): The features that
            are coordinates: :math:`f_1` then sees the states with their
            positions zeroed and :math:`f_2` also the pair's relative
            position at that step (:class:`NRIMessagePassing`), so that the
            logits are invariant to a translation. (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(N, T, F)`, edge indices :math:`(2, E)`
        - **output:** prior logits :math:`(E, T, K)` and posterior logits
          :math:`(E, T, K)`
    """
    def __init__(self, in_channels: int, hidden_channels: int, num_edge_types: int,
                 rnn_channels: Optional[int] = None, head_channels: Optional[int] = None,
                 dropout: float = 0.0, batch_norm: bool = True, checkpoint: bool = False,
                 checkpoint_chunk_size: Optional[int] = None,
                 checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY,
                 position_features: Optional[Sequence[int]] = None) -> None:
        check_sizes(self, ("rnn_channels", "head_channels"), in_channels=in_channels,
                    hidden_channels=hidden_channels, num_edge_types=num_edge_types,
                    rnn_channels=rnn_channels, head_channels=head_channels)
        # dNRI averages the incoming edges of a node.
        super().__init__(aggr="mean", checkpoint=checkpoint,
                         checkpoint_chunk_size=checkpoint_chunk_size,
                         checkpoint_memory=checkpoint_memory,
                         position_features=position_features)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_edge_types = num_edge_types
        self.rnn_channels = rnn_channels or hidden_channels
        self.head_channels = head_channels or hidden_channels
        self.dropout = dropout
        self.batch_norm = batch_norm
        hidden, rnn, head = hidden_channels, self.rnn_channels, self.head_channels
        self.node_mlp1 = MLPBlock(in_channels, hidden, hidden, dropout, batch_norm)
        # With position_features, f_2 also reads the pair's relative position.
        relative = 0 if position_features is None else in_channels
        self.edge_mlp1 = MLPBlock(2 * hidden + relative, hidden, hidden, dropout, batch_norm)
        self.node_mlp2 = MLPBlock(hidden, hidden, hidden, dropout, batch_norm)
        self.edge_mlp2 = MLPBlock(3 * hidden, hidden, hidden, dropout, batch_norm)
        self.forward_rnn = LSTM(hidden, rnn, batch_first=True)
        self.backward_rnn = LSTM(hidden, rnn, batch_first=True)
        self.prior_head = MLP([rnn, head, head, num_edge_types], act="elu", norm=None)
        self.posterior_head = MLP([2 * rnn, head, head, num_edge_types], act="elu", norm=None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in (self.node_mlp1, self.edge_mlp1, self.node_mlp2, self.edge_mlp2,
                       self.forward_rnn, self.backward_rnn, self.prior_head,
                       self.posterior_head):
            module.reset_parameters()

    def embed(self, x: Tensor, edge_index: Tensor,
              head: Optional[Callable[[Tensor], Tensor]] = None) -> Tensor:
        r"""The edge embeddings of every step,
        :math:`\mathbf{e}^t_{(i,j)}`: ``[N, T, F] -> [E, T, H]``, each step
        from its own states only, or ``head`` of them. In chunks of edges
        where the layer's :attr:`~NRIMessagePassing.chunking` runs any
        (:func:`~torch_nri.nn.mlp_encoder.factor_graph_in_chunks`, as in
        :class:`MLPEncoder`), ``head`` included, so that only its output is
        kept per edge."""
        check_node_features(x, "x", ndim=3, num_features=self.in_channels)
        self.check_positions(x)
        check_edge_index(edge_index, x.size(0))
        head = head or (lambda embeddings: embeddings)
        # The edge MLPs' first layers run per node and are gathered.
        h = self.node_mlp1(self.node_inputs(x))
        first = self.pair_projection(h, self.edge_mlp1.lin1.weight, self.edge_mlp1.lin1.bias,
                                     self.positions_of(x))
        chunk = self.chunking.rows(edge_index.size(1),
                                   lambda: x.size(1) * self.edge_width() * x.element_size())
        if chunk is not None:
            return factor_graph_in_chunks(self, first, edge_index, head, chunk)
        edge_skip = self.edge_mlp1.from_first_layer(self.gather_pairs(first, edge_index))
        h = self.node_mlp2(self.edge_to_node(edge_skip, edge_index, x.size(0)))
        return head(self.run_edge_mlp(self.edge_mlp2, h, edge_index, edge_attr=edge_skip))

    def edge_width(self) -> int:
        r"""The elements per edge and step that a chunk of :meth:`forward`
        holds at once at its peak, by which its chunks are sized:
        :math:`24 H + 40 R + 4 C_h`, for the edge MLPs, the two LSTMs
        (gates, states, their caches and gradients) and the heads. Measured
        (one chunk of 200 and 400 edges, 10 steps): 960, 1,320 and 1,565
        elements for :math:`(H, R, C_h)` = (16, 16, 16), (32, 16, 8) and
        (16, 32, 16), about :math:`22 H + 38 R`; ``tests/nn/test_dnri_encoder.py``
        checks a step stays within its budget."""
        return 24 * self.hidden_channels + 40 * self.rnn_channels + 4 * self.head_channels

    def forward(self, x: Tensor, edge_index: Tensor,
                batch: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        r"""The prior and posterior logits of every step, ``[E, T, K]``
        each. ``batch`` is accepted for a uniform encoder interface and not
        needed."""
        logits = self.embed(x, edge_index, head=self._logits)
        return logits.chunk(2, dim=-1)

    def _logits(self, embeddings: Tensor) -> Tensor:
        # Both LSTMs over time and both heads: [E, T, H] -> [E, T, 2K].
        forward, _ = self.forward_rnn(embeddings)
        backward, _ = self.backward_rnn(embeddings.flip(1))
        posterior = self.posterior_head(torch.cat([forward, backward.flip(1)], dim=-1))
        return torch.cat([self.prior_head(forward), posterior], dim=-1)

    def prior(self, x: Tensor, edge_index: Tensor,
              state: Optional[PriorState] = None) -> Tuple[Tensor, PriorState]:
        r"""The prior logits ``[E, T, K]`` of steps ``x`` ``[N, T, F]``
        that follow the steps summarised by ``state`` (none: ``x`` starts
        the sequence), and the state after them: a forecast's prior, one
        step or many at a time."""
        out, state = self.forward_rnn(self.embed(x, edge_index), state)
        return self.prior_head(out), state

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"num_edge_types={self.num_edge_types}, rnn_channels={self.rnn_channels}, "
                f"head_channels={self.head_channels}, dropout={self.dropout}, "
                f"batch_norm={self.batch_norm}"
                f"{''.join(', ' + option for option in self.memory_options())})")
