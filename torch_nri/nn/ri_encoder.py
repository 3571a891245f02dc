from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Linear
from torch_geometric.utils import scatter

from torch_nri._validation import check_batch, check_sizes, values_checked
from torch_nri.graphs import GraphSizes, graph_sizes
from torch_nri.nn.chunking import DEFAULT_CHECKPOINT_MEMORY
from torch_nri.nn.mlp_encoder import MLPEncoder
from torch_nri.nn.set_sequence_model import SetSequenceModel

#: The sets the inter-edge model runs over (:class:`RIEncoder`'s ``inter_scope``).
INTER_SCOPES = ("graph", "neighbourhood")


class RIEncoder(MLPEncoder):
    r"""The relation interaction encoder of NRI-MPM (Chen et al., 2021,
    eqs. 8-18 and A4-A7). NRI's edge embeddings :math:`\mathbf{h}^2_{(i,j)}`
    (eqs. 8-11, :class:`MLPEncoder`) interact before the edge types are
    predicted, in :math:`O(E)`:

    .. math::
        \{\mathbf{e}^1_{(i,j)}\}_{i \in \mathcal{N}_j} &= \pi^{-1} \circ
        S_{intra} \circ \pi\big(\{\mathbf{h}^2_{(i,j)}\}_{i \in \mathcal{N}_j}\big)

        \mathbf{e}^1_j &= \mathrm{mean}_{i \in \mathcal{N}_j}\, \mathbf{e}^1_{(i,j)}

        \{\mathbf{e}^2_j\}_{j \in G} &= \pi^{-1} \circ S_{inter} \circ
        \pi\big(\{\mathbf{e}^1_j\}_{j \in G}\big)

        q_\phi(z_{ij} | \mathbf{x}) &= \mathrm{softmax}\big(
        \mathrm{MLP}([\mathbf{e}^1_{(i,j)}, \mathbf{e}^2_j])\big)

    The intra-edge model :math:`S_{intra}` runs over the incoming edges of
    each receiver, the inter-edge model :math:`S_{inter}` over the nodes of
    each graph :math:`G` of the batch, both as :class:`SetSequenceModel`
    (random order in training, mapped back by the inverse permutation; GRU as
    in the paper, or exactly equivariant self-attention). Receivers may have
    any in-degree and graphs any size. The output MLP is a linear layer, ELU
    and the output layer of :class:`MLPEncoder`.

    ``inter_scope="neighbourhood"`` runs :math:`S_{inter}` over each
    receiver's neighbourhood instead of the whole graph, a deviation from
    NRI-MPM:

    .. math::
        \mathbf{e}^2_j = \Big[\pi^{-1} \circ S_{inter} \circ \pi\big(
        \{\mathbf{e}^1_i\}_{i \in \mathcal{N}_j \cup \{j\}}\big)\Big]_j

    the output at :math:`j`'s own position of the set of its senders and
    itself, read in order of node index when not shuffled (as the graph
    scope reads each graph's nodes). On a fully connected graph the two
    scopes agree: exactly with attention, and with the GRU when not
    shuffled. Use it on large sparse candidate graphs (k-NN, radius): its
    work and memory grow with :math:`E + N` (attention pads each set to the
    largest in-degree plus one), while the graph scope's attention does
    :math:`O(N^2)` work per graph (and needs :math:`O(N^2)` memory where
    PyTorch does not fuse it) and its GRU takes :math:`N` sequential steps.
    The graphs of a batch stay apart through the candidate graph, so
    ``batch`` is not needed.

    Ablations (the paper's Table 3): ``intra=False`` uses
    :math:`\mathbf{e}^1_{(i,j)} = \mathbf{h}^2_{(i,j)}`; ``inter=False``
    leaves :math:`\mathbf{e}^2_j` out of the output MLP; both off is NRI's
    encoder with an MLP head ("w/o RI").

    Args:
        in_channels (int): Size of each node's flattened trajectory, ``T * F``.
        hidden_channels (int): Hidden size (256 in the paper).
        num_edge_types (int): Number of edge types :math:`K`.
        sequence_model (str, optional): ``"gru"`` or ``"attention"``.
            (default: ``"gru"``)
        intra (bool, optional): Use the intra-edge interaction.
            (default: :obj:`True`)
        inter (bool, optional): Use the inter-edge interaction.
            (default: :obj:`True`)
        inter_scope (str, optional): The sets of the inter-edge model,
            ``"graph"`` (each graph's nodes, the paper's) or
            ``"neighbourhood"`` (each receiver's senders and itself, for
            large sparse graphs). (default: ``"graph"``)
        num_heads (int, optional): Heads of the attention variant.
            (default: :obj:`4`)
        dropout (float, optional): Dropout probability. (default: :obj:`0.0`)
        aggr (str, optional): Edge-to-node aggregation of the NRI embedding
            step, ``"sum"`` or ``"mean"``. (default: ``"sum"``)
        batch_norm (bool, optional): Batch normalisation in the NRI embedding
            MLPs. (default: :obj:`True`)
        checkpoint (bool, optional): If set to :obj:`True`, the NRI
            embedding's edge MLPs run in checkpointed chunks, as in
            :class:`MLPEncoder`; the edge embeddings ``[E, H]`` that the
            relation interaction reads are kept. (default: :obj:`False`)
        checkpoint_chunk_size (int, optional): See :class:`MLPEncoder`.
        checkpoint_memory (int, optional): See :class:`MLPEncoder`.
            (default: 256 MiB)
        position_features (sequence of int, optional): See
            :class:`MLPEncoder`: the NRI embedding's inputs made translation
            invariant. (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(N, T, F)`, edge indices
          :math:`(2, E)`, graph of each node :math:`(N,)` (optional)
        - **output:** edge logits :math:`(E, K)`
    """
    def __init__(self, in_channels: int, hidden_channels: int, num_edge_types: int,
                 sequence_model: str = "gru", intra: bool = True, inter: bool = True,
                 inter_scope: str = "graph", num_heads: int = 4, dropout: float = 0.0,
                 aggr: str = "sum", batch_norm: bool = True, checkpoint: bool = False,
                 checkpoint_chunk_size: Optional[int] = None,
                 checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY,
                 position_features: Optional[Sequence[int]] = None) -> None:
        check_sizes(self, num_heads=num_heads)
        if inter_scope not in INTER_SCOPES:
            raise ValueError(f"'inter_scope' must be one of {INTER_SCOPES}, "
                             f"got {inter_scope!r}")
        super().__init__(in_channels, hidden_channels, num_edge_types, factor=True,
                         dropout=dropout, aggr=aggr, batch_norm=batch_norm,
                         checkpoint=checkpoint, checkpoint_chunk_size=checkpoint_chunk_size,
                         checkpoint_memory=checkpoint_memory,
                         position_features=position_features)
        self.sequence_model = sequence_model
        self.intra = intra
        self.inter = inter
        self.inter_scope = inter_scope
        self.num_heads = num_heads
        hidden = hidden_channels
        model = dict(kind=sequence_model, num_heads=num_heads, dropout=dropout)
        self.intra_model = SetSequenceModel(hidden, **model) if intra else None
        self.inter_model = SetSequenceModel(hidden, **model) if inter else None
        self.lin_interaction = Linear((2 if inter else 1) * hidden, hidden)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for module in (self.intra_model, self.inter_model, self.lin_interaction):
            if module is not None:
                module.reset_parameters()

    #: The encoder reads :class:`~torch_nri.graphs.GraphSizes` (``sizes``).
    uses_graph_sizes = True

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                sizes: Optional[GraphSizes] = None) -> Tensor:
        r"""Edge logits ``[E, K]``. ``sizes`` (the batch's
        :class:`~torch_nri.graphs.GraphSizes`: graphs, largest graph, largest
        in-degree) pad the sets of the sequence models; without them they are
        read from the tensors (:func:`~torch_nri.graphs.graph_sizes`), a
        synchronisation on a GPU."""
        edges = self.edge_embeddings(x, edge_index)
        num_nodes, receivers = x.size(0), edge_index[1]
        check_batch(batch, num_nodes)
        if sizes is None and (self.intra_model is not None or self.inter_model is not None):
            sizes = graph_sizes(edge_index, num_nodes, batch)
        if self.intra_model is not None:
            edges = self.intra_model(edges, receivers, num_nodes,
                                     max_group_size=sizes.max_in_degree)
        parts = [edges]
        if self.inter_model is not None:
            if batch is None:
                batch = receivers.new_zeros(num_nodes)
            nodes = scatter(edges, receivers, dim=0, dim_size=num_nodes, reduce="mean")
            if self.inter_scope == "graph":
                nodes = self.inter_model(nodes, batch, sizes.num_graphs,
                                         max_group_size=sizes.max_graph_size)
            else:
                nodes = self._inter_over_neighbourhoods(nodes, edge_index, sizes)
            parts.append(nodes[receivers])
        h = F.elu(self.lin_interaction(torch.cat(parts, dim=-1)))
        return self.lin_out(h)

    def _inter_over_neighbourhoods(self, nodes: Tensor, edge_index: Tensor,
                                   sizes: GraphSizes) -> Tensor:
        # One set per receiver: itself first (so its outputs are the first N)
        # and its senders, read in order of node index, as the graph scope
        # reads a graph's nodes. A self loop would list a node in its own set
        # twice: the candidate graphs have none (refused where values are
        # checked; dropping them would cost a read of how many there are).
        num_nodes = nodes.size(0)
        senders, receivers = edge_index
        if values_checked() and bool((senders == receivers).any()):
            raise ValueError("inter_scope='neighbourhood' needs a candidate graph without "
                             "self loops (a node is in its own set already), got "
                             f"{int((senders == receivers).sum())} self loop(s)")
        own = torch.arange(num_nodes, device=nodes.device)
        members = torch.cat([own, senders])
        group = torch.cat([own, receivers])
        out = self.inter_model(nodes[members], group, num_nodes, position=members,
                               max_group_size=sizes.max_in_degree + 1)
        return out[:num_nodes]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"{self._repr_options()}, sequence_model={self.sequence_model!r}, "
                f"intra={self.intra}, inter={self.inter}, inter_scope={self.inter_scope!r}, "
                f"num_heads={self.num_heads})")
