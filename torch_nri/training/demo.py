r"""The ``make demo`` job: simulate springs, train NRI, evaluate, print a
table and save the run. Its settings are the fastest recipe measured on
2 CPU cores (``benchmarks/time_to_accuracy.py``; the docs' fidelity page
has every trial); ``torch-nri demo --paper`` runs the paper's instead."""
import time
from typing import Any, Dict

from torch_nri.training.config import TrainConfig
from torch_nri.training.loop import train

# Next to the paper's (50k systems, hidden 256, batch 128, lr 5e-4, 500
# epochs, two free edge types): fewer systems and epochs, a smaller decoder,
# edge type 0 hard-coded as "no edge" (it breaks the symmetry between the
# two types from the first step), batches of 32 (4 times the updates per
# epoch, which on this CPU also cost less per system than batches of 128), a
# wider encoder, the learning rate cut to 0.3x every 20 epochs, and relative
# positions in every layer (translation-invariant inputs: 98.0 against 96.9 %
# over 3 seeds, and lower MSE, though the box has walls).
DEMO_SETTINGS: Dict[str, Any] = dict(
    system="springs", num_nodes=5, num_train=5000, num_valid=500, num_test=500,
    encoder_hidden=128, decoder_hidden=64, skip_first=True, lr=1e-3, epochs=60,
    lr_decay=20, gamma=0.3, batch_size=32, prediction_steps=10, position_features=[0, 1])

# The NRI paper's springs-5 setting: TrainConfig's defaults are the paper's.
PAPER_SETTINGS: Dict[str, Any] = dict(system="springs", num_nodes=5)

# NRI paper, springs with 5 objects: Table 1 (accuracy) and Table 2 (MSE).
PAPER = {"accuracy": 0.999, "mse": {1: 3.12e-8, 10: 3.29e-6, 20: 2.13e-5}}


def describe(settings: Dict[str, Any]) -> str:
    r"""One line that says what a setting of the demo trains, e.g. ``5k
    systems, encoder hidden 128, decoder hidden 64, batch 32, lr 1e-3, 60
    epochs, type 0 = no edge, relative positions``; the README and the docs
    quote it for the demo (a test keeps them in step). Fields not given read
    as :class:`TrainConfig`'s defaults."""
    config = TrainConfig(**settings)
    parts = [f"{config.num_train / 1000:g}k systems"]
    if config.encoder_hidden == config.decoder_hidden:
        parts.append(f"hidden {config.encoder_hidden}")
    else:
        parts += [f"encoder hidden {config.encoder_hidden}",
                  f"decoder hidden {config.decoder_hidden}"]
    parts += [f"batch {config.batch_size}", f"lr {config.lr:g}", f"{config.epochs} epochs"]
    if config.lr_decay < config.epochs:
        parts.append(f"lr x {config.gamma:g} every {config.lr_decay} epochs")
    parts.append("type 0 = no edge" if config.skip_first
                 else f"{config.num_edge_types} free edge types")
    if config.position_features is not None:
        parts.append("relative positions")
    return ", ".join(parts)


def run_demo(out: str = "runs/demo", data_root: str = "data", paper: bool = False,
             **overrides: Any) -> Dict[str, Any]:
    r"""Runs the demo (``paper=True``: the paper's setting, days on a CPU)
    and prints its results beside the paper's."""
    settings = {**(PAPER_SETTINGS if paper else DEMO_SETTINGS), **overrides}
    config = TrainConfig(**settings, out=out, data_root=data_root)
    print(f"torch-nri demo: springs-5, {describe(settings)}")
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
