"""Validation edge accuracy and MSE against wall-clock time, for training
recipes side by side over several seeds, on the same data and machine.

    python benchmarks/time_to_accuracy.py --base demo \\
        --recipe demo --recipe "lr3e-3: lr=3e-3" --recipe "b32: batch_size=32" \\
        --seeds 42 1 2 --max-seconds 360 --parallel 2 --threads 1 \\
        --out runs/tta --csv docs/_static/tta.csv --plot docs/_static/tta.png

A recipe is ``NAME: key=value, key=value`` (fields of
torch_nri.training.TrainConfig, values parsed as Python literals) on top of
``--base``: ``demo`` (the demo's settings), ``paper`` (the training
defaults, which are the paper's) or ``none``; further ``--set key=value``
apply to every recipe (the system, say). The data are simulated once
(``--data-seed``) and shared by every run; each (recipe, seed) trains in a
fresh process, ``--parallel`` at a time with ``--threads`` each, for its
epochs (the recipe's, ``--set``'s, ``--epochs`` or the base's, in that order)
or the wall-time budget ``--max-seconds`` (the loop stops at the first epoch
past it), whichever ends first, and keeps its run directory: a rerun with the same --out skips the runs
that finished.

Writes every epoch of every run to --csv (recipe, seed, epoch, seconds,
steps, validation accuracy and MSE) and prints, per recipe, the test
accuracy and MSE (mean and standard deviation over seeds), and the median
time to reach each --thresholds validation accuracy (the runs that never
did are counted). --plot draws validation accuracy against seconds, a line
per run.
"""
import argparse
import ast
import csv
import json
import math
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Tuple

FIELDS = ["recipe", "seed", "epoch", "seconds", "steps", "lr", "train_accuracy",
          "valid_accuracy", "valid_mse", "valid_nll"]


def _top_level_items(text: str) -> List[str]:
    # The comma-separated items of text, where a comma inside brackets
    # belongs to its value: "position_features=[0, 1], lr=1e-3" is two items.
    items, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    return items + [text[start:]]


def parse_assignments(text: str) -> Dict[str, Any]:
    settings = {}
    for item in filter(None, (part.strip() for part in _top_level_items(text))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {item!r}")
        try:
            settings[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            settings[key.strip()] = value.strip()  # a plain string
    return settings


def parse_recipe(text: str) -> Tuple[str, Dict[str, Any]]:
    name, _, settings = text.partition(":")
    return name.strip(), parse_assignments(settings)


def base_settings(name: str) -> Dict[str, Any]:
    if name == "demo":
        from torch_nri.training.demo import DEMO_SETTINGS
        return dict(DEMO_SETTINGS)
    return {}


def run_dir(args, recipe: str, seed: int) -> str:
    return os.path.join(args.out, f"{recipe}-seed{seed}")


def config_of(args, overrides: Dict[str, Any], recipe: str, seed: int) -> Dict[str, Any]:
    # Epochs: the recipe's, else --set's, else --epochs, else the base's.
    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    return {**base_settings(args.base), **epochs, **args.common, **overrides, "seed": seed,
            "data_seed": args.data_seed, "max_seconds": args.max_seconds, "progress": False,
            "threads": args.threads, "out": run_dir(args, recipe, seed),
            "data_root": args.data_root}


def train_one(config: Dict[str, Any]) -> None:
    """In a child process: one run."""
    from torch_nri.training import TrainConfig, train
    train(TrainConfig(**config))


def launch(config: Dict[str, Any]) -> int:
    if os.path.exists(os.path.join(config["out"], "results.json")):
        return 0  # finished in an earlier invocation
    os.makedirs(config["out"], exist_ok=True)
    with open(os.path.join(config["out"], "tta.log"), "w") as log:
        return subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                               json.dumps(config)], stdout=log, stderr=subprocess.STDOUT).returncode


