import math
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module
from torch_geometric.nn import MessagePassing

from torch_nri.graphs import check_position_features
from torch_nri.nn.chunking import (DEFAULT_CHECKPOINT_MEMORY, Chunking, mean_at_receivers,
                                   sum_at_receivers)

# An edge-type-weighted message function: (edge features, edge weights) -> messages.
MessageFn = Callable[[Tensor, Tensor], Tensor]
# Each edge's input from a node tensor: (node tensor, edge_index) -> edge features.
EdgeFeaturesFn = Callable[[Tensor, Tensor], Tensor]


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

    where :math:`\bigoplus` is a sum (the paper's choice) or a mean. With
    ``position_features`` declared, the pair's features are translation
    invariant,

    .. math::
        \mathbf{h}_{(i,j)} = [\tilde{\mathbf{x}}_i, \tilde{\mathbf{x}}_j,
        \mathbf{p}_j - \mathbf{p}_i]

    where :math:`\tilde{\mathbf{x}}` are the features with the positions
    :math:`\mathbf{p}` zeroed (:meth:`pair_features`). The
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
            the transient memory by the chunk instead of the graph.
            (default: chosen from ``checkpoint_memory``, :meth:`edge_bytes`)
        checkpoint_memory (int, optional): With ``checkpoint=True`` and no
            ``checkpoint_chunk_size``, the budget in bytes of the per-edge
            tensors of one chunk: the chunk size is chosen at each call from
            the sizes of the tensors passed (:meth:`edge_bytes`), so that
            the transient memory of a step stays within it whatever the
            graph; without gradients (evaluation) the same budget chunks the
            work whatever ``checkpoint`` says
            (:class:`~torch_nri.nn.chunking.Chunking`).
            (default: :obj:`268435456`, 256 MiB)
        skip_no_edges (bool, optional): If set to :obj:`True`,
            :meth:`message_edges` drops the edges that send nothing. Needs
            ``aggr="sum"``. (default: :obj:`False`)
        position_features (sequence of int, optional): The features that
            are coordinates (e.g. ``[0, 1]`` for :math:`x, y`). Edge
            functions then see each pair's relative position and the other
            features (:meth:`pair_features`), node functions no absolute
            position (:meth:`node_inputs`), so that the layer is invariant
            to a translation of every position: a deviation from the papers,
            whose springs and charges bounce off walls at fixed positions.
            Measured there all the same (docs, Fidelity): better on springs
            (the demo's choice), no better on charges, with a larger MSE.
            (default: :obj:`None`)
    """
    def __init__(self, aggr: str = "sum", checkpoint: bool = False,
                 checkpoint_chunk_size: Optional[int] = None,
                 skip_no_edges: bool = False,
                 checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY,
                 position_features: Optional[Sequence[int]] = None) -> None:
        if aggr not in ("sum", "mean"):
            raise ValueError(f"'aggr' must be 'sum' or 'mean', got {aggr!r}")
        Chunking(checkpoint, checkpoint_chunk_size, checkpoint_memory)  # checks them
        # Dropping zero-weight edges changes each receiver's count in a mean.
        if skip_no_edges and aggr != "sum":
            raise ValueError(f"'skip_no_edges' needs aggr='sum', got {aggr!r}")
        super().__init__(aggr=aggr, node_dim=0)
        self.checkpoint = checkpoint
        self.checkpoint_chunk_size = checkpoint_chunk_size
        self.checkpoint_memory = checkpoint_memory
        self.skip_no_edges = skip_no_edges
        check_position_features(position_features)
        self.position_features = (None if position_features is None
                                  else [int(i) for i in position_features])
        # On the layer's device, so that selecting them copies nothing from the host.
        self.register_buffer("position_index", None if self.position_features is None
                             else torch.tensor(self.position_features), persistent=False)

    @property
    def chunking(self) -> Chunking:
        r"""The layer's :class:`~torch_nri.nn.chunking.Chunking`, from its
        ``checkpoint``, ``checkpoint_chunk_size`` and ``checkpoint_memory``."""
        return Chunking(self.checkpoint, self.checkpoint_chunk_size, self.checkpoint_memory)

    def check_positions(self, x: Tensor, ndim: Optional[int] = None) -> None:
        r"""Raises unless ``x`` has the features that ``position_features``
        names (and, given ``ndim``, that many dimensions)."""
        if self.position_features is None:
            return
        if ndim is not None and x.dim() != ndim:
            raise ValueError(f"with 'position_features' {self.position_features}, 'x' must "
                             f"have {ndim} dimensions (the features last), got shape "
                             f"{tuple(x.shape)}")
        check_position_features(self.position_features, x.size(-1),
                                f" of 'x' (shape {tuple(x.shape)})")

    def memory_options(self) -> List[str]:
        r"""The memory and input options that differ from their defaults, as
        ``name=value`` for a layer's ``__repr__``."""
        options = []
        if self.checkpoint:
            options.append("checkpoint=True")
        if self.checkpoint_chunk_size is not None:
            options.append(f"checkpoint_chunk_size={self.checkpoint_chunk_size}")
        if self.checkpoint_memory != DEFAULT_CHECKPOINT_MEMORY:
            options.append(f"checkpoint_memory={self.checkpoint_memory}")
        if self.skip_no_edges:
            options.append("skip_no_edges=True")
        if self.position_features is not None:
            options.append(f"position_features={self.position_features}")
        return options

    def node_inputs(self, x: Tensor) -> Tensor:
        r"""What a node's own update may read of its features ``[N, ..., F]``:
        all of them, or, with ``position_features``, all with the positions
        zeroed (absolute positions say nothing in a translation-invariant
        model; zeroing keeps the width :math:`F`, so layer sizes do not
        depend on which features are positions)."""
        if self.position_index is None:
            return x
        return x.index_fill(-1, self.position_index, 0.0)

    def relative_positions(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""Each edge's relative position :math:`\mathbf{p}_j - \mathbf{p}_i`
        (receiver minus sender) as ``[E, ..., F]``: the position features
        of the difference, every other feature zero. Needs
        ``position_features``."""
        positions = self.positions_of(x)
        return positions.index_select(0, edge_index[1]) - positions.index_select(0, edge_index[0])

    def pair_features(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""The input of an edge function on :math:`i \rightarrow j`:
        :math:`[\mathbf{x}_i, \mathbf{x}_j]` (:meth:`node_to_edge`),
        ``[E, ..., 2F]``; with ``position_features``, translation invariant,
        :math:`[\tilde{\mathbf{x}}_i, \tilde{\mathbf{x}}_j,
        \mathbf{p}_j - \mathbf{p}_i]` (:meth:`node_inputs`,
        :meth:`relative_positions`), ``[E, ..., 3F]``."""
        if self.position_index is None:
            return self.node_to_edge(x, edge_index)
        return torch.cat([self.node_to_edge(self.node_inputs(x), edge_index),
                          self.relative_positions(x, edge_index)], dim=-1)

    @property
    def pair_factor(self) -> int:
        r"""The width of :meth:`pair_features` in node features: 2, or 3
        with ``position_features``."""
        return 2 if self.position_features is None else 3

    def node_to_edge(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""Returns ``[x[senders], x[receivers]]`` concatenated along the last
        dimension: ``[N, ..., F] -> [E, ..., 2F]``."""
        return self.edge_updater(edge_index, x=x)

    def pair_projection(self, x: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                        positions: Optional[Tensor] = None) -> Tensor:
        r"""The sender and receiver parts of a linear layer on
        :math:`[\mathbf{x}_i, \mathbf{x}_j]`, per node:
        ``[N, ..., C] -> [N, ..., 2, H]``, where ``[..., 0, :]`` is
        :math:`\mathbf{W}_s \mathbf{x} + \mathbf{b}` and ``[..., 1, :]`` is
        :math:`\mathbf{W}_r \mathbf{x}`, for ``weight`` ``[H, 2C (+ C_e)]``
        whose first :math:`2C` columns are :math:`[\mathbf{W}_s, \mathbf{W}_r]`
        (the rest, for edge features, are not used here). Gathered onto the
        edges by :meth:`gather_pairs`.

        With ``positions`` :math:`\mathbf{P}` ``[N, ..., C_p]``, the next
        :math:`C_p` columns :math:`\mathbf{W}_p` read the pair's relative
        position :math:`\mathbf{P}_j - \mathbf{P}_i`, linear, so that it too
        is computed per node: :math:`-\mathbf{W}_p \mathbf{P}` joins the
        sender's part and :math:`\mathbf{W}_p \mathbf{P}` the receiver's
        (no per-edge tensor of relative positions is ever built)."""
        channels, out_channels = x.size(-1), weight.size(0)
        # [H, 2C] -> [2H, C]: both parts in one matrix multiply.
        pair_weight = weight[:, :2 * channels].reshape(out_channels, 2, channels)
        pair_weight = pair_weight.transpose(0, 1).reshape(2 * out_channels, channels)
        pair_bias = None if bias is None else torch.cat([bias, torch.zeros_like(bias)])
        out = F.linear(x, pair_weight, pair_bias).unflatten(-1, (2, out_channels))
        if positions is None:
            return out
        relative = F.linear(positions, weight[:, 2 * channels:2 * channels + positions.size(-1)])
        return out + torch.stack([-relative, relative], dim=-2)

    def gather_pairs(self, projection: Tensor, edge_index: Tensor) -> Tensor:
        r"""Each edge's sum of its sender's and its receiver's part of a
        :meth:`pair_projection`: ``[N, ..., 2, H] -> [E, ..., H]``."""
        return (projection[..., 0, :].index_select(0, edge_index[0])
                + projection[..., 1, :].index_select(0, edge_index[1]))

    def node_to_edge_linear(self, x: Tensor, edge_index: Tensor, weight: Tensor,
                            bias: Optional[Tensor] = None,
                            edge_attr: Optional[Tensor] = None,
                            positions: Optional[Tensor] = None) -> Tensor:
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
        concatenation is cheaper. With ``positions``, the relative position
        :math:`\mathbf{P}_j - \mathbf{P}_i` is read by the columns after
        :math:`2C` and before those of ``edge_attr``
        (:meth:`pair_projection`). ``[N, ..., C] -> [E, ..., H]``."""
        out = self.gather_pairs(self.pair_projection(x, weight, bias, positions), edge_index)
        if edge_attr is not None:
            first = 2 * x.size(-1) + (0 if positions is None else positions.size(-1))
            out = out + F.linear(edge_attr, weight[:, first:])
        return out

    def run_edge_mlp(self, mlp: Module, x: Tensor, edge_index: Tensor,
                     edge_attr: Optional[Tensor] = None,
                     positions: Optional[Tensor] = None) -> Tensor:
        r"""An :class:`~torch_nri.nn.MLPBlock` on each edge's
        :math:`[\mathbf{x}_i, \mathbf{x}_j, \mathbf{e}_{ij}]` (and, with
        ``positions``, the relative position), its first layer computed by
        :meth:`node_to_edge_linear`."""
        return mlp.from_first_layer(self.node_to_edge_linear(
            x, edge_index, mlp.lin1.weight, mlp.lin1.bias, edge_attr, positions))

    def positions_of(self, x: Tensor) -> Optional[Tensor]:
        r"""The position features of ``x`` ``[N, ..., F]`` with every other
        feature zero (so the width stays :math:`F`), or :obj:`None` without
        ``position_features``: what :meth:`pair_projection` takes as
        ``positions``."""
        return None if self.position_index is None else x - self.node_inputs(x)

    def edge_update(self, x_j: Tensor, x_i: Tensor) -> Tensor:
        # PyG's source_to_target flow: x_j is the sender, x_i the receiver.
        return torch.cat([x_j, x_i], dim=-1)

    def edge_to_node(self, edge_attr: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
        r"""Aggregates edge features at their receivers:
        ``[E, ..., F] -> [num_nodes, ..., F]``."""
        return self.propagate(edge_index, edge_attr=edge_attr,
                              size=(num_nodes, num_nodes))

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
        node tensor ``x``: :meth:`pair_features` by default (the pair, with
        ``position_features`` translation invariant), or
        :meth:`gather_pairs` where ``x`` is a :meth:`pair_projection` (a
        message function that starts with that linear layer).
        With ``checkpoint=True``, everything of size :math:`E` in it (the
        gathered features, the message MLP's activations, the messages) is
        freed after the forward pass and recomputed in the backward pass,
        chunk by chunk, so that what is kept per step is of size :math:`N`
        (the result). The chunk is ``checkpoint_chunk_size`` edges, or else
        as many as fit in ``checkpoint_memory`` (:meth:`edge_bytes`, from
        the shapes of the tensors passed and ``message_width``); without
        gradients (evaluation) the edges run in chunks of that budget
        whatever ``checkpoint`` says, with nothing to recompute
        (:class:`~torch_nri.nn.chunking.Chunking`). Dropout masks are
        replayed, so gradients are identical to those without
        checkpointing; chunks draw their masks chunk by chunk (from the same
        distribution).

        Args:
            message (callable): The message function.
            x (torch.Tensor): Node tensor ``[N, ..., C_x]``.
            edge_index (torch.Tensor): Edges ``[2, E]``.
            edge_weights (torch.Tensor): Edge type weights ``[E, K]``.
            edge_features (callable, optional): Edge features from ``x``.
                (default: :meth:`pair_features`)
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
        edge_features = edge_features or self.pair_features
        chunk = self.chunking.rows(num_edges, lambda: self._edge_bytes(
            message, edge_features, x, edge_weights, message_width))
        if chunk is None:
            return self.edge_to_node(message(edge_features(x, edge_index), edge_weights),
                                     edge_index, num_nodes)
        # split, not slices: one gradient of the edge weights for all chunks
        # (a slice's backward would write a zero-filled [E, K] per chunk).
        index_chunks = edge_index.split(chunk, dim=1)
        messages = self.chunking.run(_edge_messages, zip(index_chunks, edge_weights.split(chunk)),
                                     message, edge_features, x)
        return self.aggregate_chunks(zip(index_chunks, messages), num_nodes, edge_index[1])

    def aggregate_chunks(self, parts: Iterable[Tuple[Tensor, Tensor]], num_nodes: int,
                         receivers: Tensor) -> Tensor:
        r"""The aggregate at their receivers of the per-edge outputs of
        chunks of edges, ``[N, ...]``, from pairs (``edge_index`` of the
        chunk ``[2, c]``, its output ``[c, ...]``), added in place one chunk
        at a time: their sum (:func:`~torch_nri.nn.chunking.sum_at_receivers`),
        or mean, the sum divided by each node's in-degree among
        ``receivers`` (every chunk's, ``edge_index[1]``;
        :func:`~torch_nri.nn.chunking.mean_at_receivers`)."""
        if self.aggr == "sum":
            return sum_at_receivers(parts, num_nodes)
        return mean_at_receivers(parts, receivers, num_nodes)

    def map_nodes(self, fn: Callable[..., Tensor], tensors: Sequence[Tensor],
                  width: int) -> Tensor:
        r"""``fn(*tensors)`` for a node-wise ``fn`` (each node's output
        depends on its own rows only) over node tensors ``[N, *, C_i]``, in
        chunks of nodes where the layer's :attr:`chunking` runs any (with
        ``checkpoint=True`` checkpointed, so that only the inputs and the
        output are kept; without gradients within the budget), at ``width``
        elements per row (what ``fn`` holds at once per row, its gradients
        included). The decoders' output MLPs run so: on 10^6 objects their
        activations over a rollout would not fit in memory. With dropout,
        chunks draw their masks chunk by chunk."""
        first = tensors[0]
        chunk = self.chunking.rows(first.size(0), lambda: math.prod(
            first.shape[1:-1]) * width * first.element_size())
        if chunk is None:
            return fn(*tensors)
        return torch.cat(list(self.chunking.run(fn, zip(*(t.split(chunk) for t in tensors)))))

    @staticmethod
    def edge_bytes(rows: int, channels: int, message_width: int, num_edge_types: int,
                   element_size: int) -> int:
        r"""The bytes per edge of one chunk of :meth:`aggregate_messages`, by
        which its :attr:`chunking` sizes the chunks (as many edges as fit in
        ``checkpoint_memory``, :math:`M`):

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
        return element_size * (rows * max(3 * channels, message_width) + 4 * num_edge_types)

    def _edge_bytes(self, message: MessageFn, edge_features: EdgeFeaturesFn, x: Tensor,
                    edge_weights: Tensor, message_width: Optional[int]) -> int:
        # The edge features of no edge: their shape per edge and dtype, for
        # no work and no host sync.
        with torch.no_grad():
            probe = edge_features(x, x.new_zeros(2, 0, dtype=torch.long))
        channels = probe.size(-1)
        if message_width is None:
            message_width = default_message_width(message, channels)
        return self.edge_bytes(math.prod(probe.shape[1:-1]), channels, message_width,
                               edge_weights.size(-1), probe.element_size())

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

