"""A springs test set made by an independent implementation of the NRI
paper's generator (supplement B.1): the plain one-system-at-a-time loop of
benchmarks/simulation_speed.py, not torch_nri's vectorised simulator.
Writes ``x`` [samples, T, N, 4] (position and velocity, in the simulation's
units) and ``edges`` [samples, N, N] to an .npz that ``torch-nri evaluate
RUN --data FILE`` reads, normalising with the run's own statistics, as a
user's own data would be.

    python benchmarks/springs_reference_data.py --out data/springs5_reference.npz
    torch-nri evaluate runs/demo --data data/springs5_reference.npz
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simulation_speed import springs_one_system  # noqa: E402

from torch_nri.io import atomic_write  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-systems", type=int, default=500)
    parser.add_argument("--num-nodes", type=int, default=5)
    parser.add_argument("--length", type=int, default=10000, help="steps (the test split's)")
    parser.add_argument("--seed", type=int, default=2018)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    xs, edges = [], []
    for _ in range(args.num_systems):
        samples, system_edges = springs_one_system(rng, args.num_nodes, args.length,
                                                   return_edges=True)
        # [T] of ([2, N], [2, N]) -> [T, N, 4]: x, y, vx, vy
        xs.append(np.stack([np.concatenate([loc, vel]).T for loc, vel in samples]))
        edges.append(system_edges.astype(np.int64))
    x = np.stack(xs).astype(np.float32)
    atomic_write(args.out, lambda f: np.savez(f, x=x, edges=np.stack(edges)))
    print(f"{args.num_systems} springs-{args.num_nodes} systems of {len(xs[0])} steps "
          f"written to {args.out}")


if __name__ == "__main__":
    main()
