r"""The ``make demo`` job: simulate springs, train NRI, evaluate, print a
table and save the run. Its settings are chosen to reach the paper's regime
of edge recovery within minutes on 2 CPU cores (see the docs' results page)."""
import time
from typing import Any, Dict

from torch_nri.training.config import TrainConfig
from torch_nri.training.loop import train

# Next to the paper's (50k systems, hidden 256, lr 5e-4, 500 epochs):
# fewer systems and epochs, hidden 64, and edge type 0 hard-coded as "no
# edge", which breaks the symmetry between the two types early.
DEMO_SETTINGS: Dict[str, Any] = dict(
    system="springs", num_nodes=5, num_train=5000, num_valid=500, num_test=500,
    encoder_hidden=64, decoder_hidden=64, skip_first=True, lr=1e-3, epochs=60,
    batch_size=128, prediction_steps=10)

# NRI paper, springs with 5 objects: Table 1 (accuracy) and Table 2 (MSE).
PAPER = {"accuracy": 0.999, "mse": {1: 3.12e-8, 10: 3.29e-6, 20: 2.13e-5}}


def run_demo(out: str = "runs/demo", data_root: str = "data", **overrides: Any) -> Dict[str, Any]:
    r"""Runs the demo and prints its results beside the paper's."""
    config = TrainConfig(**{**DEMO_SETTINGS, "out": out, "data_root": data_root, **overrides})
    print(f"torch-nri demo: springs-5, {config.num_train} training systems, hidden "
          f"{config.encoder_hidden}, {config.epochs} epochs, lr {config.lr}, type 0 = no edge")
    started = time.perf_counter()
    results = train(config)
    results["total_seconds"] = time.perf_counter() - started
    mse = results["mse"]
    print(f"\n{'':<18}{'demo':>12}{'NRI paper':>12}")
    print(f"{'edge accuracy':<18}{100 * results['accuracy']:>11.1f}%"
          f"{100 * PAPER['accuracy']:>11.1f}%")
    for step in (1, 10, 20):
        print(f"{f'MSE {step} steps':<18}{mse[step - 1]:>12.2e}{PAPER['mse'][step]:>12.2e}")
    print(f"\n(MSE on normalised data, as in the paper's Table 2.) Wall time "
          f"{results['total_seconds']:.0f} s, of which training {results['train_seconds']:.0f} s.")
    print(f"Run saved in {out}/: best.pt, last.pt, log.csv, results.json, curves.png, "
          f"trajectories.png, graph.png")
    return results
