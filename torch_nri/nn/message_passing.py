from typing import Callable, Optional, Tuple

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint as run_checkpointed
from torch_geometric.nn import MessagePassing

# An edge-type-weighted message function: (edge features, edge weights) -> messages.
MessageFn = Callable[[Tensor, Tensor], Tensor]


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
    message function and can trade compute for memory.

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
            ``aggr="sum"``. (default: all edges at once)
        skip_no_edges (bool, optional): If set to :obj:`True`,
            :meth:`message_edges` drops the edges that send nothing. Needs
            ``aggr="sum"``. (default: :obj:`False`)
    """
    def __init__(self, aggr: str = "sum", checkpoint: bool = False,
                 checkpoint_chunk_size: Optional[int] = None,
                 skip_no_edges: bool = False) -> None:
        if aggr not in ("sum", "mean"):
            raise ValueError(f"'aggr' must be 'sum' or 'mean', got {aggr!r}")
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
        self.skip_no_edges = skip_no_edges

    def node_to_edge(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""Returns ``[x[senders], x[receivers]]`` concatenated along the last
        dimension: ``[N, ..., F] -> [E, ..., 2F]``."""
        return self.edge_updater(edge_index, x=x)

    def edge_update(self, x_j: Tensor, x_i: Tensor) -> Tensor:
        # PyG's source_to_target flow: x_j is the sender, x_i the receiver.
        return torch.cat([x_j, x_i], dim=-1)

    def edge_to_node(self, edge_attr: Tensor, edge_index: Tensor,
                     num_nodes: int) -> Tensor:
        r"""Aggregates edge features at their receivers:
        ``[E, ..., F] -> [num_nodes, ..., F]``."""
        return self.propagate(edge_index, edge_attr=edge_attr,
                              size=(num_nodes, num_nodes))

    def message_edges(self, edge_index: Tensor, edge_weights: Tensor,
                      first_message_type: int) -> Tuple[Tensor, Tensor]:
        r"""The edges that pass messages and their weights: all of them, or
        with ``skip_no_edges=True`` those with a non-zero weight on a type from
        ``first_message_type`` on (:func:`drop_silent_edges`)."""
        if not self.skip_no_edges:
            return edge_index, edge_weights
        return drop_silent_edges(edge_index, edge_weights, first_message_type)

    def aggregate_messages(self, message: MessageFn, x: Tensor, edge_index: Tensor,
                           edge_weights: Tensor) -> Tensor:
        r"""One message-passing round, node states to aggregated messages:

        .. math::
            \mathbf{m}_j = \bigoplus_{i \in \mathcal{N}(j)}
            f\big([\mathbf{x}_i, \mathbf{x}_j], \mathbf{z}_{ij}\big)

        for a message function ``message(edge_features, edge_weights)``.
        With ``checkpoint=True``, everything of size :math:`E` in it (the
        gathered features, the message MLP's activations, the messages) is
        freed after the forward pass and recomputed in the backward pass,
        ``checkpoint_chunk_size`` edges at a time, so that what is kept per
        step is of size :math:`N` (the result). Dropout masks are replayed,
        so gradients are identical to those without checkpointing; chunks
        draw their masks chunk by chunk (from the same distribution).
        """
        num_nodes = x.size(0)
        if not (self.checkpoint and torch.is_grad_enabled()):
            return self._aggregate_messages(message, x, edge_index, edge_weights, num_nodes)
        chunk = self.checkpoint_chunk_size or max(edge_index.size(1), 1)
        out: Optional[Tensor] = None
        for start in range(0, max(edge_index.size(1), 1), chunk):
            part = run_checkpointed(self._aggregate_messages, message, x,
                                    edge_index[:, start:start + chunk],
                                    edge_weights[start:start + chunk], num_nodes,
                                    use_reentrant=False)
            out = part if out is None else out + part
        return out

    def _aggregate_messages(self, message: MessageFn, x: Tensor, edge_index: Tensor,
                            edge_weights: Tensor, num_nodes: int) -> Tensor:
        return self.edge_to_node(message(self.node_to_edge(x, edge_index), edge_weights),
                                 edge_index, num_nodes)

    def message(self, edge_attr: Tensor) -> Tensor:
        return edge_attr

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(aggr={self.aggr!r})"



def drop_silent_edges(edge_index: Tensor, edge_weights: Tensor,
                      first_message_type: int) -> Tuple[Tensor, Tensor]:
    r"""Removes the edges whose weights of all message-passing types
    (``edge_weights[:, first_message_type:]``) are exactly zero, such as hard
    samples of the "no edge" type 0. They send zero messages, so with sum
    aggregation the decoder's output is unchanged, and their per-edge work is
    saved. Their weights get no gradient: exact for evaluation, and with
    hard straight-through samples in training it drops the gradient that
    the straight-through estimator would pass to the unused types of
    those edges.

    Returns:
        (torch.Tensor, torch.Tensor): The kept ``edge_index`` and ``edge_weights``.
    """
    keep = edge_weights[:, first_message_type:].ne(0).any(dim=-1)
    return edge_index[:, keep], edge_weights[keep]
