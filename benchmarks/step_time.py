"""Forward + backward time of one NRI training step (MLPEncoder + MLPDecoder).

The two settings of the core issue:
  - springs-5: N = 5, fully connected, batch 128, T = 49, hidden 256;
  - N = 1,000 on a 10-nearest-neighbour graph of random positions, batch 1.

    python benchmarks/step_time.py [--repeats 5] [--threads 2]

Prints a table: median seconds per forward+backward, and the process's peak
resident memory after each setting (ru_maxrss, so it only grows).
"""
import argparse
import resource
import statistics
import time

import numpy as np
import torch
from scipy.spatial import cKDTree

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.models import NRI
from torch_nri.nn import MLPDecoder, MLPEncoder


def knn_edge_index(num_nodes: int, k: int, seed: int = 0) -> torch.Tensor:
    """Edges from each node's k nearest neighbours (senders) to the node."""
    pos = np.random.default_rng(seed).random((num_nodes, 2))
    _, neighbours = cKDTree(pos).query(pos, k=k + 1)  # the first is the node itself
    receivers = np.repeat(np.arange(num_nodes), k)
    return torch.tensor(np.stack([neighbours[:, 1:].reshape(-1), receivers]))


def time_step(num_nodes, edge_index, batch, num_steps, hidden, repeats):
    """Median forward+backward seconds over ``repeats`` after one warm-up."""
    num_features = 4
    model = NRI(MLPEncoder(num_steps * num_features, hidden, 2),
                MLPDecoder(num_features, 2, hidden, hidden, hidden), num_edge_types=2)
    # A batch is the disjoint union of `batch` copies of the graph.
    offsets = torch.arange(batch).repeat_interleave(edge_index.size(1)) * num_nodes
    batched = edge_index.repeat(1, batch) + offsets
    x = torch.randn(batch * num_nodes, num_steps, num_features)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        out = model(x, batched, prediction_steps=10)
        (-model.elbo(out).elbo).backward()
        times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    return statistics.median(times[1:]), batched.size(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=49)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    settings = [("springs-5, fully connected", 5, fully_connected_edge_index(5), 128),
                ("N=1000, 10-NN graph", 1000, knn_edge_index(1000, 10), 1)]
    print(f"torch {torch.__version__}, {args.threads} threads, T={args.steps}, "
          f"hidden={args.hidden}, prediction_steps=10")
    print(f"{'setting':<28}{'batch':>6}{'edges':>9}{'fwd+bwd s':>11}{'peak RSS GB':>13}")
    for name, num_nodes, edge_index, batch in settings:
        seconds, num_edges = time_step(num_nodes, edge_index, batch, args.steps,
                                       args.hidden, args.repeats)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"{name:<28}{batch:>6}{num_edges:>9}{seconds:>11.3f}{peak:>13.2f}")


if __name__ == "__main__":
    main()