def curves(args, recipe: str, seed: int, batch_size: int, num_train: int) -> List[Dict]:
    path = os.path.join(run_dir(args, recipe, seed), "log.csv")
    if not os.path.exists(path):
        return []
    rows, seconds = [], 0.0
    steps_per_epoch = math.ceil(num_train / batch_size)
    for row in csv.DictReader(open(path)):
        seconds += float(row["seconds"])
        rows.append({"recipe": recipe, "seed": seed, "epoch": int(row["epoch"]),
                     "seconds": round(seconds, 2), "steps": int(row["epoch"]) * steps_per_epoch,
                     **{key: row[key] for key in FIELDS[5:]}})
    return rows


def mean_std(values: List[float]) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "-"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4g} ± {std:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--base", choices=("demo", "paper", "none"), default="demo")
    parser.add_argument("--recipe", action="append", default=[],
                        help="NAME: key=value, ... (repeatable)")
    parser.add_argument("--set", action="append", default=[], dest="common",
                        help="key=value for every recipe (repeatable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--data-seed", type=int, default=42)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every recipe that does not set its own (default: "
                             "the base's: 60 for demo, 500 for paper)")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.9, 0.95, 0.99])
    parser.add_argument("--out", default="runs/time_to_accuracy")
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--csv", default=None)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    if args.child is not None:
        train_one(json.loads(args.child))
        return
    args.common = parse_assignments(",".join(args.common))
    recipes = dict(parse_recipe(text) for text in (args.recipe or ["base:"]))

    from torch_nri.training import TrainConfig, build_datasets
    configs = {(name, seed): config_of(args, overrides, name, seed)
               for name, overrides in recipes.items() for seed in args.seeds}
    for config in configs.values():  # every recipe valid, every dataset cached, first
        build_datasets(TrainConfig(**config))
    with ThreadPoolExecutor(args.parallel) as pool:
        codes = dict(zip(configs, pool.map(launch, configs.values())))

    rows, summary = [], []
    for name in recipes:
        finals, reach = [], {t: [] for t in args.thresholds}
        for seed in args.seeds:
            config = configs[name, seed]
            run = curves(args, name, seed, config.get("batch_size", 128),
                         config.get("num_train", 50_000))
            rows += run
            results_path = os.path.join(config["out"], "results.json")
            if codes[name, seed] != 0 or not os.path.exists(results_path):
                print(f"{name} seed {seed}: failed, see {config['out']}/tta.log")
                continue
            finals.append(json.load(open(results_path)))
            for threshold in args.thresholds:
                times = [r["seconds"] for r in run if float(r["valid_accuracy"]) >= threshold]
                reach[threshold].append(times[0] if times else float("inf"))
        summary.append((name, finals, reach))

    print(f"\n{len(args.seeds)} seeds, {args.max_seconds:g} s of training each "
          f"(base: {args.base}, common: {args.common})")
    # A space before every cell, so that a wide value never runs into the next.
    header = (f"{'recipe':<22} {'test accuracy':>17} {'MSE 1':>20} {'MSE 10':>20}"
              f" {'MSE 20':>20} {'train s':>13}"
              + "".join(f" {f'to {t:.0%}':>9}" for t in args.thresholds))
    print(header)
    for name, finals, reach in summary:
        cells = [mean_std([r["accuracy"] for r in finals])]
        cells += [mean_std([r["mse"][step - 1] for r in finals]) for step in (1, 10, 20)]
        line = f"{name:<22} {cells[0]:>17} {cells[1]:>20} {cells[2]:>20} {cells[3]:>20}"
        line += f" {mean_std([r['train_seconds'] for r in finals]):>13}"
        for threshold in args.thresholds:
            times = sorted(reach[threshold])
            median = statistics.median(times) if times else float("inf")
            line += f" {'never' if median == float('inf') else f'{median:.0f} s':>9}"
        print(line)
        print(f"{'':<22}per seed: " + ", ".join(f"{r['accuracy']:.4f}" for r in finals))

    if args.csv:
        os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for index, name in enumerate(recipes):
            for seed in args.seeds:
                run = [r for r in rows if r["recipe"] == name and r["seed"] == seed]
                ax.plot([r["seconds"] for r in run], [float(r["valid_accuracy"]) for r in run],
                        color=colours[index % len(colours)], lw=1,
                        label=name if seed == args.seeds[0] else None)
        ax.set_xlabel("training seconds")
        ax.set_ylabel("validation edge accuracy")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
