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
from typing import Iterator, Optional

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
                        num_features: Optional[int] = None) -> None:
    """Checks node features ``[N, T, F]`` (or ``ndim`` dimensions) are finite."""
    if not isinstance(x, Tensor):
        raise ValueError(f"'{name}' must be a tensor, got {type(x).__name__}")
    if ndim is not None and x.dim() != ndim:
        layout = {2: "[num_nodes, num_features]",
                  3: "[num_nodes, num_steps, num_features]"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"'{name}' must have shape {layout}, got shape {tuple(x.shape)}")
    if num_features is not None and x.size(-1) != num_features:
        raise ValueError(f"'{name}' must have {num_features} features in its last "
                         f"dimension, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"'{name}' must be a floating point tensor, got {x.dtype}")
    check_finite(x, name)


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
