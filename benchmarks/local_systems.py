"""Local springs and local charges at constant density without walls: the
kNN candidate graph's recall of the true relations, and the time to simulate
one large system.

1. Recall: for each system, number of objects N and k, the datasets'
   ``candidate_recall`` (graph="knn") of the training split (T = 49) and of
   the test split (T = --test-length // 100 - 1), a few systems per split.
2. Time: one system of each size, T = --time-length // 100 - 1 steps
   (7,100 steps: T = 70), with the simulator alone.

    python benchmarks/local_systems.py --recall-sizes 100 1000 10000 --ks 4 8 10 20 \
        --time-sizes 10000 100000
"""
import argparse
import tempfile
import time

from torch_nri.datasets import ChargedDataset, SpringsDataset

# Springs between some of the 4 nearest neighbours; charges within distance 1;
# both at one object per unit area, in free space.
SETTINGS = {
    "springs": (SpringsDataset, dict(num_neighbors=4, density=1.0, walls=False)),
    "charged": (ChargedDataset, dict(cutoff=1.0, density=1.0, walls=False)),
}


def systems_of(num_nodes: int, objects: int) -> int:
    """Enough systems per split for about ``objects`` objects (at least one)."""
    return max(1, objects // num_nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--recall-sizes", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--ks", type=int, nargs="+", default=[4, 8, 10, 20])
    parser.add_argument("--objects", type=int, default=2000,
                        help="objects per split of the recall datasets (default: 2000)")
    parser.add_argument("--length", type=int, default=5000, help="steps of training systems")
    parser.add_argument("--test-length", type=int, default=7100, help="steps of test systems")
    parser.add_argument("--time-sizes", type=int, nargs="*", default=[10000, 100000])
    parser.add_argument("--time-length", type=int, default=7100)
    parser.add_argument("--data-root", default=None, help="cache (default: a temporary one)")
    args = parser.parse_args()

    if args.recall_sizes:
        print(f"candidate recall of the kNN graph at the first step "
              f"(train T = {args.length // 100 - 1}, test T = {args.test_length // 100 - 1})")
        print(f"{'system':<9}{'N':>8}{'k':>4}{'systems':>9}{'train':>8}{'test':>8}")
        with tempfile.TemporaryDirectory() as scratch:
            root = args.data_root or scratch
            for name in args.systems:
                cls, physics = SETTINGS[name]
                for num_nodes in args.recall_sizes:
                    count = systems_of(num_nodes, args.objects)
                    options = dict(num_nodes=num_nodes, num_train=count, num_valid=1,
                                   num_test=count, length=args.length,
                                   test_length=args.test_length, graph="knn", **physics)
                    for k in args.ks:
                        recall = [cls(root, split=split, k=k, **options).candidate_recall
                                  for split in ("train", "test")]
                        print(f"{name:<9}{num_nodes:>8}{k:>4}{count:>9}{recall[0]:>8.3f}"
                              f"{recall[1]:>8.3f}", flush=True)

    if args.time_sizes:
        print(f"\nsimulation of one system, {args.time_length} steps "
              f"(T = {args.time_length // 100 - 1})")
        print(f"{'system':<9}{'N':>8}{'seconds':>9}")
        for name in args.systems:
            cls, physics = SETTINGS[name]
            for num_nodes in args.time_sizes:
                start = time.perf_counter()
                cls.simulator(1, num_nodes, args.time_length, seed=0, **physics)
                print(f"{name:<9}{num_nodes:>8}{time.perf_counter() - start:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
