"""Input checks shared by every layer and model.

Each check raises a :class:`ValueError` whose message names the argument and
the shape or value seen, so a user learns from the error what to fix. Shape
and dtype checks are free and always run. Checks that read tensor values
(range of ``edge_index``, finiteness) copy a result to the host, a
synchronisation on a GPU: they run at the public entries (a layer or model
called directly) and are switched off by :func:`value_checks` where the data
was checked once already (the training loop), and while :func:`torch.compile`
traces, where they would only break the graph.
"""
import contextlib
import contextvars
import math
import numbers
from typing import Any, Iterator, Optional, Sequence

import torch
from torch import Tensor

_VALUE_CHECKS = contextvars.ContextVar("torch_nri_value_checks", default=True)


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    r"""Switches the checks that read tensor values (finite inputs,
    ``edge_index`` in range) on or off inside the ``with`` block, in the
    manner of :mod:`torch_geometric.debug`. They are on by default; the
    training loop switches them off for its steps after checking its data
    where it enters (the datasets check their files and simulations), so that
    a step makes no device-to-host copy for them::

        with torch_nri.value_checks(False):
            out = model(x, edge_index)   # x and edge_index known to be valid
    """
    token = _VALUE_CHECKS.set(bool(enabled))
    try:
        yield
    finally:
        _VALUE_CHECKS.reset(token)


def values_checked() -> bool:
    r"""Whether checks that read tensor values run here and now."""
    return not torch.compiler.is_compiling() and _VALUE_CHECKS.get()


def check_node_features(x: Tensor, name: str = "x", ndim: Optional[int] = 3,
                        num_features: Optional[int] = None,
                        dtype: Optional[torch.dtype] = None) -> None:
    """Checks node features ``[N, T, F]`` (or ``ndim`` dimensions) are finite
    and, given the ``dtype`` of the module's parameters, of that dtype (a
    float64 array from numpy would otherwise fail deep in a matmul); under
    :func:`torch.autocast`, which casts both, any floating dtype will do."""
    if not isinstance(x, Tensor):
        raise ValueError(f"'{name}' must be a tensor, got {type(x).__name__} "
                         f"(convert it with torch.as_tensor)")
    if ndim is not None and x.dim() != ndim:
        layout = {2: "[num_nodes, num_features]",
                  3: "[num_nodes, num_steps, num_features]"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"'{name}' must have shape {layout}, got shape {tuple(x.shape)}")
    if num_features is not None and x.size(-1) != num_features:
        raise ValueError(f"'{name}' must have {num_features} features in its last "
                         f"dimension, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"'{name}' must be a floating point tensor, got {x.dtype}")
    if dtype is not None and x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
        raise ValueError(f"'{name}' has dtype {x.dtype}, but the module's parameters are "
                         f"{dtype}: convert one to the other (e.g. x.to({dtype}))")
    check_finite(x, name)


def parameter_dtype(module: torch.nn.Module) -> Optional[torch.dtype]:
    """The dtype of a module's first floating point parameter (:obj:`None`
    for a module without one)."""
    return next((p.dtype for p in module.parameters() if p.is_floating_point()), None)


def parameter_device(module: torch.nn.Module) -> Optional[torch.device]:
    """The device of a module's first parameter (:obj:`None` for a module
    without one)."""
    return next((p.device for p in module.parameters()), None)


def check_batch(batch: Optional[Tensor], num_nodes: int, name: str = "batch") -> None:
    """Checks a PyG ``batch`` vector (the graph of each node) is a long tensor
    of shape ``[num_nodes]``; where values are checked, also that it is sorted
    and non-negative, as in a :class:`~torch_geometric.data.Batch`."""
    if batch is None:
        return
    if not isinstance(batch, Tensor):
        raise ValueError(f"'{name}' must be a tensor, got {type(batch).__name__}")
    if batch.shape != (num_nodes,):
        raise ValueError(f"'{name}' must have shape [{num_nodes}] (one graph index per "
                         f"node), got shape {tuple(batch.shape)}")
    if batch.dtype != torch.long:
        raise ValueError(f"'{name}' must be of dtype torch.long (the graph of each node), "
                         f"got {batch.dtype}")
    if batch.numel() and values_checked():
        if int(batch.min()) < 0 or bool((batch[1:] < batch[:-1]).any()):
            raise ValueError(f"'{name}' must be sorted non-negative graph indices, as in a "
                             f"torch_geometric Batch (nodes of one graph consecutive)")


def check_batch_norm_sizes(num_nodes: int, num_edges: int, training: bool,
                           batch_norm: bool = True) -> None:
    """Batch normalisation in training cannot normalise a single row: a
    one-node system, or a graph of one candidate edge, would fail inside torch."""
    if training and batch_norm and 1 in (num_nodes, num_edges):
        raise ValueError(f"the encoder's batch normalisation cannot normalise a single node "
                         f"or edge in training, got {num_nodes} node(s) and {num_edges} "
                         f"candidate edge(s) (a system of one object has no interactions to "
                         f"infer; batch several systems, or use eval mode or batch_norm=False)")


def check_int(value: Any, name: str, low: Optional[int] = None, optional: bool = False,
              where: str = "") -> None:
    """Raises unless ``value`` is an integer (not a bool) of at least ``low``
    (or :obj:`None`, if ``optional``). ``where`` says whose argument it is."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"'{name}'{where} must be an integer, got {value!r}")
    if low is not None and value < low:
        bound = "non-negative" if low == 0 else f"at least {low}"
        raise ValueError(f"'{name}'{where} must be {bound}, got {value}")


def check_sizes(layer: Any, optional: Sequence[str] = (), **sizes: Any) -> None:
    """Raises unless each of ``sizes``, constructor arguments of ``layer``
    by name (``hidden_channels=0``), is a positive integer (or :obj:`None`,
    for those named in ``optional``). A layer checks them in ``__init__``,
    before it builds anything: a size of 0 would otherwise fail deep inside
    :mod:`torch.nn.init` with a :class:`ZeroDivisionError`. The error names
    the argument and the layer (its class, where ``layer`` is an instance:
    a subclass is named as itself)."""
    owner = layer if isinstance(layer, str) else type(layer).__name__
    for name, value in sizes.items():
        if optional and name in optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"'{name}' of {owner} must be a positive integer, got {value!r}")


def check_real(value: Any, name: str, low: Optional[float] = None, high: Optional[float] = None,
               low_open: bool = True, high_open: bool = False, optional: bool = False,
               where: str = "") -> None:
    """Raises unless ``value`` is a finite real number (NaN and inf refused)
    in the interval from ``low`` to ``high``, each end open or closed (or
    :obj:`None`, if ``optional``)."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value):
        raise ValueError(f"'{name}'{where} must be a finite number, got {value!r}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        if high is None:
            interval = ({(True, True): "positive", (True, False): f"greater than {low}",
                         (False, True): "non-negative", (False, False): f"at least {low}"}
                        [low_open, low == 0])
        else:
            interval = (f"in {'(' if low_open else '['}{'-inf' if low is None else low}, "
                        f"{high}{')' if high_open else ']'}")
        raise ValueError(f"'{name}'{where} must be {interval}, got {value}")


def check_finite(x: Tensor, name: str) -> None:
    """Raises if ``x`` holds NaN or infinite values, which would poison training."""
    if values_checked() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"'{name}' contains {bad} non-finite values (NaN or inf) "
                         f"in a tensor of shape {tuple(x.shape)}")


def check_edge_index(edge_index: Tensor, num_nodes: int, name: str = "edge_index") -> None:
    """Checks ``edge_index`` (or the argument ``name``) is a ``[2, E]`` long
    tensor indexing ``num_nodes`` nodes."""
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"'{name}' must be a tensor, got {type(edge_index).__name__}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'{name}' must have shape [2, num_edges], "
                         f"got shape {tuple(edge_index.shape)}")
    if edge_index.dtype != torch.long:
        raise ValueError(f"'{name}' must be of dtype torch.long, got {edge_index.dtype}")
    if edge_index.numel() > 0 and values_checked():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= num_nodes:
            raise ValueError(f"'{name}' holds node indices in [{low}, {high}], "
                             f"out of range for {num_nodes} nodes")


