import math
from numbers import Real
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module
from torch.utils.checkpoint import checkpoint as run_checkpointed
from torch_geometric.nn import MessagePassing

from torch_nri._allocator import limit_mmap_threshold

# An edge-type-weighted message function: (edge features, edge weights) -> messages.
MessageFn = Callable[[Tensor, Tensor], Tensor]
# Each edge's input from a node tensor: (node tensor, edge_index) -> edge features.
EdgeFeaturesFn = Callable[[Tensor, Tensor], Tensor]

#: The default ``checkpoint_memory``: 256 MiB of per-edge tensors per chunk.
DEFAULT_CHECKPOINT_MEMORY = 256 * 2**20


class NRIMessagePassing(MessagePassing):
    r"""Base class of every NRI layer: the two message-passing primitives of
    the NRI paper (Kipf et al., 2018, eqs. 5-8 and supplement C.1) over a
    sparse ``edge_index``, in O(E) time and memory.

    For an edge :math:`i \rightarrow j` (``edge_index[0]`` holds the senders
    :math:`i`, ``edge_index[1]`` the receivers :math:`j`, as everywhere in
    PyG):

    .. math::
        v \rightarrow e:\quad \mathbf{h}_{(i,j)} = [\mathbf{h}_i, \mathbf{h}_j]

        e \rightarrow v:\quad \mathbf{h}_j = \bigoplus_{i \in \mathcal{N}(j)}
        \mathbf{h}_{(i,j)}

    where :math:`\bigoplus` is a sum (the paper's choice) or a mean. The
    paper's dense formulation multiplies by one-hot ``[E, N]`` receiver and
    sender matrices; here the node-to-edge step is a gather
    (:meth:`~torch_geometric.nn.conv.MessagePassing.edge_updater`) and the
    edge-to-node step a scatter
    (:meth:`~torch_geometric.nn.conv.MessagePassing.propagate`), so nothing of
    size ``E x N`` is ever built.

    Node features may carry any number of trailing dimensions after the node
    dimension (``[N, F]``, ``[N, T, F]``, ...); edge features then have the
    same trailing dimensions with ``E`` in place of ``N``.

    Subclasses call :meth:`node_to_edge` and :meth:`edge_to_node` in their
    ``forward``, or :meth:`aggregate_messages`, which does both around a
    message function and can trade compute for memory. Where the edge
    features feed a linear layer straight away (the first layer of an edge
    MLP on hidden states), :meth:`node_to_edge_linear` computes that layer per
    node and gathers the results, which is exact and cheaper:

    .. math::
        \mathbf{W}[\mathbf{h}_i, \mathbf{h}_j] + \mathbf{b} =
        (\mathbf{W}_s \mathbf{h}_i + \mathbf{b}) + \mathbf{W}_r \mathbf{h}_j

    Args:
        aggr (str, optional): The edge-to-node aggregation, ``"sum"`` (as in
            the paper) or ``"mean"``. (default: ``"sum"``)
        checkpoint (bool, optional): If set to :obj:`True`,
            :meth:`aggregate_messages` keeps no per-edge activations for the
            backward pass but recomputes them
            (:func:`torch.utils.checkpoint.checkpoint`). (default: :obj:`False`)
        checkpoint_chunk_size (int, optional): With ``checkpoint=True``, the
            number of edges whose activations are recomputed at once; bounds
            the transient memory by the chunk instead of the graph. Needs
            ``aggr="sum"``. (default: chosen from ``checkpoint_memory``,
            :meth:`chunk_edges`)
        checkpoint_memory (int, optional): With ``checkpoint=True`` and no
            ``checkpoint_chunk_size``, the budget in bytes of the per-edge
            tensors of one chunk: the chunk size is chosen at each call from
            the sizes of the tensors passed (:meth:`chunk_edges`), so that
            the transient memory of a step stays within it whatever the
            graph. (default: :obj:`268435456`, 256 MiB)
        skip_no_edges (bool, optional): If set to :obj:`True`,
            :meth:`message_edges` drops the edges that send nothing. Needs
            ``aggr="sum"``. (default: :obj:`False`)
    """
    def __init__(self, aggr: str = "sum", checkpoint: bool = False,
                 checkpoint_chunk_size: Optional[int] = None,
                 skip_no_edges: bool = False,
                 checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY) -> None:
        if aggr not in ("sum", "mean"):
            raise ValueError(f"'aggr' must be 'sum' or 'mean', got {aggr!r}")
        if (isinstance(checkpoint_memory, bool) or not isinstance(checkpoint_memory, Real)
                or not 0 < checkpoint_memory < math.inf):
            raise ValueError(f"'checkpoint_memory' must be a positive number of bytes "
                             f"(default: {DEFAULT_CHECKPOINT_MEMORY}, 256 MiB), got "
                             f"{checkpoint_memory!r}")
        if checkpoint_chunk_size is not None:
            if checkpoint_chunk_size < 1:
                raise ValueError(f"'checkpoint_chunk_size' must be at least 1, "
                                 f"got {checkpoint_chunk_size}")
            # A mean over a chunk of a receiver's edges is not a part of its mean.
            if aggr != "sum":
                raise ValueError(f"'checkpoint_chunk_size' needs aggr='sum', got {aggr!r}")
        # Dropping zero-weight edges changes each receiver's count in a mean.
        if skip_no_edges and aggr != "sum":
            raise ValueError(f"'skip_no_edges' needs aggr='sum', got {aggr!r}")
        super().__init__(aggr=aggr, node_dim=0)
        self.checkpoint = checkpoint
        self.checkpoint_chunk_size = checkpoint_chunk_size
        self.checkpoint_memory = checkpoint_memory
        self.skip_no_edges = skip_no_edges

    def node_to_edge(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""Returns ``[x[senders], x[receivers]]`` concatenated along the last
        dimension: ``[N, ..., F] -> [E, ..., 2F]``."""
        return self.edge_updater(edge_index, x=x)

    def pair_projection(self, x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
        r"""The sender and receiver parts of a linear layer on
        :math:`[\mathbf{x}_i, \mathbf{x}_j]`, per node:
        ``[N, ..., C] -> [N, ..., 2, H]``, where ``[..., 0, :]`` is
        :math:`\mathbf{W}_s \mathbf{x} + \mathbf{b}` and ``[..., 1, :]`` is
        :math:`\mathbf{W}_r \mathbf{x}`, for ``weight`` ``[H, 2C (+ C_e)]``
        whose first :math:`2C` columns are :math:`[\mathbf{W}_s, \mathbf{W}_r]`
        (the rest, for edge features, are not used here). Gathered onto the
        edges by :meth:`gather_pairs`."""
        channels, out_channels = x.size(-1), weight.size(0)
        # [H, 2C] -> [2H, C]: both parts in one matrix multiply.
        pair_weight = weight[:, :2 * channels].reshape(out_channels, 2, channels)
        pair_weight = pair_weight.transpose(0, 1).reshape(2 * out_channels, channels)
        pair_bias = None if bias is None else torch.cat([bias, torch.zeros_like(bias)])
        return F.linear(x, pair_weight, pair_bias).unflatten(-1, (2, out_channels))

    def gather_pairs(self, projection: Tensor, edge_index: Tensor) -> Tensor:
        r"""Each edge's sum of its sender's and its receiver's part of a
        :meth:`pair_projection`: ``[N, ..., 2, H] -> [E, ..., H]``."""
        return (projection[..., 0, :].index_select(0, edge_index[0])
                + projection[..., 1, :].index_select(0, edge_index[1]))

    def node_to_edge_linear(self, x: Tensor, edge_index: Tensor, weight: Tensor,
                            bias: Optional[Tensor] = None,
                            edge_attr: Optional[Tensor] = None) -> Tensor:
        r"""A linear layer on each edge's features
        :math:`[\mathbf{x}_i, \mathbf{x}_j, \mathbf{e}_{ij}]` (``edge_attr``,
        optional, last), ``F.linear(torch.cat([node_to_edge(x), edge_attr],
        -1), weight, bias)``, computed as
        :math:`(\mathbf{W}_s \mathbf{x}_i + \mathbf{b}) + \mathbf{W}_r
        \mathbf{x}_j + \mathbf{W}_e \mathbf{e}_{ij}`: the node parts once per
        node (:meth:`pair_projection`) and gathered (:meth:`gather_pairs`).
        The same result up to rounding, for :math:`O(N C H + E H)` work
        instead of :math:`O(E C H)`: faster where :math:`C` is a hidden size
        (measured in ``benchmarks/throughput.py``); for a few raw features the
        concatenation is cheaper. ``[N, ..., C] -> [E, ..., H]``."""
        out = self.gather_pairs(self.pair_projection(x, weight, bias), edge_index)
        if edge_attr is not None:
            out = out + F.linear(edge_attr, weight[:, 2 * x.size(-1):])
        return out

    def run_edge_mlp(self, mlp: Module, x: Tensor, edge_index: Tensor,
                 edge_attr: Optional[Tensor] = None) -> Tensor:
        r"""An :class:`~torch_nri.nn.MLPBlock` on each edge's
        :math:`[\mathbf{x}_i, \mathbf{x}_j, \mathbf{e}_{ij}]`, its first layer
        computed by :meth:`node_to_edge_linear`."""
        return mlp.from_first_layer(self.node_to_edge_linear(
            x, edge_index, mlp.lin1.weight, mlp.lin1.bias, edge_attr))

    def edge_update(self, x_j: Tensor, x_i: Tensor) -> Tensor:
        # PyG's source_to_target flow: x_j is the sender, x_i the receiver.
        return torch.cat([x_j, x_i], dim=-1)

    def edge_to_node(self, edge_attr: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
        r"""Aggregates edge features at their receivers:
        ``[E, ..., F] -> [num_nodes, ..., F]``."""
        return self.propagate(edge_index, edge_attr=edge_attr,
                              size=(num_nodes, num_nodes))

    def aggregate_chunks(self, parts: Iterable[Tuple[Tensor, Tensor]], num_nodes: int) -> Tensor:
        r"""The aggregate at their receivers of the per-edge outputs of
        chunks of edges, ``[N, ...]``, from pairs (``edge_index`` of the
        chunk ``[2, c]``, its output ``[c, ...]``). With ``aggr="sum"`` each
        chunk's output is added into one result in place as it comes
        (:meth:`torch.Tensor.index_put_` with ``accumulate=True``, whose
        backward pass keeps only the receivers, where ``index_add_`` would
        keep the chunk's output too), so that one chunk's per-edge output
        exists at a time; no chunk builds a node-sized
        partial (with :math:`E / c` chunks that would be :math:`O(N E / c)`
        work per step, which at :math:`10^5` objects outweighed the edges'
        own) and none needs its receivers' range read back to the host, so
        the edges may come in any order. Any other aggregation takes one
        chunk of all edges: a mean over part of a receiver's edges is not a
        part of its mean."""
        if self.aggr != "sum":
            (edge_index, part), = parts
            return self.edge_to_node(part, edge_index, num_nodes)
        out: Optional[Tensor] = None
        for edge_index, part in parts:
            if out is None:
                out = part.new_zeros((num_nodes, *part.shape[1:]))
            out.index_put_((edge_index[1],), part, accumulate=True)
        assert out is not None, "no chunks"
        return out

    def message_edges(self, edge_index: Tensor, edge_weights: Tensor,
                      first_message_type: int) -> Tuple[Tensor, Tensor]:
        r"""The edges that pass messages and their weights: all of them, or
        with ``skip_no_edges=True`` those with a non-zero weight on a type from
        ``first_message_type`` on (:func:`drop_silent_edges`). How many edges
        remain is known only from their weights' values: on the CPU, where
        reading it costs nothing, they are dropped; on other devices, and
        while :func:`torch.compile` traces, every edge stays with the silent
        ones' weights detached (:func:`silence_edges`), so that a step reads
        nothing back and keeps the shapes of the graph. Outputs and gradients
        are the same either way; only the CPU saves the work."""
        if not self.skip_no_edges:
            return edge_index, edge_weights
        if edge_weights.device.type == "cpu" and not torch.compiler.is_compiling():
            return drop_silent_edges(edge_index, edge_weights, first_message_type)
        return edge_index, silence_edges(edge_weights, first_message_type)

    def aggregate_messages(self, message: MessageFn, x: Tensor, edge_index: Tensor,
                           edge_weights: Tensor,
                           edge_features: Optional[EdgeFeaturesFn] = None,
                           message_width: Optional[int] = None) -> Tensor:
        r"""One message-passing round, node states to aggregated messages:

        .. math::
            \mathbf{m}_j = \bigoplus_{i \in \mathcal{N}(j)}
            f\big([\mathbf{x}_i, \mathbf{x}_j], \mathbf{z}_{ij}\big)

        for a message function ``message(edge_features, edge_weights)``.
        ``edge_features(x, edge_index)`` builds the edge features from the
        node tensor ``x``: :meth:`node_to_edge` by default, or
        :meth:`gather_pairs` where ``x`` is a :meth:`pair_projection` (a
        message function that starts with that linear layer).
        With ``checkpoint=True``, everything of size :math:`E` in it (the
        gathered features, the message MLP's activations, the messages) is
        freed after the forward pass and recomputed in the backward pass,
        chunk by chunk, so that what is kept per step is of size :math:`N`
        (the result). The chunk is ``checkpoint_chunk_size`` edges, or else
        as many as fit in ``checkpoint_memory`` (:meth:`chunk_edges`, from
        the shapes of the tensors passed and ``message_width``); without
        gradients (evaluation) the edges run in the same chunks, with nothing
        to recompute. Dropout masks are replayed, so gradients are identical
        to those without checkpointing; chunks draw their masks chunk by
        chunk (from the same distribution).

        Args:
            message (callable): The message function.
            x (torch.Tensor): Node tensor ``[N, ..., C_x]``.
            edge_index (torch.Tensor): Edges ``[2, E]``.
            edge_weights (torch.Tensor): Edge type weights ``[E, K]``.
            edge_features (callable, optional): Edge features from ``x``.
                (default: :meth:`node_to_edge`)
            message_width (int, optional): The elements per row of edge
                features that ``message`` holds at once at the peak of a
                chunk's backward pass, the gradient of its output included
                (:meth:`~torch_nri.nn.EdgeTypeMLP.transient_width`), for the
                automatic chunk size. (default: that of an
                :class:`~torch_nri.nn.EdgeTypeMLP` given as ``message`` or
                by its ``from_first_layer``, else :math:`8 C`, for a
                message function about as wide as its input)
        """
        num_nodes, num_edges = x.size(0), edge_index.size(1)
        edge_features = edge_features or self.node_to_edge
        if not self.checkpoint:
            return self.edge_to_node(message(edge_features(x, edge_index), edge_weights),
                                     edge_index, num_nodes)
        chunk = self.checkpoint_chunk_size
        if chunk is None:
            # A mean over a chunk of a receiver's edges is not a part of its mean.
            chunk = (self._automatic_chunk(message, edge_features, x, edge_index,
                                           edge_weights, message_width)
                     if self.aggr == "sum" else max(num_edges, 1))
        # split, not slices: one gradient of the edge weights for all chunks
        # (a slice's backward would write a zero-filled [E, K] per chunk).
        index_chunks = edge_index.split(chunk, dim=1)
        messages = self.run_chunks(_edge_messages, zip(index_chunks, edge_weights.split(chunk)),
                                   message, edge_features, x)
        return self.aggregate_chunks(zip(index_chunks, messages), num_nodes)

    def run_chunks(self, fn: Callable[..., Any], chunks: Iterable[Sequence[Any]],
                   *shared: Any) -> Iterator[Any]:
        r"""Yields ``fn(*shared, *chunk)`` for every chunk, each under
        :func:`torch.utils.checkpoint.checkpoint` while gradients are on (its
        activations are recomputed in the backward pass, so only its inputs
        and outputs are kept), plainly otherwise. A generator, so that the
        caller can reduce each output before the next chunk runs. Dropout
        masks are replayed in the recomputation. The first checkpointed
        chunk of the process sets glibc's mmap threshold, so that freed
        chunk buffers in host memory go back to the system
        (:func:`torch_nri._allocator.limit_mmap_threshold`)."""
        if not torch.is_grad_enabled():
            for chunk in chunks:
                yield fn(*shared, *chunk)
            return
        if not torch.compiler.is_compiling() and any(
                isinstance(t, Tensor) and t.device.type == "cpu" for t in shared):
            limit_mmap_threshold()  # host memory only; a C call that compiled code cannot hold
        for chunk in chunks:
            yield run_checkpointed(fn, *shared, *chunk, use_reentrant=False)

    def map_nodes(self, fn: Callable[..., Tensor], tensors: Sequence[Tensor],
                  width: int) -> Tensor:
        r"""``fn(*tensors)`` for a node-wise ``fn`` (each node's output
        depends on its own rows only) over node tensors ``[N, *, C_i]``; with
        ``checkpoint=True`` in checkpointed chunks of nodes
        (:meth:`run_chunks`), each within ``checkpoint_memory`` at ``width``
        elements per row (what ``fn`` holds at once per row, its gradients
        included), so that only the inputs and the output are kept. The
        decoders' output MLPs run so: on 10^6 objects their activations over
        a rollout would not fit in memory. With dropout, chunks draw their
        masks chunk by chunk."""
        if not self.checkpoint:
            return fn(*tensors)
        first = tensors[0]
        rows = math.prod(first.shape[1:-1])
        chunk = self.chunk_rows(rows * width * first.element_size())
        return torch.cat(list(self.run_chunks(fn, zip(*(t.split(chunk) for t in tensors)))))

    def chunk_rows(self, bytes_per_row: float) -> int:
        r"""The rows (edges or nodes) of one chunk whose tensors take
        ``bytes_per_row`` each: as many as fit in ``checkpoint_memory``, at
        least one."""
        return max(1, int(self.checkpoint_memory // max(bytes_per_row, 1)))

    @staticmethod
    def chunk_edges(memory: float, rows: int, channels: int, message_width: int,
                    num_edge_types: int, element_size: int) -> int:
        r"""The edges of one chunk of :meth:`aggregate_messages` with
        ``checkpoint=True`` and no ``checkpoint_chunk_size``: as many as
        fit in ``memory`` bytes (``checkpoint_memory``), at least one,

        .. math::
            c = \max\left(1, \left\lfloor \frac{M}{s \,\big(R\,
            \max(3C, w) + 4K\big)} \right\rfloor\right)

        where, per edge, :math:`R` (``rows``) is the product of the
        dimensions between the edge and the feature dimensions of the edge
        features (the segment starts of a teacher-forced rollout, ...),
        :math:`C` (``channels``) their width, :math:`w`
        (``message_width``) what the message function holds at once per row
        at the peak of a chunk's backward pass
        (:meth:`~torch_nri.nn.EdgeTypeMLP.transient_width`: for NRI's
        message MLPs of :math:`K'` types, hidden size :math:`H` and messages
        of size :math:`O`, :math:`w = C + K' H + O + 3 K' \max(H, O)`),
        :math:`K` (``num_edge_types``) the edge types, and :math:`s`
        (``element_size``) the bytes of an element of the edge features.
        :math:`3C` is the gathering of the edge features (the sender and
        receiver parts and their concatenation or sum, freed before the
        message function's peak), :math:`4K` the chunk's edge weights and
        their gradients. Node-sized tensors (the gradient of ``x``, the
        result) are not counted, nor the edge weights' gradient ``[E, K]``
        of the whole graph. Under :func:`torch.autocast` the activations are
        narrower than :math:`s` says, so the bound holds with room to spare.

        For the N = 100 system of :doc:`/benchmarks` (batch 8, 79,200 edges,
        :math:`R = 5` segment starts, :math:`C = 8`, :math:`K = K' = 2`,
        :math:`H = O = 256`, float32), :math:`w = 2{,}312` and the default
        256 MiB gives chunks of 5,801 edges."""
        per_edge = element_size * (rows * max(3 * channels, message_width)
                                   + 4 * num_edge_types)
        return max(1, int(memory // max(per_edge, 1)))

    def _automatic_chunk(self, message: MessageFn, edge_features: EdgeFeaturesFn, x: Tensor,
                         edge_index: Tensor, edge_weights: Tensor,
                         message_width: Optional[int]) -> int:
        # The edge features of no edge: their shape per edge and dtype, for
        # no work and no host sync.
        with torch.no_grad():
            probe = edge_features(x, edge_index[:, :0])
        channels = probe.size(-1)
        if message_width is None:
            message_width = default_message_width(message, channels)
        return self.chunk_edges(self.checkpoint_memory, math.prod(probe.shape[1:-1]), channels,
                                message_width, edge_weights.size(-1), probe.element_size())

    def message(self, edge_attr: Tensor) -> Tensor:
        return edge_attr

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(aggr={self.aggr!r})"



def _edge_messages(message: MessageFn, edge_features: EdgeFeaturesFn, x: Tensor,
                   edge_index: Tensor, edge_weights: Tensor) -> Tensor:
    # One chunk of aggregate_messages: the messages of its edges.
    return message(edge_features(x, edge_index), edge_weights)


def default_message_width(message: MessageFn, channels: int) -> int:
    r"""The ``message_width`` of :meth:`NRIMessagePassing.aggregate_messages`
    when none is given: :meth:`~torch_nri.nn.EdgeTypeMLP.transient_width` of
    an :class:`~torch_nri.nn.EdgeTypeMLP` given as the message function or by
    its ``from_first_layer``, else :math:`8 C` for edge features of width
    :math:`C`."""
    from torch_nri.nn.edge_type_mlp import EdgeTypeMLP

    if isinstance(message, EdgeTypeMLP):
        return message.transient_width()
    owner = getattr(message, "__self__", None)
    if isinstance(owner, EdgeTypeMLP) and getattr(message, "__func__", None) \
            is EdgeTypeMLP.from_first_layer:
        return owner.transient_width(first_layer_given=True)
    return 8 * channels


def drop_silent_edges(edge_index: Tensor, edge_weights: Tensor,
                      first_message_type: int) -> Tuple[Tensor, Tensor]:
    r"""Removes the edges whose weights of all message-passing types
    (``edge_weights[..., first_message_type:]``; of every step for per-step
    weights ``[E, T, K]``) are exactly zero, such as hard
    samples of the "no edge" type 0. They send zero messages, so with sum
    aggregation the decoder's output is unchanged, and their per-edge work is
    saved. Their weights get no gradient: exact for evaluation, and with
    hard straight-through samples in training it drops the gradient that
    the straight-through estimator would pass to the unused types of
    those edges.

    Returns:
        (torch.Tensor, torch.Tensor): The kept ``edge_index`` and ``edge_weights``.
    """
    keep = _sending(edge_weights, first_message_type)
    return edge_index[:, keep], edge_weights[keep]


def silence_edges(edge_weights: Tensor, first_message_type: int) -> Tensor:
    r"""The edge weights of :func:`drop_silent_edges` without dropping
    anything: the weights of silent edges are detached, so that they get no
    gradient, as dropped edges would not, while every edge stays. The
    decoder's output and every gradient are those of
    :func:`drop_silent_edges`; the shapes do not depend on the values, so
    there is nothing to read back to the host (but no work is saved)."""
    return torch.where(_sending(edge_weights, first_message_type).view(
        -1, *[1] * (edge_weights.dim() - 1)), edge_weights, edge_weights.detach())


def _sending(edge_weights: Tensor, first_message_type: int) -> Tensor:
    # Per-step weights [E, T, K]: an edge is silent only if it is at every step.
    return edge_weights[..., first_message_type:].ne(0).flatten(1).any(dim=-1)
