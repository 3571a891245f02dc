from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint as run_checkpointed

from torch_nri._validation import (check_edge_index, check_edge_weights,
                                   check_node_features, check_sizes, check_skip_first,
                                   parameter_dtype)
from torch_nri.nn.chunking import DEFAULT_CHECKPOINT_MEMORY
from torch_nri.nn.message_passing import NRIMessagePassing

# The graph re-inferred during a rollout: (window [N, W, F], edge_index) -> [E, K].
DynamicGraph = Callable[[Tensor, Tensor], Tensor]

FEEDINGS = ("teacher_forcing", "burn_in")


class NRIDecoder(NRIMessagePassing):
    r"""Base class of the NRI decoders: the decoder contract. A decoder is a
    one-step model over a graph with typed edges,

    .. math::
        (\boldsymbol{\mu}^{t+1}, \mathbf{m}^{t+1}) =
        f_{dec}(\mathbf{x}^t, \mathbf{z}, \mathbf{m}^t),

    written in :meth:`step`, where :math:`\mathbf{z}` are the edge weights
    ``[E, K]`` and :math:`\mathbf{m}` is whatever memory the decoder carries
    from one step to the next (:obj:`None` at the start: the hidden state of
    a recurrent decoder, a segment's history, or nothing). Everything else is
    here: input checks, dropping silent edges, the rollouts of training, and
    forecasting with an optional re-inferred graph. A subclass that writes
    only :meth:`step` trains and evaluates through
    :func:`torch_nri.training.train`.

    A graph that changes over time (dNRI, :class:`~torch_nri.models.DNRI`)
    is given as per-step edge weights ``[E, T_z, K]``: the step whose input
    is step :math:`t` (0-based) then uses ``edge_weights[:, t]``,

    .. math::
        (\boldsymbol{\mu}^{t+1}, \mathbf{m}^{t+1}) =
        f_{dec}(\mathbf{x}^t, \mathbf{z}^t, \mathbf{m}^t),

    in every rollout (the segments of a teacher-forced one each read their
    own steps) and in :meth:`forecast`, where :math:`T_z` must cover the
    forecast's steps too. A decoder whose :meth:`step` takes weights
    ``[E, *, K]`` for states ``[N, *, F]`` (as :class:`EdgeTypeMLP
    <torch_nri.nn.EdgeTypeMLP>` messages do) declares
    :attr:`step_weights`.

    How the decoder is fed is declared by :attr:`feeding`:

    - ``"teacher_forcing"`` (NRI's MLP decoder, section 3.4; NRI-MPM's
      Algorithm 1): in training, the ground truth at steps
      :math:`0, M, 2M, \dots` starts a segment of :math:`M` steps that
      continues on the decoder's own predictions, with the memory started
      afresh; the segments are independent and run at once. A forecast is
      one segment from the last observed state.
    - ``"burn_in"`` (NRI's RNN decoder, section 3.5): the memory runs through
      the whole sequence; in training the ground truth is fed for the first
      :math:`T - M` steps and the decoder's own predictions after. A
      forecast burns the memory in on every observed step first.

    Args:
        in_channels (int): Number of features :math:`F` per node and step.
        num_edge_types (int): Number of edge types :math:`K`.
        skip_first (bool, optional): If set to :obj:`True`, edge type 0 means
            "no edge" and passes no message. (default: :obj:`False`)
        aggr (str, optional): Edge-to-node aggregation, ``"sum"`` or
            ``"mean"``. (default: ``"sum"``)
        checkpoint (bool, optional): See :class:`NRIMessagePassing`.
            (default: :obj:`False`)
        checkpoint_chunk_size (int, optional): See :class:`NRIMessagePassing`.
        checkpoint_memory (int, optional): See :class:`NRIMessagePassing`.
            (default: 256 MiB)
        skip_no_edges (bool, optional): If set to :obj:`True`, edges whose
            message-passing weights are all zero are dropped before a rollout
            (:func:`~torch_nri.nn.message_passing.drop_silent_edges`).
            (default: :obj:`False`)
        position_features (sequence of int, optional): The features that
            are coordinates: messages then see the pair's relative position
            and the other features, the node update no absolute position
            (:meth:`~NRIMessagePassing.pair_features`), so that a
            translation of every position shifts the predictions by the same
            and leaves the predicted changes as they are.
            (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(N, T, F)`, edge indices
          :math:`(2, E)`, edge weights :math:`(E, K)` or, per step,
          :math:`(E, T_z, K)`
        - **output:** predictions of steps :math:`2..T`, :math:`(N, T - 1, F)`
          (:meth:`forward`), or of the :math:`H` steps after the observed
          ones, :math:`(N, H, F)` (:meth:`forecast`)
    """
    #: How the decoder is fed: ``"teacher_forcing"`` or ``"burn_in"``.
    feeding: str = "teacher_forcing"
    #: Whether the decoder takes per-step edge weights ``[E, T_z, K]``:
    #: whether its :meth:`step` reads weights ``[E, *, K]`` of each row of
    #: states ``[N, *, F]``.
    step_weights: bool = False
    #: Parameter names of torch_nri 0.1.0 checkpoints that this class renamed
    #: (old prefix -> new prefix); mapped when a state dict is loaded.
    renamed_parameters: Dict[str, str] = {}

    def __init__(self, in_channels: int, num_edge_types: int, skip_first: bool = False,
                 aggr: str = "sum", checkpoint: bool = False,
                 checkpoint_chunk_size: Optional[int] = None,
                 skip_no_edges: bool = False,
                 checkpoint_memory: int = DEFAULT_CHECKPOINT_MEMORY,
                 position_features: Optional[Sequence[int]] = None) -> None:
        check_sizes(self, in_channels=in_channels, num_edge_types=num_edge_types)
        super().__init__(aggr, checkpoint, checkpoint_chunk_size, skip_no_edges,
                         checkpoint_memory, position_features)
        if self.feeding not in FEEDINGS:
            raise ValueError(f"{type(self).__name__}.feeding must be one of {FEEDINGS}, "
                             f"got {self.feeding!r}")
        check_skip_first(skip_first, num_edge_types)
        self.in_channels = in_channels
        self.num_edge_types = num_edge_types
        self.skip_first = skip_first
        if self.renamed_parameters:
            self.register_load_state_dict_pre_hook(_rename_parameters)

    def reset_parameters(self) -> None:
        r"""Resets every child module that has parameters of its own."""
        for module in self.children():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def step(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
             memory: Any = None) -> Tuple[Tensor, Any]:
        r"""One step: the prediction :math:`\boldsymbol{\mu}^{t+1}` and the
        new memory, from node states :math:`\mathbf{x}^t` ``[N, *, F]`` (any
        dimensions between the nodes and the features: the segments of a
        teacher-forced rollout run side by side) and the memory
        (:obj:`None` at the start)."""
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def step_width(self) -> Optional[int]:
        r"""The elements per node and row that a checkpointed :meth:`step`
        keeps for the backward pass beyond its inputs and outputs (the
        aggregated messages, for instance), by which :meth:`rollout_step`
        decides whether to recompute the whole step; :obj:`None` where a
        decoder does not say (its steps are never recomputed whole)."""
        return None

    def rollout_step(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
                     memory: Any = None) -> Tuple[Tensor, Any]:
        r""":meth:`step` as the rollouts run it: with ``checkpoint=True``, in
        training, where what the step keeps beyond its inputs and outputs
        (:meth:`step_width` elements per row) exceeds ``checkpoint_memory``,
        under :func:`torch.utils.checkpoint.checkpoint` as a whole, so that a
        rollout keeps its states only and the step is recomputed in the
        backward pass (its chunks of edges then run three times, once more).
        At :math:`10^6` objects the MLP decoder's aggregated messages are
        1.3 GB a step, and over a rollout more than the rest of the step
        together; at :math:`10^5` (128 MB) they are kept."""
        width = self.step_width()
        if (width is not None and self.checkpoint and torch.is_grad_enabled()
                and x.numel() // max(x.size(-1), 1) * width * x.element_size()
                > self.checkpoint_memory):
            return run_checkpointed(self.step, x, edge_index, edge_weights, memory,
                                    use_reentrant=False)
        return self.step(x, edge_index, edge_weights, memory)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
                prediction_steps: int = 1, burn_in_steps: Optional[int] = None,
                dynamic_graph: Optional[DynamicGraph] = None,
                dynamic_graph_window: Optional[int] = None,
                segment_starts: Optional[Tensor] = None) -> Tensor:
        r"""Predicts steps :math:`2..T` of ``x``, as in training.

        Args:
            x (torch.Tensor): Trajectories ``[N, T, F]``.
            edge_index (torch.Tensor): Candidate edges ``[2, E]``.
            edge_weights (torch.Tensor): Edge type weights ``[E, K]``, or
                per step ``[E, T_z \geq T - 1, K]``.
            prediction_steps (int, optional): Without burn-in, the ground
                truth is fed at steps :math:`0, M, 2M, \dots` (:math:`M`) and
                the decoder's own predictions in between: independent
                segments for a ``"teacher_forcing"`` decoder, one sequence
                with the memory carried across for a ``"burn_in"`` one.
                (default: :obj:`1`)
            burn_in_steps (int, optional): If given, the input of step
                :math:`t` (0-based) is the ground truth for
                :math:`t <` ``burn_in_steps`` and the previous prediction
                after, with the memory carried through. (default: :obj:`None`)
            dynamic_graph (callable, optional): With ``burn_in_steps``, the
                graph is re-inferred at every step after burn-in as
                ``dynamic_graph(window, edge_index) -> [E, K]``, where
                ``window`` ``[N, W, F]`` holds the decoder's own last
                :math:`W` inputs, the current one included: never ground
                truth after burn-in. (default: :obj:`None`)
            dynamic_graph_window (int, optional): The window length
                :math:`W \leq` ``burn_in_steps``. (default: ``burn_in_steps``)
            segment_starts (torch.Tensor, optional): A ``"teacher_forcing"``
                decoder's segments, started from these steps ``[S]`` (each
                in :math:`0..T - 1 - M`) instead of :math:`0, M, 2M, \dots`;
                it then predicts only their steps, ``[N, S M, F]``, segment
                after segment (the cheaper steps of
                :func:`~torch_nri.models.base.decode`). (default: :obj:`None`)
        """
        self.check_inputs(x, edge_index, edge_weights, min_steps=2)
        num_steps = x.size(1)
        if segment_starts is not None and (burn_in_steps is not None
                                           or self.feeding != "teacher_forcing"):
            raise ValueError(f"'segment_starts' starts the segments of a decoder fed the "
                             f"ground truth every 'prediction_steps'; {type(self).__name__} "
                             f"is fed by burn-in" if burn_in_steps is None else
                             "give either 'burn_in_steps' or 'segment_starts', not both")
        if burn_in_steps is not None:
            if prediction_steps != 1:
                raise ValueError("give either 'burn_in_steps' or 'prediction_steps', "
                                 f"got burn_in_steps={burn_in_steps} and "
                                 f"prediction_steps={prediction_steps}")
            if burn_in_steps < 1:
                raise ValueError(f"'burn_in_steps' must be at least 1, got {burn_in_steps}")
            window = _window(dynamic_graph, dynamic_graph_window, burn_in_steps,
                             "burn_in_steps")
            return self.sequential_rollout(x, edge_index, edge_weights, num_steps - 1,
                                           burn_in=burn_in_steps, dynamic_graph=dynamic_graph,
                                           window=window)
        if prediction_steps < 1:
            raise ValueError(f"'prediction_steps' must be at least 1, got {prediction_steps}")
        if dynamic_graph is not None:
            raise ValueError("'dynamic_graph' needs 'burn_in_steps'")
        if self.feeding == "burn_in":
            return self.sequential_rollout(x, edge_index, edge_weights, num_steps - 1,
                                           every=prediction_steps)
        return self.segment_rollout(x, edge_index, edge_weights, prediction_steps,
                                    segment_starts)

    def forecast(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor, horizon: int,
                 dynamic_graph: Optional[DynamicGraph] = None,
                 dynamic_graph_window: Optional[int] = None) -> Tensor:
        r"""Predicts the ``horizon`` steps after the observed ones, on the
        decoder's own predictions: the test protocol of the papers.

        A ``"teacher_forcing"`` decoder starts one segment from the last
        observed state; a ``"burn_in"`` decoder first runs its memory through
        every observed step. Only the observed steps ``x`` are given, so no
        later ground truth can be read.

        Args:
            x (torch.Tensor): The observed trajectories ``[N, T_o, F]``.
            edge_index (torch.Tensor): Candidate edges ``[2, E]``.
            edge_weights (torch.Tensor): Edge type weights ``[E, K]``, or
                per step ``[E, T_z \geq T_o - 1 + H, K]`` (those of step
                :math:`t` predict step :math:`t + 1`).
            horizon (int): Steps :math:`H` to predict.
            dynamic_graph (callable, optional): If given, the graph is
                re-inferred before every step that starts from a prediction,
                as ``dynamic_graph(window, edge_index) -> [E, K]`` on the last
                :math:`W` inputs (observed steps, then the decoder's own
                predictions). (default: :obj:`None`)
            dynamic_graph_window (int, optional): :math:`W \leq T_o`.
                (default: :math:`T_o`)

        Returns:
            torch.Tensor: Predictions ``[N, H, F]`` of steps
            :math:`T_o + 1, \dots, T_o + H` (1-based).
        """
        if horizon < 1:
            raise ValueError(f"'horizon' must be at least 1, got {horizon}")
        self.check_inputs(x, edge_index, edge_weights, min_steps=1, horizon=horizon)
        observed = x.size(1)
        window = _window(dynamic_graph, dynamic_graph_window, observed, "observed steps")
        first = 0 if self.feeding == "burn_in" else observed - 1
        out = self.sequential_rollout(x, edge_index, edge_weights, observed - 1 + horizon,
                                      first=first, burn_in=observed,
                                      dynamic_graph=dynamic_graph, window=window)
        return out[:, -horizon:]

    def training_kwargs(self, num_steps: int, prediction_steps: int,
                        burn_in_steps: Optional[int] = None) -> Dict[str, int]:
        r"""The :meth:`forward` options of training on trajectories of
        ``num_steps`` steps: ``burn_in_steps`` where given; otherwise ground
        truth every ``prediction_steps`` steps (``"teacher_forcing"``), or a
        burn-in of the first :math:`T - M` steps (``"burn_in"``, the original
        code's choice)."""
        if burn_in_steps is not None:
            return {"burn_in_steps": burn_in_steps}
        if self.feeding == "burn_in":
            return {"burn_in_steps": max(num_steps - prediction_steps, 1)}
        return {"prediction_steps": prediction_steps}

    def check_inputs(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
                     min_steps: int = 2, horizon: int = 0) -> None:
        r"""Checks trajectories ``[N, T >= min_steps, F]``, edges and weights:
        ``[E, K]``, or per step ``[E, T_z >= T - 1 + horizon, K]`` for a
        decoder with :attr:`step_weights` (one per step predicted from ``x``
        and, in a forecast, the ``horizon`` steps after)."""
        self.check_positions(x)
        check_node_features(x, "x", ndim=3, num_features=self.in_channels,
                            dtype=parameter_dtype(self))
        if x.size(1) < min_steps:
            raise ValueError(f"'x' must have at least {min_steps} time step"
                             f"{'s' if min_steps > 1 else ''} to predict from, "
                             f"got shape {tuple(x.shape)}")
        check_edge_index(edge_index, x.size(0))
        if isinstance(edge_weights, Tensor) and edge_weights.dim() == 3 and not self.step_weights:
            raise ValueError(f"{type(self).__name__} takes edge weights [num_edges, "
                             f"num_edge_types], not per step; got shape "
                             f"{tuple(edge_weights.shape)}")
        check_edge_weights(edge_weights, edge_index.size(1), self.num_edge_types,
                           min_steps=x.size(1) - 1 + horizon if self.step_weights else None)

    def segment_rollout(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
                        prediction_steps: int, starts: Optional[Tensor] = None) -> Tensor:
        r"""Predicts steps :math:`2..T` of ``x`` ``[N, T, F]`` in segments of
        :math:`M` = ``prediction_steps`` steps, each started from the ground
        truth at steps :math:`0, M, 2M, \dots` with empty memory and continued
        from the decoder's own predictions (NRI section 3.4; NRI-MPM
        Algorithm 1 with :math:`D = \lceil (T - 1) / M \rceil` segments). All
        segments run at once: :meth:`step` sees states ``[N, D, F]``, and the
        loop is over the :math:`M` steps of a segment, not over :math:`T`.
        Given ``starts`` ``[S]``, the segments start there instead, and the
        predictions of their :math:`S M` steps are returned."""
        edge_index, edge_weights = self.message_edges(edge_index, edge_weights,
                                                      int(self.skip_first))
        num_nodes, num_steps, num_features = x.shape
        chosen = starts is not None
        if chosen:
            state = x[:, starts]
        else:
            state = x[:, 0:num_steps - 1:prediction_steps]
            starts = torch.arange(0, num_steps - 1, prediction_steps, device=x.device)
        memory = None
        predictions = []
        for m in range(prediction_steps if chosen else min(prediction_steps, num_steps - 1)):
            weights = edge_weights
            if edge_weights.dim() == 3:  # segment d's step m is step starts[d] + m
                steps = (starts + m).clamp(max=edge_weights.size(1) - 1)  # past T - 1: unused
                weights = edge_weights[:, steps]
            state, memory = self.rollout_step(state, edge_index, weights, memory)
            predictions.append(state)
        # predictions[m][:, d] is the prediction of step starts[d] + m + 1.
        out = torch.stack(predictions, dim=2).reshape(num_nodes, -1, num_features)
        return out if chosen else out[:, :num_steps - 1]

    def sequential_rollout(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
                           num_inputs: int, first: int = 0, burn_in: Optional[int] = None,
                           every: int = 1, dynamic_graph: Optional[DynamicGraph] = None,
                           window: int = 1) -> Tensor:
        r"""Runs :meth:`step` over inputs :math:`t = ` ``first`` ..
        ``num_inputs - 1`` with the memory carried through: the input of step
        :math:`t` is the ground truth ``x[:, t]`` for :math:`t <` ``burn_in``
        (or, without burn-in, for :math:`t \equiv 0 \pmod{every}`) and the
        previous prediction otherwise. With ``dynamic_graph``, the graph is
        re-inferred before each step after burn-in from the last ``window``
        inputs. Per-step ``edge_weights`` ``[E, T_z, K]`` give step :math:`t`
        the weights ``edge_weights[:, t]``. Returns the predictions
        ``[N, num_inputs - first, F]``."""
        if dynamic_graph is not None and burn_in is None:
            raise ValueError("'dynamic_graph' needs 'burn_in'")
        if dynamic_graph is not None and edge_weights.dim() == 3:
            raise ValueError("give either per-step 'edge_weights' or 'dynamic_graph'")
        edge_index_all = edge_index
        edges = self.message_edges(edge_index, edge_weights, int(self.skip_first))
        memory: Any = None
        own: List[Tensor] = []  # inputs of steps burn_in, burn_in + 1, ...: own predictions
        predictions: List[Tensor] = []
        for t in range(first, num_inputs):
            observed = t < burn_in if burn_in is not None else t % every == 0
            if observed:
                current = x[:, t]
            else:
                current = predictions[-1]
                if burn_in is not None:
                    own.append(current)
            if dynamic_graph is not None and not observed:
                low = t - window + 1  # the window holds inputs low..t
                parts = [x[:, low:burn_in]] if low < burn_in else []
                parts.append(torch.stack(own[max(low - burn_in, 0):], dim=1))
                weights = dynamic_graph(torch.cat(parts, dim=1), edge_index_all)
                check_edge_weights(weights, edge_index_all.size(1), self.num_edge_types,
                                   name="dynamic_graph(window, edge_index)")
                edges = self.message_edges(edge_index_all, weights, int(self.skip_first))
            message_index, weights = edges
            if weights.dim() == 3:  # per-step weights: those of input step t
                weights = weights[:, t]
            prediction, memory = self.rollout_step(current, message_index, weights, memory)
            predictions.append(prediction)
        return torch.stack(predictions, dim=1)

    def _repr_options(self) -> str:
        options = [f"num_edge_types={self.num_edge_types}"]
        if self.skip_first:
            options.append("skip_first=True")
        if self.aggr != "sum":
            options.append(f"aggr={self.aggr!r}")
        return ", ".join(options + self.memory_options())

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self._repr_options()})"


def _window(dynamic_graph: Optional[DynamicGraph], window: Optional[int], limit: int,
            label: str) -> int:
    # The re-inference window: at most the steps fed from the ground truth.
    if dynamic_graph is None:
        return 1
    window = limit if window is None else window
    if not 1 <= window <= limit:
        raise ValueError(f"'dynamic_graph_window' must be in [1, {label}={limit}], "
                         f"got {window}")
    return window


def _rename_parameters(module: NRIDecoder, state_dict: Dict[str, Any], prefix: str,
                       *args: Any) -> None:
    # A state dict of torch_nri 0.1.0 names some parameters otherwise; a
    # subclass that has a layer of the old name keeps its own parameters.
    children = dict(module.named_children())
    for old, new in module.renamed_parameters.items():
        if old in children:
            continue
        for key in [k for k in state_dict if k.startswith(f"{prefix}{old}.")]:
            state_dict[f"{prefix}{new}{key[len(prefix) + len(old):]}"] = state_dict.pop(key)