def check_edge_weights(edge_weights: Tensor, num_edges: int, num_edge_types: int,
                       name: str = "edge_weights", min_steps: Optional[int] = None) -> None:
    """Checks per-edge type weights have shape ``[E, K]`` and are finite; with
    ``min_steps``, per-step weights ``[E, T, K]`` with ``T >= min_steps`` are
    accepted too."""
    if not isinstance(edge_weights, Tensor):
        raise ValueError(f"'{name}' must be a tensor, got {type(edge_weights).__name__}")
    expected = (num_edges, num_edge_types)
    per_step = (min_steps is not None and edge_weights.dim() == 3
                and (edge_weights.size(0), edge_weights.size(2)) == expected)
    if per_step and edge_weights.size(1) < min_steps:
        raise ValueError(f"per-step '{name}' [num_edges, num_steps, num_edge_types] must "
                         f"cover the {min_steps} steps run, got shape "
                         f"{tuple(edge_weights.shape)}")
    if not per_step and tuple(edge_weights.shape) != expected:
        steps = (f" or [num_edges, num_steps >= {min_steps}, num_edge_types]"
                 if min_steps is not None else "")
        raise ValueError(f"'{name}' must have shape [num_edges, num_edge_types] = "
                         f"{list(expected)}{steps}, got shape {tuple(edge_weights.shape)}")
    check_finite(edge_weights, name)


def check_skip_first(skip_first: bool, num_edge_types: int) -> None:
    """Type 0 as "no edge" needs another type to pass messages."""
    if skip_first and num_edge_types < 2:
        raise ValueError(f"'skip_first=True' needs at least 2 edge types, "
                         f"got num_edge_types={num_edge_types}")
