"""Reproduces the NRI paper's Table 1 (edge accuracy) and Table 2 (path MSE
at 1, 10 and 20 steps) with torch_nri's models and baselines: every chosen row
on every chosen system, under one budget, for several seeds. Each cell is one
``torch-nri`` command, run in a fresh process; its results.json is kept, so an
interrupted reproduction resumes where it stopped. Writes a markdown report
with both tables (mean and standard error over seeds, the paper's numbers
beside ours) and the command behind every cell::

    python benchmarks/reproduce.py --systems springs charged kuramoto --seeds 0 1 \\
        --num-train 5000 --num-valid 500 --num-test 500 --hidden 64 --lr 1e-3 \\
        --epochs 500 --max-seconds 60 --out runs/reproduce --report docs/_reproduce.md

The budget is the same for every trained row: ``--num-train`` systems,
``--epochs`` epochs and ``--max-seconds`` of training time, whichever ends
first. The data are simulated once (``--data-seed``) and shared by all seeds.
"""
import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

SYSTEMS = ("springs", "charged", "kuramoto")
STEPS = (1, 10, 20)


@dataclass(frozen=True)
class Row:
    label: str
    tables: Tuple[int, ...]  # 1: edge accuracy, 2: path MSE
    systems: Tuple[str, ...] = SYSTEMS


# The rows of NRI's Tables 1 and 2, in the paper's order.
ROWS: Dict[str, Row] = {
    "corr-path": Row("Corr. (path)", (1,)),
    "corr-lstm": Row("Corr. (LSTM)", (1,)),
    "nri-sim": Row("NRI (sim.)", (1,), ("springs",)),
    "static": Row("Static", (2,)),
    "lstm-single": Row("LSTM (single)", (2,)),
    "lstm-joint": Row("LSTM (joint)", (2,)),
    "full-graph": Row("NRI (full graph)", (2,)),
    "nri": Row("NRI (learned)", (1, 2)),
    "true-graph": Row("NRI (true graph)", (2,)),
    "supervised": Row("Supervised", (1,)),
}
TABLE_ORDER = {1: ["corr-path", "corr-lstm", "nri-sim", "nri", "supervised"],
               2: ["static", "lstm-single", "lstm-joint", "full-graph", "nri", "true-graph"]}

# NRI (Kipf et al., 2018), 5 objects: Table 1 (accuracy %, mean and standard
# error over 5 runs) and Table 2 (MSE at 1, 10 and 20 steps).
PAPER_ACCURACY = {
    "corr-path": {"springs": (52.4, 0.0), "charged": (55.8, 0.0), "kuramoto": (62.8, 0.0)},
    "corr-lstm": {"springs": (52.7, 0.9), "charged": (54.2, 2.0), "kuramoto": (54.4, 0.5)},
    "nri-sim": {"springs": (99.8, 0.0), "charged": (59.6, 0.8)},
    "nri": {"springs": (99.9, 0.0), "charged": (82.1, 0.6), "kuramoto": (96.0, 0.1)},
    "supervised": {"springs": (99.9, 0.0), "charged": (95.0, 0.3), "kuramoto": (99.7, 0.0)},
}
PAPER_MSE = {
    "static": {"springs": (7.93e-5, 7.59e-3, 2.82e-2), "charged": (5.09e-3, 2.26e-2, 5.42e-2),
               "kuramoto": (5.75e-2, 3.79e-1, 3.39e-1)},
    "lstm-single": {"springs": (2.27e-6, 4.69e-4, 4.90e-3),
                    "charged": (2.71e-3, 7.05e-3, 1.65e-2),
                    "kuramoto": (7.81e-4, 3.80e-2, 8.08e-2)},
    "lstm-joint": {"springs": (4.13e-8, 2.19e-5, 7.02e-4),
                   "charged": (1.68e-3, 6.45e-3, 1.49e-2),
                   "kuramoto": (3.44e-4, 1.29e-2, 4.74e-2)},
    "full-graph": {"springs": (1.66e-5, 1.64e-3, 6.31e-3),
                   "charged": (1.09e-3, 3.78e-3, 9.24e-3),
                   "kuramoto": (2.15e-2, 5.19e-2, 8.96e-2)},
    "nri": {"springs": (3.12e-8, 3.29e-6, 2.13e-5), "charged": (1.05e-3, 3.21e-3, 7.06e-3),
            "kuramoto": (1.40e-2, 2.01e-2, 3.26e-2)},
    "true-graph": {"springs": (1.69e-11, 1.32e-9, 7.06e-6),
                   "charged": (1.04e-3, 3.03e-3, 5.71e-3),
                   "kuramoto": (1.35e-2, 1.54e-2, 2.19e-2)},
}
# What each system's NRI uses beyond the defaults (as examples/*.py): the
# CNN encoder for charged and Kuramoto, type 0 as "no edge" for Kuramoto.
SYSTEM_OPTIONS = {"springs": [], "charged": ["--encoder", "cnn"],
                  "kuramoto": ["--encoder", "cnn", "--skip-first"]}
