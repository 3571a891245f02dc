"""Shared command line of the system examples: a quick default run, or the
NRI paper's full setting with --paper (TrainConfig's defaults are the paper's)."""
import argparse

from typing import Optional, Sequence

from torch_nri.training import TrainConfig, train

from torch_nri.training.demo import DEMO_SETTINGS

# The demo's recipe, the fastest measured on a 2-core CPU (docs: Fidelity),
# where the paper's setting takes days; the system's own settings (an
# encoder, type 0 as "no edge") are its defaults; the demo's relative
# positions are springs' features (Kuramoto has no positions).
QUICK = {key: value for key, value in DEMO_SETTINGS.items()
         if key not in ("system", "num_nodes", "skip_first", "position_features")}


def run(system: str, description: str, paper: dict, quick: Optional[dict] = None,
        systems: Sequence[str] = ()) -> None:
    # `systems`: the systems --system may choose (default: `system` only).
    parser = argparse.ArgumentParser(description=description)
    if systems:
        parser.add_argument("--system", choices=systems, default=system)
    parser.add_argument("--paper", action="store_true",
                        help="the paper's setting: 50k systems, hidden 256, 500 epochs")
    parser.add_argument("--num-nodes", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", default=None, help="default: runs/SYSTEM")
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    system = getattr(args, "system", system)
    # `paper` holds what the example needs beyond the defaults (e.g. NRI-MPM's parts).
    settings = dict(paper) if args.paper else {**paper, **(QUICK if quick is None else quick)}
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    args.out = args.out or f"runs/{system}"
    config = TrainConfig(system=system, num_nodes=args.num_nodes, out=args.out,
                         data_root=args.data_root, **settings)
    results = train(config, resume=args.resume)
    mse = results["mse"]
    print(f"{system}-{args.num_nodes}: edge accuracy {100 * results['accuracy']:.1f}%, "
          f"MSE 1/10/20 steps {mse[0]:.2e} / {mse[9]:.2e} / {mse[19]:.2e}; run in {args.out}")
