from typing import Callable, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Linear

from torch_nri._validation import check_decoder_inputs, check_edge_weights
from torch_nri.nn.edge_type_mlp import EdgeTypeMLP
from torch_nri.nn.message_passing import NRIMessagePassing

DynamicGraph = Callable[[Tensor, Tensor], Tensor]


class RNNDecoder(NRIMessagePassing):
    r"""The recurrent decoder of NRI (Kipf et al., 2018, eqs. 13-17 and
    Figs. 16-17), for dynamics that are not Markovian in the observed state.
    Messages are computed from the recurrent hidden states:

    .. math::
        \tilde{\mathbf{h}}^t_{(i,j)} &= \frac{1}{K'} \sum_k z_{ij,k}\,
        \tilde{f}^k_e([\tilde{\mathbf{h}}^t_i, \tilde{\mathbf{h}}^t_j])

        \mathrm{MSG}^t_j &= \sum_{i \in \mathcal{N}(j)} \tilde{\mathbf{h}}^t_{(i,j)}

        \tilde{\mathbf{h}}^{t+1}_j &= \mathrm{GRU}([\mathrm{MSG}^t_j,
        \mathbf{x}^t_j], \tilde{\mathbf{h}}^t_j)

        \boldsymbol{\mu}^{t+1}_j &= \mathbf{x}^t_j + f_{out}(\tilde{\mathbf{h}}^{t+1}_j)

    with 2-layer tanh message MLPs averaged over the :math:`K'` message-passing
    types, and the GRU of Fig. 16, whose gates read the input and the
    aggregated messages:
    :math:`\mathbf{r} = \sigma(\mathbf{W}_{ir}\mathbf{x} + \mathbf{W}_{mr}\mathrm{MSG})`,
    :math:`\mathbf{u} = \sigma(\mathbf{W}_{iu}\mathbf{x} + \mathbf{W}_{mu}\mathrm{MSG})`,
    :math:`\mathbf{n} = \tanh(\mathbf{W}_{in}\mathbf{x} + \mathbf{r} \odot
    \mathbf{W}_{mn}\mathrm{MSG})`,
    :math:`\tilde{\mathbf{h}}' = (1 - \mathbf{u}) \odot \mathbf{n} +
    \mathbf{u} \odot \tilde{\mathbf{h}}`.

    In :meth:`forward`, the input of each step is either the ground truth or
    the decoder's previous prediction: ground truth for the first
    ``burn_in_steps`` steps and own predictions after (paper section 3.5), or,
    without burn-in, ground truth every ``prediction_steps`` steps. The
    original code also divided the aggregated messages by the number of
    features; that undocumented scaling is left out.

    Args:
        in_channels (int): Number of features :math:`F` per node and step.
        num_edge_types (int): Number of edge types :math:`K`.
        hidden_channels (int): Size of the hidden state and the messages.
        skip_first (bool, optional): If set to :obj:`True`, edge type 0 means
            "no edge" and passes no message. (default: :obj:`False`)
        dropout (float, optional): Dropout probability. (default: :obj:`0.0`)
        aggr (str, optional): Edge-to-node aggregation, ``"sum"`` or
            ``"mean"``. (default: ``"sum"``)
        checkpoint (bool, optional): If set to :obj:`True`, the per-edge
            activations of each step are recomputed in the backward pass
            instead of stored, as in :class:`MLPDecoder`.
            (default: :obj:`False`)
        checkpoint_chunk_size (int, optional): Edges recomputed at once with
            ``checkpoint=True``. (default: all)
        skip_no_edges (bool, optional): If set to :obj:`True`, edges whose
            message-passing weights are all zero are dropped, as in
            :class:`MLPDecoder`. Needs ``aggr="sum"``. (default: :obj:`False`)

    Shapes:
        - **input:** node features :math:`(N, T, F)`, edge indices
          :math:`(2, E)`, edge weights :math:`(E, K)`
        - **output:** predictions of steps :math:`2..T`, :math:`(N, T - 1, F)`
    """
    def __init__(self, in_channels: int, num_edge_types: int, hidden_channels: int,
                 skip_first: bool = False, dropout: float = 0.0, aggr: str = "sum",
                 checkpoint: bool = False, checkpoint_chunk_size: Optional[int] = None,
                 skip_no_edges: bool = False) -> None:
        super().__init__(aggr, checkpoint, checkpoint_chunk_size, skip_no_edges)
        self.in_channels = in_channels
        self.num_edge_types = num_edge_types
        self.hidden_channels = hidden_channels
        self.skip_first = skip_first
        self.dropout = dropout
        hidden = hidden_channels
        self.edge_mlp = EdgeTypeMLP(2 * hidden, hidden, hidden, num_edge_types,
                                    act=torch.tanh, dropout=dropout, skip_first=skip_first,
                                    average_types=True)
        # Input and message projections of the three gates, each fused into one matmul.
        self.lin_input = Linear(in_channels, 3 * hidden)
        self.lin_message = Linear(hidden, 3 * hidden, bias=False)
        self.lin_out1 = Linear(hidden, hidden)
        self.lin_out2 = Linear(hidden, hidden)
        self.lin_out3 = Linear(hidden, in_channels)

    def reset_parameters(self) -> None:
        self.edge_mlp.reset_parameters()
        for lin in (self.lin_input, self.lin_message, self.lin_out1, self.lin_out2,
                    self.lin_out3):
            lin.reset_parameters()

    def step(self, x: Tensor, hidden: Tensor, edge_index: Tensor,
             edge_weights: Tensor) -> Tuple[Tensor, Tensor]:
        r"""One step: returns the prediction :math:`\boldsymbol{\mu}^{t+1}` and
        the new hidden state, from the input :math:`\mathbf{x}^t` ``[N, F]``
        and the hidden state ``[N, H]``."""
        aggregated = self.aggregate_messages(self.edge_mlp, hidden, edge_index, edge_weights)
        input_r, input_u, input_n = self.lin_input(x).chunk(3, dim=-1)
        msg_r, msg_u, msg_n = self.lin_message(aggregated).chunk(3, dim=-1)
        reset = torch.sigmoid(input_r + msg_r)
        update = torch.sigmoid(input_u + msg_u)
        candidate = torch.tanh(input_n + reset * msg_n)
        hidden = (1 - update) * candidate + update * hidden

        h = F.dropout(F.relu(self.lin_out1(hidden)), p=self.dropout, training=self.training)
        h = F.dropout(F.relu(self.lin_out2(h)), p=self.dropout, training=self.training)
        return x + self.lin_out3(h), hidden

    def forward(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
                burn_in_steps: Optional[int] = None, prediction_steps: int = 1,
                dynamic_graph: Optional[DynamicGraph] = None,
                dynamic_graph_window: Optional[int] = None) -> Tensor:
        r"""Predicts steps :math:`2..T` of ``x``.

        Args:
            x (torch.Tensor): Trajectories ``[N, T, F]``.
            edge_index (torch.Tensor): Candidate edges ``[2, E]``.
            edge_weights (torch.Tensor): Edge type weights ``[E, K]``.
            burn_in_steps (int, optional): If given, the input of step
                :math:`t` (0-based) is the ground truth for
                :math:`t <` ``burn_in_steps`` and the previous prediction
                after. (default: :obj:`None`)
            prediction_steps (int, optional): Without burn-in, the ground
                truth is fed every ``prediction_steps`` steps.
                (default: :obj:`1`)
            dynamic_graph (callable, optional): If given (with
                ``burn_in_steps``), the graph is re-inferred after burn-in at
                every step as ``dynamic_graph(window, edge_index) -> [E, K]``,
                where ``window`` ``[N, W, F]`` holds the decoder's own last
                :math:`W` inputs, the current one included, never ground
                truth after burn-in (the original code leaked it). A typical
                callable samples a hard Gumbel-softmax from an encoder's
                logits. (default: :obj:`None`)
            dynamic_graph_window (int, optional): The window length
                :math:`W \leq` ``burn_in_steps``. (default: ``burn_in_steps``)
        """
        check_decoder_inputs(x, edge_index, edge_weights, self.in_channels,
                              self.num_edge_types)
        num_nodes, num_steps, _ = x.shape
        if burn_in_steps is not None:
            if prediction_steps != 1:
                raise ValueError("give either 'burn_in_steps' or 'prediction_steps', "
                                 f"got burn_in_steps={burn_in_steps} and "
                                 f"prediction_steps={prediction_steps}")
            if burn_in_steps < 1:
                raise ValueError(f"'burn_in_steps' must be at least 1, got {burn_in_steps}")
        elif prediction_steps < 1:
            raise ValueError(f"'prediction_steps' must be at least 1, got {prediction_steps}")
        if dynamic_graph is not None:
            if burn_in_steps is None:
                raise ValueError("'dynamic_graph' needs 'burn_in_steps'")
            window = burn_in_steps if dynamic_graph_window is None else dynamic_graph_window
            if not 1 <= window <= burn_in_steps:
                raise ValueError(f"'dynamic_graph_window' must be in [1, burn_in_steps="
                                 f"{burn_in_steps}], got {window}")

        step_edges = self.message_edges(edge_index, edge_weights, int(self.skip_first))
        hidden = x.new_zeros(num_nodes, self.hidden_channels)
        inputs: List[Tensor] = []
        predictions: List[Tensor] = []
        for t in range(num_steps - 1):
            if burn_in_steps is not None:
                ground_truth = t < burn_in_steps
            else:
                ground_truth = t % prediction_steps == 0
            inputs.append(x[:, t] if ground_truth else predictions[-1])
            if dynamic_graph is not None and t >= burn_in_steps:
                recent = torch.stack(inputs[t - window + 1:], dim=1)
                edge_weights = dynamic_graph(recent, edge_index)
                check_edge_weights(edge_weights, edge_index.size(1), self.num_edge_types,
                                   name="dynamic_graph(window, edge_index)")
                step_edges = self.message_edges(edge_index, edge_weights, int(self.skip_first))
            prediction, hidden = self.step(inputs[-1], hidden, *step_edges)
            predictions.append(prediction)
        return torch.stack(predictions, dim=1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, "
                f"num_edge_types={self.num_edge_types}, "
                f"hidden_channels={self.hidden_channels}, skip_first={self.skip_first})")