TRAINED_ROWS = {"nri": [], "supervised": ["--model", "supervised", "--dropout", "0.5"],
                "full-graph": ["--model", "full-graph"], "true-graph": ["--model", "true-graph"],
                "nri-sim": ["--decoder", "sim"]}
BASELINE_ROWS = {"corr-path": "correlation", "corr-lstm": "lstm-correlation",
                 "static": "static", "lstm-single": "lstm-single", "lstm-joint": "lstm-joint"}


def cell_command(row: str, system: str, seed: int, run_dir: str,
                 args: argparse.Namespace) -> List[str]:
    r"""The ``torch-nri`` command of one cell."""
    data = ["--system", system, "--num-nodes", str(args.num_nodes), "--num-train",
            str(args.num_train), "--num-valid", str(args.num_valid), "--num-test",
            str(args.num_test), "--data-root", args.data_root, "--data-seed",
            str(args.data_seed), "--seed", str(seed), "--out", run_dir]
    if row in BASELINE_ROWS:
        command = ["torch-nri", "baseline", BASELINE_ROWS[row]] + data
        if row not in ("corr-path", "static"):  # the rows that train an LSTM
            command += ["--hidden", str(args.hidden), "--epochs", str(args.epochs),
                        "--max-seconds", str(args.max_seconds), "--lr", str(args.lr)]
        return command
    options = list(SYSTEM_OPTIONS[system])
    if row == "full-graph" and "--skip-first" in options:
        options.remove("--skip-first")  # the one edge type of the full graph passes messages
    return (["torch-nri", "train"] + data + options + TRAINED_ROWS[row] +
            ["--encoder-hidden", str(args.hidden), "--decoder-hidden", str(args.hidden),
             "--lr", str(args.lr), "--batch-size", str(args.batch_size), "--epochs",
             str(args.epochs), "--max-seconds", str(args.max_seconds), "--no-progress"])


def run_cell(command: List[str], run_dir: str, log) -> Optional[dict]:
    r"""Runs a cell's command unless its results.json exists; returns the
    results, or None when the command failed (its output goes to the log)."""
    path = os.path.join(run_dir, "results.json")
    if not os.path.exists(path):
        started = time.perf_counter()
        argv = [sys.executable, "-m", "torch_nri"] + command[1:]
        done = subprocess.run(argv, capture_output=True, text=True)
        log(f"{shlex.join(command)}  [{time.perf_counter() - started:.0f} s, "
            f"exit {done.returncode}]")
        if done.returncode != 0:
            log(done.stdout + done.stderr)
            return None
    with open(path) as f:
        return json.load(f)


