"""Generation speed of the simulators.

1. Springs-5 training split (50,000 systems of 5,000 steps) with the
   vectorised simulator, against a plain one-system-at-a-time loop (the
   original generator's structure: per system, per step, numpy on [2, N]
   arrays with np.subtract.outer forces) timed on a sample of systems.
2. With --all-splits, every standard split (train 50k x 5000 steps, valid
   10k x 5000, test 10k x 10000; Kuramoto 500 / 1000 RK4 steps) of springs,
   charged and Kuramoto.

    python benchmarks/simulation_speed.py [--baseline-sims 20] [--all-splits]
"""
import argparse
import time

import numpy as np

from torch_nri.simulations import simulate_charged, simulate_kuramoto, simulate_springs


def springs_one_system(rng, num_nodes=5, length=5000, sample_freq=100, box=5.0, dt=0.001,
                       return_edges=False):
    """One springs system at a time, as a plain loop over steps (baseline):
    the samples [(loc [2, N], vel [2, N]), ...] (and the edges, if asked)."""
    edges = np.triu(rng.random((num_nodes, num_nodes)) < 0.5, 1)
    edges = (edges + edges.T).astype(float)
    loc = rng.normal(0, 0.5, (2, num_nodes))
    vel = rng.normal(0, 1, (2, num_nodes))
    vel *= 0.5 / np.linalg.norm(vel, axis=0)
    samples = []

    def force(loc):
        diff = np.stack([np.subtract.outer(loc[d], loc[d]) for d in range(2)])
        return np.clip((-0.1 * edges * diff).sum(-1), -0.1 / dt, 0.1 / dt)

    def walls(loc, vel):
        over, under = loc > box, loc < -box
        loc[over] = 2 * box - loc[over]
        vel[over] = -np.abs(vel[over])
        loc[under] = -2 * box - loc[under]
        vel[under] = np.abs(vel[under])

    vel += dt * force(loc)
    for step in range(1, length):
        loc += dt * vel
        walls(loc, vel)
        if step % sample_freq == 0:
            samples.append((loc.copy(), vel.copy()))
        vel += dt * force(loc)
    return (samples, edges) if return_edges else samples


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-sims", type=int, default=20)
    parser.add_argument("--num-train", type=int, default=50000)
    parser.add_argument("--all-splits", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    loop = timed(lambda: [springs_one_system(rng) for _ in range(args.baseline_sims)])
    vectorised = timed(lambda: simulate_springs(args.num_train, seed=0))
    per_loop, per_vec = loop / args.baseline_sims, vectorised / args.num_train
    print("springs-5 training split, 5,000 steps per system")
    print(f"{'method':<34}{'systems':>9}{'total s':>10}{'ms/system':>11}")
    print(f"{'one system at a time (loop)':<34}{args.baseline_sims:>9}{loop:>10.2f}"
          f"{1e3 * per_loop:>11.3f}")
    print(f"{'vectorised simulate_springs':<34}{args.num_train:>9}{vectorised:>10.2f}"
          f"{1e3 * per_vec:>11.3f}")
    print(f"speed-up per system: {per_loop / per_vec:.0f}x")

    if args.all_splits:
        print("\nstandard splits (5 objects)")
        print(f"{'system':<10}{'split':<7}{'systems':>9}{'steps':>7}{'seconds':>10}")
        runs = [(name, fn, split, n, steps)
                for name, fn, (train_steps, test_steps) in (
                    ("springs", simulate_springs, (5000, 10000)),
                    ("charged", simulate_charged, (5000, 10000)),
                    ("kuramoto", simulate_kuramoto, (500, 1000)))
                for split, n, steps in (("train", 50000, train_steps),
                                        ("valid", 10000, train_steps),
                                        ("test", 10000, test_steps))]
        for name, fn, split, n, steps in runs:
            freq = 10 if name == "kuramoto" else 100
            seconds = timed(lambda: fn(n, length=steps, sample_freq=freq, seed=1))
            print(f"{name:<10}{split:<7}{n:>9}{steps:>7}{seconds:>10.1f}")


if __name__ == "__main__":
    main()
