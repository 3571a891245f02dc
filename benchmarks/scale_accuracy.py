"""Edge accuracy, AUROC, candidate recall, seconds and peak memory against
the number of objects N, on the large-N benchmark systems (local springs:
springs between some of the 4 nearest neighbours; local charges: Coulomb
forces within distance 1; both one object per unit area, without walls;
docs/large_systems.rst), in two modes:

  transfer  one model trained on systems of --train-nodes objects for
            --budget seconds, then evaluated on systems of each N;
  each      a model trained on systems of N objects for --budget seconds,
            evaluated on its own test split (systems of N objects).

The data are simulated with the package's simulators and written as a
user's own files (x [systems, T, N, 4] and the relations as an edge_list),
and every run and evaluation is the one a user makes: TrainConfig(data=...)
with translation-invariant inputs (position_features 0 1), a kNN candidate
graph (--k), type 0 as "no edge", and evaluate_run on a file (the command
line's evaluate --data). Each training and each evaluation runs in a process
of its own, so that its wall time and peak resident memory are its own.
Results are kept per cell in --out and reused by a rerun.

    python benchmarks/scale_accuracy.py --system springs \\
        --sizes 10 100 1000 10000 100000 --modes transfer each --budget 480 \\
        --seeds 42 1 2 --out runs/scale --csv scale.csv --plot scale.png

For charged particles an edge's type is whether the two charges have the
same sign; the edge_list lists the same-sign pairs that come within the
cut-off at some step (type 1), every other candidate is type 0.
"""
import argparse
import csv
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List

import numpy as np

FIELDS = ["system", "mode", "seed", "num_nodes", "num_edges", "accuracy", "auroc", "f1",
          "candidate_recall", "mse_1", "eval_seconds", "eval_peak_gb", "train_seconds",
          "train_epochs", "train_peak_gb"]
# The papers' 5-object accuracy (NRI Table 1), beside the table.
PAPER = {"springs": 0.999, "charged": 0.821}
PHYSICS = {"springs": dict(num_neighbors=4, density=1.0, walls=False),
           "charged": dict(cutoff=1.0, density=1.0, walls=False)}


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def simulate(system: str, num_sims: int, num_nodes: int, length: int,
             seed: int) -> Dict[str, np.ndarray]:
    """``x`` [S, T, N, 4] and ``edge_list`` [M, 4] of ``num_sims`` systems."""
    from scipy.spatial import cKDTree

    from torch_nri.simulations import simulate_charged, simulate_springs

    simulator = simulate_springs if system == "springs" else simulate_charged
    sim = simulator(num_sims, num_nodes, length, seed=seed, **PHYSICS[system])
    rows = []
    for s in range(num_sims):
        if system == "springs":  # symmetric sparse types, both directions listed
            relation = sim.relations[s].tocoo()
            pairs = np.stack([relation.row, relation.col], 1)
            types = relation.data
        else:  # same-sign pairs within the cut-off at some sampled step
            close = np.unique(np.concatenate([
                cKDTree(step).query_pairs(PHYSICS[system]["cutoff"], output_type="ndarray")
                for step in sim.positions[s]]), axis=0)
            same = sim.charges[s, close[:, 0]] * sim.charges[s, close[:, 1]] > 0
            close = close[same]
            pairs = np.concatenate([close, close[:, ::-1]])
            types = np.ones(len(pairs), dtype=np.int64)
        keep = types != 0
        rows.append(np.column_stack([np.full(keep.sum(), s), pairs[keep], types[keep]]))
    return {"x": sim.features, "edge_list": np.concatenate(rows).astype(np.int64)}


def systems_for(num_nodes: int, objects: int) -> int:
    """Systems of ``num_nodes`` objects for about ``objects`` objects in all."""
    return max(1, math.ceil(objects / num_nodes))


def write_data(args, directory: str, num_nodes: int, splits: Dict[str, int], seed: int) -> None:
    os.makedirs(directory, exist_ok=True)
    for index, (name, count) in enumerate(splits.items()):
        path = os.path.join(directory, f"{name}.npz")
        if os.path.exists(path):
            continue
        length = args.test_length if name in ("test", "eval") else args.length
        arrays = simulate(args.system, count, num_nodes, length, seed * 10 + index)
        np.savez(path + ".tmp.npz", **arrays)
        os.replace(path + ".tmp.npz", path)


def child_train(spec: Dict[str, Any]) -> Dict[str, Any]:
    from torch_nri.training import TrainConfig, train

    results = train(TrainConfig(**spec))
    return {"train_seconds": results["train_seconds"], "train_epochs": results["epochs"],
            "train_peak_gb": peak_gb()}


