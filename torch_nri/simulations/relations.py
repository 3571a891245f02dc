"""Random interaction graphs shared by the simulators."""
from typing import Optional, Sequence

import numpy as np


def probabilities(probs: Optional[Sequence[float]], num_types: int, name: str) -> np.ndarray:
    """Checked probabilities of ``num_types`` types (uniform if ``None``)."""
    if probs is None:
        return np.full(num_types, 1.0 / num_types)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (num_types,) or (probs < 0).any() or abs(probs.sum() - 1) > 1e-8:
        raise ValueError(f"'{name}' must hold {num_types} non-negative probabilities "
                         f"summing to 1, got {probs.tolist()}")
    return probs


def symmetric_types(rng: np.random.Generator, num_sims: int, num_nodes: int,
                     probs: np.ndarray) -> np.ndarray:
    """Random symmetric edge types ``[S, N, N]`` with a zero diagonal."""
    types = rng.choice(len(probs), size=(num_sims, num_nodes, num_nodes), p=probs)
    upper = np.triu(types, 1)
    return upper + upper.transpose(0, 2, 1)
