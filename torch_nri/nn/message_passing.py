import torch
from torch import Tensor
from torch_geometric.nn import MessagePassing


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
    ``forward``.

    Args:
        aggr (str, optional): The edge-to-node aggregation, ``"sum"`` (as in
            the paper) or ``"mean"``. (default: ``"sum"``)
    """
    def __init__(self, aggr: str = "sum") -> None:
        if aggr not in ("sum", "mean"):
            raise ValueError(f"'aggr' must be 'sum' or 'mean', got {aggr!r}")
        super().__init__(aggr=aggr, node_dim=0)

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

    def message(self, edge_attr: Tensor) -> Tensor:
        return edge_attr

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(aggr={self.aggr!r})"

