import math
from typing import Optional

import torch
from torch import Tensor
from torch.nn import Module, MultiheadAttention, Parameter

from torch_nri._validation import check_sizes, values_checked


class SetSequenceModel(Module):
    r"""A sequence model applied to sets: the permutation-equivariant
    operator of NRI-MPM's relation interaction (Chen et al., 2021, eq. 14),

    .. math::
        \mathbf{e}_{\mathcal{I}} = \pi^{-1} \circ S \circ \pi
        (\mathbf{h}_{\mathcal{I}})

    run on every set (group) of items at once. The items of each group are
    put in an order :math:`\pi` (random in training with ``shuffle=True``,
    otherwise the order of their ``position``, or their input order without
    one), padded into one dense batch of ``max_group_size`` items per group,
    passed through the sequence model :math:`S` with the padding masked out,
    and mapped back to the input order by :math:`\pi^{-1}`. The padding is
    done here rather than by :func:`torch_geometric.utils.to_dense_batch`,
    which, even given the sizes, copies its fill value from the host on
    every call: given ``num_groups`` and ``max_group_size``
    (:class:`~torch_nri.graphs.GraphSizes`), this model reads nothing back
    and copies nothing over.

    With ``kind="gru"`` (the paper's choice, eqs. A4-A7), :math:`S` is a GRU
    from a zero state, which is permutation equivariant only approximately
    (hence the random order in training). With ``kind="attention"``,
    :math:`S` is multi-head self-attention with a residual connection,
    :math:`\mathbf{e} = \mathbf{h} + \mathrm{MHA}(\mathbf{h}, \mathbf{h},
    \mathbf{h})`, which is exactly permutation equivariant.

    Args:
        channels (int): Size of each item.
        kind (str, optional): ``"gru"`` or ``"attention"``. (default: ``"gru"``)
        num_heads (int, optional): Attention heads; must divide ``channels``.
            (default: :obj:`4`)
        dropout (float, optional): Attention dropout. (default: :obj:`0.0`)
        shuffle (bool, optional): If set to :obj:`True`, items are ordered at
            random in training mode. (default: :obj:`True`)

    Shapes:
        - **input:** items :math:`(M, C)`, group of each item :math:`(M,)`,
          position of each item :math:`(M,)` (optional)
        - **output:** :math:`(M, C)`, in the input order
    """
    def __init__(self, channels: int, kind: str = "gru", num_heads: int = 4,
                 dropout: float = 0.0, shuffle: bool = True) -> None:
        super().__init__()
        check_sizes(self, channels=channels, num_heads=num_heads)
        if kind not in ("gru", "attention"):
            raise ValueError(f"'kind' must be 'gru' or 'attention', got {kind!r}")
        if kind == "attention" and channels % num_heads:
            raise ValueError(f"'num_heads' ({num_heads}) must divide 'channels' ({channels})")
        self.channels = channels
        self.kind = kind
        self.shuffle = shuffle
        if kind == "gru":
            self.model = _GRUParameters(channels)
        else:
            self.model = MultiheadAttention(channels, num_heads, dropout=dropout,
                                            batch_first=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.kind == "gru":
            self.model.reset_parameters()
        else:
            # MultiheadAttention's own initialisation: its output projection as
            # a Linear, then its _reset_parameters (which leaves that weight).
            self.model.out_proj.reset_parameters()
            self.model._reset_parameters()

    def forward(self, x: Tensor, group: Tensor, num_groups: Optional[int] = None,
                position: Optional[Tensor] = None,
                max_group_size: Optional[int] = None) -> Tensor:
        r"""
        Args:
            x (torch.Tensor): The items.
            group (torch.Tensor): The group (set) of each item.
            num_groups (int, optional): The number of groups. (default: the
                largest group index plus one, read back to the host)
            position (torch.Tensor, optional): Where the not shuffled items
                stand in their group's sequence: each group is read in
                increasing ``position``, ties in input order (e.g. node
                indices, to read some of a graph's nodes in the order of the
                whole graph). (default: the input order)
            max_group_size (int, optional): At least the number of items of
                the largest group: the length the groups are padded to.
                Given with ``num_groups``, nothing is read back to the host
                (:class:`~torch_nri.graphs.GraphSizes`). (default: read back)
        """
        if x.dim() != 2 or x.size(1) != self.channels:
            raise ValueError(f"'x' must have shape [num_items, {self.channels}], "
                             f"got {tuple(x.shape)}")
        if group.shape != (x.size(0),):
            raise ValueError(f"'group' must have shape [{x.size(0)}], got {tuple(group.shape)}")
        if position is not None and position.shape != group.shape:
            raise ValueError(f"'position' must have shape [{x.size(0)}], "
                             f"got {tuple(position.shape)}")
        if x.size(0) == 0:
            return x.clone()
        if num_groups is None:
            num_groups = int(group.max()) + 1
        # pi: a stable sort by group, of a random order in training, else of
        # the order of 'position' (or of the input order).
        if self.shuffle and self.training:
            first = torch.randperm(x.size(0), device=x.device)
        elif position is not None:
            first = torch.sort(position, stable=True).indices
        else:
            first = torch.arange(x.size(0), device=x.device)
        order = first[torch.sort(group[first], stable=True).indices]
        sorted_group = group[order]
        # Each item's place in its group's sequence: its rank after the
        # items of the groups before.
        sizes = torch.zeros(num_groups, dtype=torch.long, device=x.device)
        sizes.scatter_add_(0, sorted_group, torch.ones_like(sorted_group))
        place = torch.arange(x.size(0), device=x.device) - (sizes.cumsum(0) - sizes)[sorted_group]
        if max_group_size is None:
            max_group_size = int(sizes.max())
        elif values_checked() and int(sizes.max()) > max_group_size:
            raise ValueError(f"'max_group_size' must be at least the size of the largest "
                             f"group ({int(sizes.max())}), got {max_group_size}")
        dense = x.new_zeros(num_groups, max_group_size, self.channels)
        dense[sorted_group, place] = x[order]
        if self.kind == "gru":
            # Padding comes after each group's items, so it never reaches them.
            out = self._gru(dense)
        else:
            padding = torch.ones(num_groups, max_group_size, dtype=torch.bool,
                                 device=x.device)
            padding[sorted_group, place] = False
            # A group without items attends to its zero padding (its output is
            # not read): a row with nothing to attend to would be NaN, also
            # in the gradients of the shared weights.
            padding[:, 0] = False
            attended, _ = self.model(dense, dense, dense, key_padding_mask=padding,
                                     need_weights=False)
            out = dense + attended
        result = torch.empty_like(x)
        result[order] = out[sorted_group, place]  # pi^{-1}
        return result

    def _gru(self, dense: Tensor) -> Tensor:
        # The GRU from a zero state, step by step over the sequence.
        gru, state, states = self.model, dense.new_zeros(dense.size(0), self.channels), []
        for step in dense.unbind(dim=1):
            state = torch.gru_cell(step, state, gru.weight_ih_l0, gru.weight_hh_l0,
                                   gru.bias_ih_l0, gru.bias_hh_l0)
            states.append(state)
        return torch.stack(states, dim=1)

    def __repr__(self) -> str:
        attention = (f", num_heads={self.model.num_heads}, dropout={self.model.dropout}"
                     if self.kind == "attention" else "")  # the GRU has no such options
        return (f"{self.__class__.__name__}({self.channels}, kind={self.kind!r}{attention}, "
                f"shuffle={self.shuffle})")


class _GRUParameters(Module):
    # The parameters of a one-layer nn.GRU under its names, drawn as it
    # draws them, run step by step by torch.gru_cell (SetSequenceModel._gru):
    # torch.compile traces that, where nn.GRU breaks its graph; on the CPU it
    # runs as fast (measured at H = 64 and 256); and checkpoints written with
    # nn.GRU load unchanged.
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.weight_ih_l0 = Parameter(torch.empty(3 * channels, channels))
        self.weight_hh_l0 = Parameter(torch.empty(3 * channels, channels))
        self.bias_ih_l0 = Parameter(torch.empty(3 * channels))
        self.bias_hh_l0 = Parameter(torch.empty(3 * channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.channels)
        for weight in self.parameters():
            torch.nn.init.uniform_(weight, -bound, bound)
