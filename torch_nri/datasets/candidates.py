"""The candidate graph of each system of a dataset, shared by every dataset."""
from typing import Callable, Optional

from torch import Tensor

from torch_nri.graphs import fully_connected_edge_index, knn_graph


def check_candidate_graph(graph: str, k: Optional[int]) -> None:
    """Raises unless ``graph`` is ``"full"``, or ``"knn"`` with a positive ``k``."""
    if graph not in ("full", "knn"):
        raise ValueError(f"'graph' must be 'full' or 'knn', got {graph!r}")
    if graph == "knn" and (k is None or k < 1):
        raise ValueError(f"graph='knn' needs a positive 'k', got k={k}")


def candidate_graph(graph: str, k: Optional[int], num_nodes: int) -> Callable[[Tensor], Tensor]:
    """Returns a function from one system's trajectories ``[N, T, F]`` to its
    candidate ``edge_index``: the fully connected graph (built once, the same
    for every system) or the ``k`` nearest neighbours of features 0 and 1
    (positions) at the first step."""
    check_candidate_graph(graph, k)
    if graph == "full":
        full = fully_connected_edge_index(num_nodes)
        return lambda x: full
    return lambda x: knn_graph(x[:, 0, :2], k)