def mean_and_se(values: Sequence[float]) -> Tuple[float, float]:
    r"""Mean and standard error of the mean (NaN with one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def accuracy_cell(values: List[float], paper: Optional[Tuple[float, float]]) -> str:
    if not values:
        return "–"
    mean, se = mean_and_se([100 * v for v in values])
    ours = f"{mean:.1f}" + ("" if math.isnan(se) else f" ± {se:.1f}")
    return ours + (f" ({paper[0]:.1f} ± {paper[1]:.1f})" if paper else "")


def mse_cell(values: List[float], paper: Optional[float]) -> str:
    if not values:
        return "–"
    mean, se = mean_and_se(values)
    ours = f"{mean:.2e}" + ("" if math.isnan(se) else f" ± {se:.1e}")
    return ours + (f" ({paper:.2e})" if paper is not None else "")


def report(results: Dict[Tuple[str, str], List[dict]], commands: Dict[Tuple[str, str], List[str]],
           rows: List[str], systems: List[str], args: argparse.Namespace) -> str:
    r"""The markdown report: both tables and the commands."""
    lines = [f"Budget: {args.num_train} training / {args.num_valid} validation / "
             f"{args.num_test} test systems of {args.num_nodes} objects (data seed "
             f"{args.data_seed}), hidden size {args.hidden}, learning rate {args.lr}, "
             f"batch {args.batch_size}, at most {args.epochs} epochs and {args.max_seconds:g} s "
             f"of training per run; seeds {' '.join(map(str, args.seeds))}. Ours: mean ± "
             f"standard error over seeds; the NRI paper's numbers in parentheses.", ""]
    if any(1 in ROWS[r].tables for r in rows):
        lines += ["Table 1: edge accuracy (%).", "",
                  "| Model | " + " | ".join(systems) + " |",
                  "|---" * (len(systems) + 1) + "|"]
        for row in (r for r in TABLE_ORDER[1] if r in rows):
            cells = [accuracy_cell([r["accuracy"] for r in results.get((row, s), [])],
                                   PAPER_ACCURACY.get(row, {}).get(s)) for s in systems]
            lines.append(f"| {ROWS[row].label} | " + " | ".join(cells) + " |")
        lines.append("")
    for system in (s for s in systems if any(2 in ROWS[r].tables for r in rows)):
        lines += [f"Table 2, {system}: MSE of the predicted steps after the 49 observed.", "",
                  "| Model | " + " | ".join(f"{step} step{'s' * (step > 1)}" for step in STEPS)
                  + " |", "|---" * (len(STEPS) + 1) + "|"]
        for row in (r for r in TABLE_ORDER[2] if r in rows):
            runs = results.get((row, system), [])
            paper = PAPER_MSE.get(row, {}).get(system)
            cells = [mse_cell([r["mse"][step - 1] for r in runs],
                              None if paper is None else paper[i])
                     for i, step in enumerate(STEPS)]
            lines.append(f"| {ROWS[row].label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Commands (one per seed; run from the repository root):", "", "```"]
    for (row, system), cell_commands in commands.items():
        lines += [f"# {ROWS[row].label}, {system}"] + [shlex.join(c) for c in cell_commands]
    lines += ["```", ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--num-nodes", type=int, default=5)
    parser.add_argument("--num-train", type=int, default=5000)
    parser.add_argument("--num-valid", type=int, default=500)
    parser.add_argument("--num-test", type=int, default=500)
    parser.add_argument("--data-seed", type=int, default=42)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="training time of each run (default: 60)")
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--out", default="runs/reproduce")
    parser.add_argument("--report", default=None, help="also write the markdown here")
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    log_file = open(os.path.join(args.out, "commands.log"), "a")

    def log(message: str) -> None:
        print(message, flush=True)
        log_file.write(message + "\n")
        log_file.flush()

    results: Dict[Tuple[str, str], List[dict]] = {}
    commands: Dict[Tuple[str, str], List[str]] = {}
    # Seed by seed, so that a reproduction cut short has whole tables of fewer seeds.
    for seed in args.seeds:
        for system in args.systems:
            for row in (r for r in ROWS if r in args.rows and system in ROWS[r].systems):
                run_dir = os.path.join(args.out, system, row, f"seed{seed}")
                command = cell_command(row, system, seed, run_dir, args)
                commands.setdefault((row, system), []).append(command)
                result = run_cell(command, run_dir, log)
                if result is not None:
                    results.setdefault((row, system), []).append(result)
    markdown = report(results, commands, args.rows, args.systems, args)
    for path in filter(None, [os.path.join(args.out, "report.md"), args.report]):
        with open(path + ".tmp", "w") as f:
            f.write(markdown)
        os.replace(path + ".tmp", path)  # atomic: a report is whole or absent
    print(markdown)
    log_file.close()
    return markdown


if __name__ == "__main__":
    main()