def child_evaluate(spec: Dict[str, Any]) -> Dict[str, Any]:
    from torch_nri.training import TrainConfig, evaluate_run, run_dataset

    run_dir, data = spec["run_dir"], spec["data"]
    config = TrainConfig.load(run_dir)
    started = time.perf_counter()
    test_set = run_dataset(run_dir, data, config)
    results = evaluate_run(run_dir, config=config, test_set=test_set, device="cpu",
                           batch_size=spec["batch_size"])
    return {"accuracy": results.get("accuracy"), "auroc": results.get("auroc"),
            "f1": results.get("f1"), "candidate_recall": results.get("candidate_recall"),
            "mse_1": results["mse"][0], "num_edges": test_set[0].edge_index.size(1),
            "eval_seconds": time.perf_counter() - started, "eval_peak_gb": peak_gb()}


def in_child(args, kind: str, spec: Dict[str, Any], cache: str) -> Dict[str, Any]:
    """Runs a training or an evaluation in a fresh process (its own time and
    memory); cached in ``cache``."""
    if os.path.exists(cache):
        with open(cache) as f:
            return json.load(f)
    command = [sys.executable, os.path.abspath(__file__), "--child", kind, json.dumps(spec),
               "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    with open(cache, "w") as f:
        json.dump(result, f)
    return result


def train_spec(args, data: str, out: str, seed: int) -> Dict[str, Any]:
    return dict(data=data, out=out, graph="knn", k=args.k, skip_first=True,
                position_features=[0, 1], encoder_hidden=args.hidden,
                decoder_hidden=args.hidden, batch_size=args.batch_size, lr=args.lr,
                max_seconds=None if args.epochs else args.budget,
                epochs=args.epochs or 10**6, seed=seed, device="cpu",
                threads=args.threads, progress=False)


def run(args) -> List[Dict[str, Any]]:
    rows = []
    root = os.path.join(args.out, args.system)
    for seed in args.seeds:
        if "transfer" in args.modes:
            data = os.path.join(root, f"data-{args.train_nodes}")
            write_data(args, data, args.train_nodes,
                       dict(train=args.train_systems, valid=args.valid_systems,
                            test=args.valid_systems), args.data_seed)
            run_dir = os.path.join(root, f"transfer-seed{seed}")
            os.makedirs(run_dir, exist_ok=True)
            trained = in_child(args, "train", train_spec(args, data, run_dir, seed),
                               os.path.join(run_dir, "train.json"))
            for num_nodes in args.sizes:
                eval_dir = os.path.join(root, f"eval-{num_nodes}")
                write_data(args, eval_dir, num_nodes,
                           dict(eval=systems_for(num_nodes, args.eval_objects)),
                           args.data_seed + 1)
                result = in_child(args, "evaluate", dict(
                    run_dir=run_dir, data=os.path.join(eval_dir, "eval.npz"),
                    batch_size=systems_for(num_nodes, args.eval_objects)),
                    os.path.join(run_dir, f"eval-{num_nodes}.json"))
                rows.append({"system": args.system, "mode": "transfer", "seed": seed,
                             "num_nodes": num_nodes, **trained, **result})
                print_row(rows[-1])
        if "each" in args.modes:
            for num_nodes in args.sizes:
                data = os.path.join(root, f"data-{num_nodes}")
                write_data(args, data, num_nodes,
                           dict(train=systems_for(num_nodes, args.train_systems
                                                  * args.train_nodes),
                                valid=systems_for(num_nodes, args.valid_systems
                                                  * args.train_nodes),
                                test=systems_for(num_nodes, args.eval_objects)),
                           args.data_seed)
                run_dir = os.path.join(root, f"each-{num_nodes}-seed{seed}")
                os.makedirs(run_dir, exist_ok=True)
                spec = train_spec(args, data, run_dir, seed)
                spec["batch_size"] = max(1, args.batch_size * args.train_nodes // num_nodes)
                trained = in_child(args, "train", spec, os.path.join(run_dir, "train.json"))
                result = in_child(args, "evaluate", dict(
                    run_dir=run_dir, data=os.path.join(data, "test.npz"),
                    batch_size=systems_for(num_nodes, args.eval_objects)),
                    os.path.join(run_dir, "eval.json"))
                rows.append({"system": args.system, "mode": "each", "seed": seed,
                             "num_nodes": num_nodes, **trained, **result})
                print_row(rows[-1])
    return rows


def print_row(row: Dict[str, Any]) -> None:
    def pct(value):
        return "-" if value is None else f"{100 * value:.1f}"
    print(f"{row['system']:<8}{row['mode']:<9}{row['seed']:>5}{row['num_nodes']:>8}"
          f"{row['num_edges']:>10}{pct(row['accuracy']):>7}{pct(row['auroc']):>7}"
          f"{pct(row['candidate_recall']):>7}{row['eval_seconds']:>8.1f}"
          f"{row['eval_peak_gb']:>7.2f}{row['train_epochs']:>7}", flush=True)


def summary(rows: List[Dict[str, Any]]) -> None:
    print(f"\nmean ± std over seeds (paper, 5 objects: {100 * PAPER[rows[0]['system']]:.1f} %)")
    print(f"{'mode':<9}{'N':>8}{'accuracy %':>16}{'AUROC %':>16}{'recall %':>16}"
          f"{'eval s':>8}{'peak GB':>9}")
    for mode in dict.fromkeys(r["mode"] for r in rows):
        for num_nodes in dict.fromkeys(r["num_nodes"] for r in rows):
            cell = [r for r in rows if r["mode"] == mode and r["num_nodes"] == num_nodes]
            if not cell:
                continue

            def spread(key):
                values = [100 * r[key] for r in cell if r[key] is not None]
                if not values:
                    return "-"
                std = statistics.stdev(values) if len(values) > 1 else 0.0
                return f"{statistics.mean(values):.1f} ± {std:.1f}"
            print(f"{mode:<9}{num_nodes:>8}{spread('accuracy'):>16}{spread('auroc'):>16}"
                  f"{spread('candidate_recall'):>16}"
                  f"{statistics.mean(r['eval_seconds'] for r in cell):>8.1f}"
                  f"{max(r['eval_peak_gb'] for r in cell):>9.2f}")


def plot(rows: List[Dict[str, Any]], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for mode in dict.fromkeys(r["mode"] for r in rows):
        sizes = sorted({r["num_nodes"] for r in rows if r["mode"] == mode})
        for ax, key, label in ((axes[0], "accuracy", "edge accuracy"),
                               (axes[1], "eval_seconds", "evaluation seconds"),
                               (axes[2], "eval_peak_gb", "evaluation peak GB")):
            values = [[r[key] for r in rows if r["mode"] == mode and r["num_nodes"] == n]
                      for n in sizes]
            ax.errorbar(sizes, [np.mean(v) for v in values], [np.std(v) for v in values],
                        marker="o", capsize=3, label=mode)
            ax.set_xscale("log")
            ax.set_xlabel("objects N")
            ax.set_ylabel(label)
    axes[0].axhline(PAPER[rows[0]["system"]], color="gray", ls="--", label="paper, N = 5")
    axes[0].legend()
    axes[2].set_yscale("log")
    fig.suptitle(f"{rows[0]['system']}: learned graphs against N")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"saved {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--system", choices=list(PHYSICS), default="springs")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000, 100000])
    parser.add_argument("--modes", nargs="+", choices=("transfer", "each"),
                        default=["transfer", "each"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--data-seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=480,
                        help="training seconds of each model (default: 480)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="train each model for this many epochs instead of --budget "
                             "seconds: results that a loaded machine does not change (the "
                             "training seconds are still reported)")
    parser.add_argument("--train-nodes", type=int, default=100,
                        help="objects per training system of the transfer mode")
    parser.add_argument("--train-systems", type=int, default=300,
                        help="training systems of --train-nodes objects (the each mode "
                             "trains on as many objects in all)")
    parser.add_argument("--valid-systems", type=int, default=50)
    parser.add_argument("--eval-objects", type=int, default=2000,
                        help="objects evaluated per N, at least one system (default: 2000)")
    parser.add_argument("--length", type=int, default=5000, help="steps of training systems")
    parser.add_argument("--test-length", type=int, default=7100,
                        help="steps of evaluated systems (T = 70)")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=1,
                        help="systems of --train-nodes objects per batch (each mode: as "
                             "many objects)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/scale_accuracy")
    parser.add_argument("--csv", default=None)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    import torch_nri  # noqa: F401  (before torch: huge pages, torch_nri._allocator)
    import torch

    torch.set_num_threads(args.threads)
    if args.child:
        kind, spec = args.child
        result = (child_train if kind == "train" else child_evaluate)(json.loads(spec))
        print(json.dumps(result))
        return
    print(f"{'system':<8}{'mode':<9}{'seed':>5}{'N':>8}{'E':>10}{'acc %':>7}{'AUROC':>7}"
          f"{'recall':>7}{'eval s':>8}{'GB':>7}{'epochs':>7}")
    rows = run(args)
    summary(rows)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
