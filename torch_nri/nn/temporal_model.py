import math
from typing import Any, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import GRUCell, Linear, Module

from torch_nri._validation import check_sizes

# The memory a TemporalModel carries from one step of a segment to the next:
# the last hidden state (GRU), or the keys and values of the history (attention).
Memory = Any


class TemporalModel(Module):
    r"""The sequence models :math:`S_{edge}` and :math:`S_{node}` of NRI-MPM's
    spatio-temporal message passing (Chen et al., 2021, eqs. 22 and 24), run
    step by step within a prediction segment that starts at :math:`t_0`. The
    first step maps the input through an MLP (eqs. A8, A10, A12, A16):
    :math:`\hat{\mathbf{h}}^{t_0+1} = \mathrm{ReLU}(\mathbf{W}\mathbf{u}^{t_0}
    + \mathbf{b})`. Later steps use either

    - ``kind="gru"`` (eqs. A9, A11):
      :math:`\hat{\mathbf{h}}^{t+1} = \mathrm{GRU}(\mathbf{u}^t,
      \hat{\mathbf{h}}^t)`, or
    - ``kind="attention"`` (eqs. A13-A15, A18-A20): temporal attention of the
      current input over the segment's history,
      :math:`\hat{\mathbf{h}}^{t+1} = \sum_k \beta_k\, V(\mathbf{m}_k)` with
      memory :math:`\mathbf{m} = [\hat{\mathbf{h}}^{t_0+1}, \dots,
      \hat{\mathbf{h}}^{t}, P\mathbf{u}^t]`,
      :math:`\beta = \mathrm{softmax}_k(\langle Q P\mathbf{u}^t,
      K\mathbf{m}_k\rangle / \sqrt{d})`.

    :math:`P` projects the input to the hidden size, so that the current
    input and the history share one space (the paper applies the same MLPs
    to inputs of size :math:`H + F` and hidden states of size :math:`H` in
    eq. A18, which only type-checks with such a projection). Keys and values
    of the history are computed once and carried in the memory.

    The time index follows eqs. 22 and 24: the input :math:`\mathbf{u}^t`
    built from the state at step :math:`t` gives
    :math:`\hat{\mathbf{h}}^{t+1}` (eqs. A9 and A13 write the input's index
    one step later).

    Args:
        in_channels (int): Size of each input :math:`\mathbf{u}`.
        hidden_channels (int): Size :math:`H` of each hidden state.
        kind (str, optional): ``"gru"`` or ``"attention"``. (default: ``"gru"``)

    Shapes:
        - **input:** :math:`(*, C_{in})` and the memory (``None`` at the
          first step of a segment)
        - **output:** :math:`(*, H)` and the new memory
    """
    def __init__(self, in_channels: int, hidden_channels: int, kind: str = "gru") -> None:
        super().__init__()
        check_sizes(self, in_channels=in_channels, hidden_channels=hidden_channels)
        if kind not in ("gru", "attention"):
            raise ValueError(f"'kind' must be 'gru' or 'attention', got {kind!r}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.kind = kind
        self.lin_first = Linear(in_channels, hidden_channels)
        if kind == "gru":
            self.cell = GRUCell(in_channels, hidden_channels)
        else:
            self.lin_input = Linear(in_channels, hidden_channels)
            self.lin_query = Linear(hidden_channels, hidden_channels)
            self.lin_key = Linear(hidden_channels, hidden_channels)
            self.lin_value = Linear(hidden_channels, hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.children():
            module.reset_parameters()

    def forward(self, u: Tensor, memory: Optional[Memory]) -> Tuple[Tensor, Memory]:
        if memory is None:
            h = F.relu(self.lin_first(u))
            return h, (h if self.kind == "gru" else self._remember(h, [], []))
        if self.kind == "gru":
            h = self.cell(u.reshape(-1, self.in_channels),
                          memory.reshape(-1, self.hidden_channels)).view(memory.shape)
            return h, h
        keys, values = memory
        current = self.lin_input(u)
        keys_now = torch.stack(keys + [self.lin_key(current)], dim=-2)        # [*, m, H]
        values_now = torch.stack(values + [self.lin_value(current)], dim=-2)  # [*, m, H]
        scores = (keys_now @ self.lin_query(current).unsqueeze(-1)).squeeze(-1)
        beta = torch.softmax(scores / math.sqrt(self.hidden_channels), dim=-1)
        h = (beta.unsqueeze(-2) @ values_now).squeeze(-2)
        return h, self._remember(h, keys, values)

    def split_memory(self, memory: Optional[Memory], size: int,
                     num_chunks: int) -> List[Optional[Memory]]:
        r"""The memory of ``num_chunks`` chunks of ``size`` rows along the
        first dimension (views), for a step run in chunks."""
        if memory is None:
            return [None] * num_chunks
        if self.kind == "gru":
            return list(memory.split(size))
        keys, values = ([t.split(size) for t in part] for part in memory)
        return [([k[c] for k in keys], [v[c] for v in values]) for c in range(num_chunks)]

    def merge_memory(self, chunks: List[Memory], previous: Optional[Memory]) -> Memory:
        r"""The memory of all rows from the chunks' new memories. Of the
        attention's history only the step just added is concatenated; the
        rest is ``previous``'s, unchanged (the chunks hold views of it)."""
        if self.kind == "gru":
            return torch.cat(chunks)
        keys, values = ([], []) if previous is None else (list(previous[0]), list(previous[1]))
        for index in range(len(keys), len(chunks[0][0])):
            keys.append(torch.cat([chunk[0][index] for chunk in chunks]))
            values.append(torch.cat([chunk[1][index] for chunk in chunks]))
        return keys, values

    def _remember(self, h: Tensor, keys: List[Tensor],
                  values: List[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        return keys + [self.lin_key(h)], values + [self.lin_value(h)]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"kind={self.kind!r})")
