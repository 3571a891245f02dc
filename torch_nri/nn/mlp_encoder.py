from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Linear

from torch_nri._validation import (check_batch, check_batch_norm_sizes, check_edge_index,
                                   check_node_features, check_sizes, parameter_dtype)
from torch_nri.nn.chunking import DEFAULT_CHECKPOINT_MEMORY, seeded, step_seed
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
        checkpoint (bool, optional): If set to :obj:`True`, the edge MLPs run
            in chunks of edges whose activations are recomputed in the
            backward pass (:meth:`edge_embeddings`): what is kept has size
            :math:`E \cdot K` (the logits), not :math:`E \cdot H`, and the
            transient memory stays within ``checkpoint_memory``.
            (default: :obj:`False`)
        checkpoint_chunk_size (int, optional): Edges per chunk with
            ``checkpoint=True``. (default: as many as fit in
            ``checkpoint_memory``, :meth:`edge_bytes`)
        checkpoint_memory (int, optional): The bytes of one chunk's per-edge
            tensors with ``checkpoint=True``, and without gradients
            (evaluation) whatever ``checkpoint`` says. (default: 256 MiB)
        position_features (sequence of int, optional): The features that
            are coordinates: the node MLP :math:`f_{emb}` then sees the
            trajectory with its positions zeroed, and :math:`f^1_e` also the
            pair's relative trajectory :math:`\mathbf{p}_j - \mathbf{p}_i`
            (:class:`NRIMessagePassing`), so that the logits are invariant
            to a translation. ``x`` must then be :math:`(N, T, F)`.
            (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(N, T, F)` (or :math:`(N, T \cdot F)`),
          edge indices :math:`(2, E)`
        - **output:** edge logits :math:`(E, K)`
    """
    def __init__(self, in_channels: int, hidden_channels: int, num_edge_types: int,
                 factor: bool = True, dropout: float = 0.0, aggr: str = "sum",
                 batch_norm: bool = True, checkpoint: bool = False,
                 checkpoint_chunk_size: Optional[int] = None,
                 checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY,
                 position_features: Optional[Sequence[int]] = None) -> None:
        check_sizes(self, in_channels=in_channels, hidden_channels=hidden_channels,
                    num_edge_types=num_edge_types)
        super().__init__(aggr=aggr, checkpoint=checkpoint,
                         checkpoint_chunk_size=checkpoint_chunk_size,
                         checkpoint_memory=checkpoint_memory,
                         position_features=position_features)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_edge_types = num_edge_types
        self.factor = factor
        self.dropout = dropout
        self.batch_norm = batch_norm
        hidden = hidden_channels
        self.node_mlp1 = MLPBlock(in_channels, hidden, hidden, dropout, batch_norm)
        # The pair's relative trajectory, flattened: T F values, zero but at positions.
        relative = 0 if position_features is None else in_channels
        self.edge_mlp1 = MLPBlock(2 * hidden + relative, hidden, hidden, dropout, batch_norm)
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
        logits = self.edge_embeddings(x, edge_index, head=self.lin_out)
        check_batch(batch, x.size(0))
        return logits

    def edge_embeddings(self, x: Tensor, edge_index: Tensor,
                        head: Optional[Callable[[Tensor], Tensor]] = None) -> Tensor:
        r"""The edge embeddings :math:`\mathbf{h}^2_{(i,j)}` ``[E, H]``, before
        the output layer, or ``head`` of them (``[E, *]``).

        With ``checkpoint=True`` the edges run in chunks
        (:meth:`~torch_nri.nn.chunking.Chunking.run`; without gradients, too,
        where one chunk would not hold every edge) whose
        activations are recomputed in the backward pass, ``head`` included,
        so that only its output is kept per edge. The result and the
        gradients are those of one pass over all edges: each batch
        normalisation of an edge MLP is given the statistics of all edges,
        gathered by a pass over the chunks before it
        (:meth:`~torch_nri.nn.MLPBlock.batch_statistics`, which the
        gradients go through), at the cost of recomputing that MLP's input
        once more; with dropout, each chunk draws its masks from a seed of
        its own, the same in every pass. The edge MLPs are a few percent of
        an NRI training step (the decoder runs its message MLPs on every
        edge at every step), so the extra passes cost little."""
        check_node_features(x, "x", ndim=None, dtype=parameter_dtype(self))
        if x.dim() not in (2, 3):
            raise ValueError(f"'x' must have shape [num_nodes, num_steps, num_features] or "
                             f"[num_nodes, num_steps * num_features], got shape {tuple(x.shape)}")
        if x[0].numel() != self.in_channels:
            raise ValueError(f"'x' must hold in_channels = T * F = {self.in_channels} values "
                             f"per node, got shape {tuple(x.shape)}")
        self.check_positions(x, ndim=3)
        num_nodes = x.size(0)
        check_edge_index(edge_index, num_nodes)
        check_batch_norm_sizes(num_nodes, edge_index.size(1), self.training, self.batch_norm)
        head = head or _identity
        positions = self.positions_of(x)
        if positions is not None:
            positions = positions.reshape(num_nodes, -1)

        # The edge MLPs' first layers run per node and are gathered
        # (node_to_edge_linear): the same result for about E/N times less work.
        h = self.node_mlp1(self.node_inputs(x).reshape(num_nodes, -1))
        first = self.pair_projection(h, self.edge_mlp1.lin1.weight, self.edge_mlp1.lin1.bias,
                                     positions)
        chunk = self.chunking.rows(edge_index.size(1), lambda: self.edge_bytes(h.element_size()))
        if chunk is not None:
            return self._chunked_edge_embeddings(h, first, edge_index, head, chunk)
        edge_skip = self.edge_mlp1.from_first_layer(self.gather_pairs(first, edge_index))
        if self.factor:
            h = self.node_mlp2(self.edge_to_node(edge_skip, edge_index, num_nodes))
            return head(self.run_edge_mlp(self.edge_mlp2, h, edge_index, edge_attr=edge_skip))
        return head(self.edge_mlp2(torch.cat([self.edge_mlp_nofactor(edge_skip), edge_skip],
                                             dim=-1)))

    def edge_bytes(self, element_size: int) -> int:
        r"""The bytes per edge of a chunk, by which its
        :attr:`~torch_nri.nn.NRIMessagePassing.chunking` sizes the chunks:
        :math:`w H` elements of ``element_size`` bytes, where :math:`w` is
        12 with the factor-graph step and 20 without (what one chunk holds at
        its peak: the gathered inputs, the edge MLPs' activations and their
        gradients; measured 8.4 and 16.2 in
        ``tests/nn/test_encoder_memory.py``)."""
        return (12 if self.factor else 20) * self.hidden_channels * element_size

    def _chunked_edge_embeddings(self, h: Tensor, first: Tensor, edge_index: Tensor,
                                 head: Callable[[Tensor], Tensor], chunk: int) -> Tensor:
        if self.factor:
            return factor_graph_in_chunks(self, first, edge_index, head, chunk)
        chunks = list(enumerate(edge_index.split(chunk, dim=1)))
        seed = step_seed(self, self.dropout)
        stats1 = _statistics(self, self.edge_mlp1, _edge_skip_input, chunks, seed, self, first)
        stats_nofactor = _statistics(self, self.edge_mlp_nofactor, _nofactor_skip_input,
                                     chunks, seed, self, first, stats1)
        inputs = (self, first, stats1, stats_nofactor)
        stats2 = _statistics(self, self.edge_mlp2, _nofactor_input, chunks, seed, *inputs)
        return torch.cat(list(self.chunking.run(_nofactor_output, chunks, seed, head, *inputs,
                                                stats2)))

    def _repr_options(self) -> str:
        return ", ".join([f"num_edge_types={self.num_edge_types}", f"factor={self.factor}",
                          f"dropout={self.dropout}", f"aggr={self.aggr!r}",
                          f"batch_norm={self.batch_norm}", *self.memory_options()])

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"{self._repr_options()})")


def factor_graph_in_chunks(layer: NRIMessagePassing, first: Tensor, edge_index: Tensor,
                           head: Callable[[Tensor], Tensor], chunk: int) -> Tensor:
    r"""NRI's factor-graph edge embedding (eqs. 6-8),
    :math:`\mathbf{h}^2_{(i,j)} = f^2_e([f^1_v(\bigoplus_i \mathbf{h}^1_{(i,j)})_i,
    \ldots, \mathbf{h}^1_{(i,j)}])` with :math:`\mathbf{h}^1_{(i,j)} =
    f^1_e(\cdot)`, and ``head`` of it, in chunks of ``chunk`` edges run by
    the layer's :attr:`~torch_nri.nn.NRIMessagePassing.chunking`, for a layer
    with the :class:`MLPBlock` s ``edge_mlp1`` (:math:`f^1_e`), ``node_mlp2``
    (:math:`f^1_v`) and ``edge_mlp2`` (:math:`f^2_e`), given ``first``, the
    :meth:`~torch_nri.nn.NRIMessagePassing.pair_projection` of
    :math:`f^1_e`'s first layer: :class:`MLPEncoder` and
    :class:`~torch_nri.nn.DNRIEncoder`. What is kept per edge is ``head``'s
    output; batch normalisation sees the statistics of all edges (a pass
    over the chunks before each edge MLP, differentiable), and with dropout
    every pass over a chunk draws the same masks
    (:func:`~torch_nri.nn.chunking.seeded`)."""
    chunks = list(enumerate(edge_index.split(chunk, dim=1)))
    # With dropout, a seed per step: each chunk reseeds from it, so that its
    # masks are the same in every pass over it.
    seed = step_seed(layer, layer.dropout)
    run_chunks = layer.chunking.run
    stats1 = _statistics(layer, layer.edge_mlp1, _edge_skip_input, chunks, seed, layer, first)
    aggregated = layer.aggregate_chunks(
        zip((index for _, index in chunks),
            run_chunks(_seeded_edge_skip, chunks, seed, layer, first, stats1)),
        first.size(0), edge_index[1])
    second = layer.pair_projection(layer.node_mlp2(aggregated), layer.edge_mlp2.lin1.weight,
                                   layer.edge_mlp2.lin1.bias)
    inputs = (layer, first, stats1, second)
    stats2 = _statistics(layer, layer.edge_mlp2, _factor_input, chunks, seed, *inputs)
    return torch.cat(list(run_chunks(_factor_output, chunks, seed, head, *inputs, stats2)))


def _statistics(layer: NRIMessagePassing, block: MLPBlock, block_input: Callable[..., Tensor],
                chunks: List[Tuple[int, Tensor]], seed: Optional[int], *inputs: Any
                ) -> Optional[Tuple[Tensor, Tensor]]:
    # The batch statistics of the block's normalisation over all chunks;
    # None where it normalises by its running statistics, or not at all.
    if block.norm is None or not layer.training:
        return None
    moments = list(layer.chunking.run(_block_moments, chunks, seed, block, block_input,
                                      *inputs))
    return block.batch_statistics(moments)


# The chunks' functions, run by Chunking.run as
# fn(seed, *inputs, chunk_number, edge_index_of_the_chunk).

def _identity(x: Tensor) -> Tensor:
    return x


def _edge_skip_input(enc: NRIMessagePassing, first: Tensor, index: Tensor) -> Tensor:
    return enc.gather_pairs(first, index)


def _edge_skip(enc: NRIMessagePassing, first: Tensor, stats1: Any, index: Tensor) -> Tensor:
    return enc.edge_mlp1.from_first_layer(enc.gather_pairs(first, index), stats1)


def _seeded_edge_skip(seed: Optional[int], enc: NRIMessagePassing, first: Tensor,
                      stats1: Any, number: int, index: Tensor) -> Tensor:
    with seeded(seed, number, index.device):
        return _edge_skip(enc, first, stats1, index)


def _factor_input(enc: NRIMessagePassing, first: Tensor, stats1: Any, second: Tensor,
                  index: Tensor) -> Tensor:
    skip = _edge_skip(enc, first, stats1, index)
    weight = enc.edge_mlp2.lin1.weight
    return enc.gather_pairs(second, index) + F.linear(skip, weight[:, 2 * second.size(-1):])


def _factor_output(seed: Optional[int], head: Callable[[Tensor], Tensor],
                   enc: NRIMessagePassing, first: Tensor, stats1: Any, second: Tensor,
                   stats2: Any, number: int, index: Tensor) -> Tensor:
    with seeded(seed, number, index.device):
        pre = _factor_input(enc, first, stats1, second, index)
        return head(enc.edge_mlp2.from_first_layer(pre, stats2))


def _nofactor_skip_input(enc: MLPEncoder, first: Tensor, stats1: Any,
                         index: Tensor) -> Tensor:
    return enc.edge_mlp_nofactor.lin1(_edge_skip(enc, first, stats1, index))


def _nofactor_input(enc: MLPEncoder, first: Tensor, stats1: Any, stats_nofactor: Any,
                    index: Tensor) -> Tensor:
    skip = _edge_skip(enc, first, stats1, index)
    block = enc.edge_mlp_nofactor
    inner = block.from_first_layer(block.lin1(skip), stats_nofactor)
    return enc.edge_mlp2.lin1(torch.cat([inner, skip], dim=-1))


def _nofactor_output(seed: Optional[int], head: Callable[[Tensor], Tensor], enc: MLPEncoder,
                     first: Tensor, stats1: Any, stats_nofactor: Any, stats2: Any,
                     number: int, index: Tensor) -> Tensor:
    with seeded(seed, number, index.device):
        pre = _nofactor_input(enc, first, stats1, stats_nofactor, index)
        return head(enc.edge_mlp2.from_first_layer(pre, stats2))


def _block_moments(seed: Optional[int], block: MLPBlock,
                   block_input: Callable[..., Tensor], *args: Any) -> Tensor:
    # args: the block input's arguments, then the chunk's number and edges.
    *inputs, number, index = args
    with seeded(seed, number, index.device):
        return block.chunk_moments(block.before_norm(block_input(*inputs, index)))
