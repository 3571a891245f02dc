"""Time and peak memory of one training step (forward and backward) of
RIEncoder alone on a k-NN graph of random 2-D positions, for each sequence
model and inter-edge scope ("graph": S_inter over all nodes, NRI-MPM's;
"neighbourhood": over each receiver's senders and itself). Each point runs
in a fresh process, so that its peak resident memory is its own.

    OMP_NUM_THREADS=1 python benchmarks/ri_encoder_scope.py --sizes 10000 --threads 1
"""
import argparse
import json
import os
import resource
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import median_seconds, peak_rss_gb  # noqa: E402

from torch_nri.graphs import knn_graph  # noqa: E402
from torch_nri.nn import RIEncoder  # noqa: E402
from torch_nri.nn.ri_encoder import INTER_SCOPES  # noqa: E402


def run_point(args: argparse.Namespace) -> None:
    """Child process: one configuration at one size; prints JSON."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    kind, scope, size = args.point
    x = torch.randn(int(size), args.steps, args.features)
    edge_index = knn_graph(torch.rand(int(size), 2), args.k)
    encoder = RIEncoder(args.steps * args.features, args.hidden, 2, sequence_model=kind,
                        inter_scope=scope).train()

    def step():
        encoder(x, edge_index).square().sum().backward()
        encoder.zero_grad(set_to_none=True)

    seconds = median_seconds(step, args.repeats, long_run=10.0)
    print(json.dumps({"num_edges": edge_index.size(1), "seconds": seconds,
                      "peak_gb": peak_rss_gb()}))


def measure(args: argparse.Namespace, kind: str, scope: str, size: int) -> str:
    command = [sys.executable, os.path.abspath(__file__), "--point", kind, scope, str(size),
               *args.child_args]

    def cap_memory():
        # Address space, with a margin for the libraries' mappings (as scaling.py).
        cap = int((args.memory_cap + 3) * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    row = f"{kind:<10}{scope:<15}{size:>8}"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.time_cap,
                              preexec_fn=cap_memory)
    except subprocess.TimeoutExpired:
        return f"{row}  over the time cap ({args.time_cap:.0f} s)"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return f"{row}  failed: {lines[-1] if lines else done.returncode}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return (f"{row}{result['num_edges']:>10}{result['seconds']:>10.4f}"
            f"{result['peak_gb']:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000])
    parser.add_argument("--sequence-models", nargs="+", default=["gru", "attention"])
    parser.add_argument("--scopes", nargs="+", default=list(INTER_SCOPES))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=49)
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--time-cap", type=float, default=300.0, help="seconds per point")
    parser.add_argument("--memory-cap", type=float, default=10.0, help="GB per point")
    parser.add_argument("--point", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.point:
        run_point(args)
        return
    args.child_args = [f"--{name}={getattr(args, name)}" for name in
                       ("k", "hidden", "steps", "features", "repeats", "threads")]
    print(f"{'model':<10}{'scope':<15}{'N':>8}{'E':>10}{'s/step':>10}{'peak GB':>10}")
    for size in args.sizes:
        for kind in args.sequence_models:
            for scope in args.scopes:
                print(measure(args, kind, scope, size), flush=True)


if __name__ == "__main__":
    main()
