"""Local springs data made by an independent generator: the user-level check
of learning at scale, written as a plain loop over systems with numpy, not
with torch_nri's simulator.

Each system: objects on a grid 0.5 apart (each jittered by up to a tenth of
the spacing per coordinate, so that no two neighbour distances tie), a
spring (constant 0.1, rest length 0) on each pair of mutual 4-nearest
neighbours with probability 0.5, initial speed 0.5 in a random direction,
no walls; leap-frog with dt = 0.001 as the NRI generator (a first kick,
then per step a drift, a sample every 100 steps, a kick), T samples from
step 100 on.

Writes OUT/train.npz and OUT/valid.npz (T = 49) and OUT/test.npz (T = 70),
each with ``x`` [systems, T, N, 4] (x, y, vx, vy; float32) and
``edge_list`` [M, 4] int64 rows (sample, sender, receiver, type): both
directions of every spring, type 1. With --big, one system of that many
objects and the test split's T in --big-out, with its edge_list too.

    python benchmarks/local_springs_data.py --out data/local_springs
    python benchmarks/local_springs_data.py --out data/local_springs --big 10000 \
        --big-out data/local_springs_big.npz
"""
import argparse
import os

import numpy as np
from scipy.spatial import cKDTree

SPACING, JITTER, SPRING, DT, SAMPLE_FREQ, SPEED = 0.5, 0.1, 0.1, 0.001, 100, 0.5


def grid_positions(rng, num_nodes):
    """``num_nodes`` points on rows of ceil(sqrt(N)) columns, SPACING apart,
    each coordinate jittered uniformly by up to JITTER * SPACING."""
    columns = int(np.ceil(np.sqrt(num_nodes)))
    index = np.arange(num_nodes)
    grid = SPACING * np.stack([index % columns, index // columns], axis=1).astype(float)
    return grid + rng.uniform(-JITTER * SPACING, JITTER * SPACING, grid.shape)


def mutual_neighbour_springs(rng, positions, k=4):
    """Pairs (i < j) each among the other's k nearest neighbours, each kept
    with probability 0.5."""
    _, nearest = cKDTree(positions).query(positions, k=k + 1)
    neighbours = [set(row[1:]) for row in nearest]
    pairs = np.array([(i, j) for i in range(len(positions)) for j in neighbours[i]
                      if i < j and i in neighbours[j]], dtype=np.int64).reshape(-1, 2)
    return pairs[rng.random(len(pairs)) < 0.5]


def hooke(positions, springs):
    """Force on every object: -SPRING (r_i - r_j) summed over its springs."""
    i, j = springs[:, 0], springs[:, 1]
    pull = -SPRING * (positions[i] - positions[j])  # on i; j gets the opposite
    force = np.zeros_like(positions)
    np.add.at(force, i, pull)
    np.add.at(force, j, -pull)
    return force


def one_system(rng, num_nodes, num_steps):
    """x [T, N, 4] and the springs [P, 2] of one system."""
    positions = grid_positions(rng, num_nodes)
    springs = mutual_neighbour_springs(rng, positions)
    angle = rng.uniform(0, 2 * np.pi, num_nodes)
    velocities = SPEED * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    samples = []
    velocities += DT * hooke(positions, springs)
    for step in range(1, num_steps * SAMPLE_FREQ + 1):
        positions += DT * velocities
        if step % SAMPLE_FREQ == 0:
            samples.append(np.concatenate([positions, velocities], axis=1))
        velocities += DT * hooke(positions, springs)
    return np.stack(samples), springs


def write_split(path, rng, num_systems, num_nodes, num_steps):
    xs, rows = [], []
    for sample in range(num_systems):
        x, springs = one_system(rng, num_nodes, num_steps)
        xs.append(x)
        both = np.concatenate([springs, springs[:, ::-1]])
        rows.append(np.column_stack([np.full(len(both), sample), both,
                                     np.ones(len(both), dtype=np.int64)]))
    edge_list = np.concatenate(rows)
    edge_list = edge_list[np.lexsort(edge_list[:, 2::-1].T)]  # by sample, sender, receiver
    np.savez(path, x=np.stack(xs).astype(np.float32), edge_list=edge_list)
    print(f"{path}: {num_systems} systems of {num_nodes} objects, T = {num_steps}, "
          f"{len(edge_list) // 2} springs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory of the three splits")
    parser.add_argument("--num-nodes", type=int, default=100)
    parser.add_argument("--num-train", type=int, default=300)
    parser.add_argument("--num-valid", type=int, default=50)
    parser.add_argument("--num-test", type=int, default=50)
    parser.add_argument("--steps", type=int, default=49, help="T of train and valid")
    parser.add_argument("--test-steps", type=int, default=70, help="T of test and --big")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--big", type=int, default=None, help="objects of one large system")
    parser.add_argument("--big-out", default=None, help="its .npz (with --big)")
    args = parser.parse_args()
    if (args.big is None) != (args.big_out is None):
        parser.error("--big and --big-out go together")
    os.makedirs(args.out, exist_ok=True)
    # One stream per split (and one for the large system): a split's size
    # does not change the others.
    splits = (("train", args.num_train, args.steps), ("valid", args.num_valid, args.steps),
              ("test", args.num_test, args.test_steps))
    for index, (split, num_systems, num_steps) in enumerate(splits):
        write_split(os.path.join(args.out, f"{split}.npz"),
                    np.random.default_rng([args.seed, index]), num_systems, args.num_nodes,
                    num_steps)
    if args.big is not None:
        write_split(args.big_out, np.random.default_rng([args.seed, len(splits)]), 1, args.big,
                    args.test_steps)


if __name__ == "__main__":
    main()
