"""Do the defaults work? Trains every documented (model, parts, system) pair
with ``torch-nri train`` and nothing but the system, the data sizes and a
wall-time budget, exactly as a first-time user would, and prints the test
edge accuracy, F1 and AUROC of each (issue 26, item 3).

    python benchmarks/defaults_check.py --max-seconds 300 --threads 1 \\
        --out runs/defaults --csv docs/_static/defaults_check.csv

Each case is ``NAME`` from the table below (``--cases`` picks some; the
default is all): the model or parts, then the system. The data
(``--num-train``, a tenth of it for validation and test) are simulated
once per system under ``--out/data`` and shared; a case whose
``results.json`` exists is skipped, so a rerun carries on. ``--extra``
adds flags to every case, to compare a setting against the defaults;
``--suffix`` then names those runs apart (both with ``=``, as their values
start with a dash: ``"--extra=--lr 1e-3" --suffix=-lr1e-3``).

F1 is that of "edge vs no edge" where the run has a no-edge type
(``skip_first``), else that of type 1. The flags each run resolved to are
its ``config.json``; the table prints the ones that the defaults choose
per model and system (encoder, type 0 as no edge, prior, batch).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Tuple

#: name: (system, objects, flags of the model or parts), the most used first.
CASES: Dict[str, Tuple[str, int, List[str]]] = {}
_SYSTEMS = (("springs", 5), ("charged", 5), ("kuramoto", 5), ("proximity", 3))
_MODELS = (("nri", []), ("dnri", ["--model", "dnri"]),
           ("nri-mpm", ["--encoder", "ri", "--decoder", "st"]),
           ("supervised", ["--model", "supervised"]), ("nri-rnn", ["--decoder", "rnn"]))
for model, model_flags in _MODELS:
    for system, objects in _SYSTEMS:
        if not (model == "supervised" and system == "proximity"):  # one graph per system
            CASES[f"{model}/{system}"] = (system, objects, model_flags)
CASES["nri-mlp/charged"] = ("charged", 5, ["--encoder", "mlp"])
CASES["nri-cnn/springs"] = ("springs", 5, ["--encoder", "cnn"])
CASES["nri-sim/springs"] = ("springs", 5, ["--decoder", "sim"])

FIELDS = ["case", "system", "flags", "encoder", "skip_first", "prior", "batch_size", "epochs",
          "train_seconds", "accuracy", "f1", "auroc", "mse_1", "mse_10", "mse_20"]


def run_case(name: str, args: argparse.Namespace) -> Dict[str, object]:
    system, objects, flags = CASES[name]
    flags = flags + args.extra.split()
    out = os.path.join(args.out, "runs", name.replace("/", "-") + args.suffix)
    results = os.path.join(out, "results.json")
    if not os.path.exists(results):
        command = [sys.executable, "-m", "torch_nri", "train", "--system", system,
                   "--num-nodes", str(objects), "--num-train", str(args.num_train),
                   "--num-valid", str(max(1, args.num_train // 10)),
                   "--num-test", str(max(1, args.num_train // 10)),
                   "--max-seconds", str(args.max_seconds), "--threads", str(args.threads),
                   "--seed", str(args.seed), "--device", "cpu", "--no-progress",
                   "--data-root", os.path.join(args.out, "data"), "--out", out] + flags
        os.makedirs(out, exist_ok=True)
        started = time.time()
        with open(os.path.join(out, "train.log"), "w") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
        if code != 0:
            print(f"{name}: failed (exit {code}) after {time.time() - started:.0f} s; see "
                  f"{out}/train.log", file=sys.stderr)
            return {"case": name, "system": system, "flags": " ".join(flags)}
    with open(results) as f:
        result = json.load(f)
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    mse = result.get("mse") or [float("nan")] * 20
    return {"case": name, "system": system, "flags": " ".join(flags),
            "encoder": config["encoder"], "skip_first": config["skip_first"],
            "prior": config["prior"], "batch_size": config["batch_size"],
            "epochs": result["epochs"], "train_seconds": round(result["train_seconds"]),
            "accuracy": result.get("accuracy"), "f1": result.get("f1"),
            "auroc": result.get("auroc"), "mse_1": mse[0], "mse_10": mse[9],
            "mse_20": mse[19]}


def percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES),
                        metavar="CASE", help=f"cases to run (default: all: {', '.join(CASES)})")
    parser.add_argument("--max-seconds", type=float, default=300,
                        help="training budget of each run (default: 300, the issue's)")
    parser.add_argument("--num-train", type=int, default=2000,
                        help="training systems; validation and test a tenth (default: 2000)")
    parser.add_argument("--threads", type=int, default=1, help="threads per run (default: 1)")
    parser.add_argument("--seed", type=int, default=42, help="seed of every run (default: 42)")
    parser.add_argument("--extra", default="", help="flags added to every case (default: none)")
    parser.add_argument("--suffix", default="",
                        help="added to each run's directory name (default: none)")
    parser.add_argument("--out", default="runs/defaults",
                        help="directory of the data and runs (default: runs/defaults)")
    parser.add_argument("--csv", default=None, help="write the table here (default: no file)")
    args = parser.parse_args()

    rows = []
    print(f"{'case':<22} {'encoder':<8} {'type 0':<7} {'prior':<11} {'batch':>5} "
          f"{'epochs':>6} {'seconds':>7} {'acc %':>6} {'F1 %':>6} {'AUROC':>6}")
    for name in args.cases:
        row = run_case(name, args)
        rows.append(row)
        if "accuracy" not in row:
            continue
        prior = "uniform" if row["prior"] is None else "/".join(f"{p:g}" for p in row["prior"])
        auroc = "-" if row["auroc"] is None else f"{row['auroc']:.3f}"
        print(f"{name:<22} {row['encoder']:<8} {'no edge' if row['skip_first'] else 'free':<7} "
              f"{prior:<11} {row['batch_size']:>5} {row['epochs']:>6} "
              f"{row['train_seconds']:>7} {percent(row['accuracy']):>6} "
              f"{percent(row['f1']):>6} {auroc:>6}", flush=True)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
