"""Random interaction graphs shared by the simulators."""
from typing import Optional, Sequence

import numpy as np


def probabilities(probs: Optional[Sequence[float]], num_types: int, name: str) -> np.ndarray:
    """Checked probabilities of ``num_types`` types (uniform if ``None``)."""
    if probs is None:
        return np.full(num_types, 1.0 / num_types)
    try:
        values = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.full(1, np.nan)  # not numbers: refused below
    if values.shape != (num_types,) or not np.isfinite(values).all() or (values < 0).any() \
            or abs(values.sum() - 1) > 1e-8:
        raise ValueError(f"'{name}' must hold {num_types} non-negative probabilities "
                         f"summing to 1, got {probs!r}")
    return values


def symmetric_types(rng: np.random.Generator, num_sims: int, num_nodes: int,
                     probs: np.ndarray) -> np.ndarray:
    """Random symmetric edge types ``[S, N, N]`` with a zero diagonal."""
    types = rng.choice(len(probs), size=(num_sims, num_nodes, num_nodes), p=probs)
    upper = np.triu(types, 1)
    return upper + upper.transpose(0, 2, 1)
