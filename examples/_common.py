"""Shared command line of the system examples: a quick default run, or the
NRI paper's full setting with --paper."""
import argparse

from torch_nri.training import TrainConfig, train

PAPER = dict(num_train=50000, num_valid=10000, num_test=10000, encoder_hidden=256,
             decoder_hidden=256, epochs=500, lr=5e-4, batch_size=128)


def run(system: str, description: str, quick: dict, paper: dict) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--paper", action="store_true",
                        help="the paper's setting: 50k systems, hidden 256, 500 epochs")
    parser.add_argument("--num-nodes", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", default=f"runs/{system}")
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    settings = {**quick, **(PAPER if args.paper else {}), **(paper if args.paper else {})}
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    config = TrainConfig(system=system, num_nodes=args.num_nodes, out=args.out,
                         data_root=args.data_root, **settings)
    results = train(config, resume=args.resume)
    mse = results["mse"]
    print(f"{system}-{args.num_nodes}: edge accuracy {100 * results['accuracy']:.1f}%, "
          f"MSE 1/10/20 steps {mse[0]:.2e} / {mse[9]:.2e} / {mse[19]:.2e}; run in {args.out}")
