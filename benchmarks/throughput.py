"""Training throughput on springs-5 and how close the decoder gets to the
machine's matrix-multiply peak.

    python benchmarks/throughput.py [--batch 128] [--hidden 256] [--repeats 5]

Prints four tables:
  1. the machine's measured matrix-multiply peak (fp32 and bf16 torch.mm);
  2. training examples per second (forward, backward and Adam step of the
     paper's model: MLP encoder + MLP decoder, T = 49, M = 10) for the dense
     reference and torch_nri, fp32 and bf16 autocast;
  3. the achieved FLOP/s of one decoder step (forward) against that peak;
  4. whether computing the first message layer per node and gathering
     (W [a, b] = W_s a + W_r b) beats concatenating per edge;
and with --profile, where torch_nri's float32 training step spends its time
(torch.profiler, operators by self time).
"""
import argparse
import os
import sys

import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (NUM_EDGE_TYPES, NUM_FEATURES, batched, build_model,  # noqa: E402
                    decoder_step_flops, median_seconds, segments, training_step)
from torch_nri.graphs import fully_connected_edge_index  # noqa: E402

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def matmul_peak(sizes, repeats: int) -> dict:
    print("matrix-multiply peak (torch.mm, square)")
    peaks = {}
    for name, dtype in PRECISIONS.items():
        best = 0.0
        for n in sizes:
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            seconds = median_seconds(lambda: torch.mm(a, b), repeats)
            gflops = 2 * n ** 3 / seconds / 1e9
            best = max(best, gflops)
            print(f"  {name} n={n:<5} {gflops:8.1f} GFLOP/s")
        peaks[name] = best
    return peaks


def examples_per_second(args) -> None:
    print(f"\ntraining throughput, springs-5, batch {args.batch}, hidden {args.hidden}, "
          f"T={args.steps}, M=10 (forward + backward + Adam)")
    print(f"  {'formulation':<20}{'precision':<10}{'s/step':>8}{'examples/s':>12}{'vs dense fp32':>15}")
    reference = None
    for method in ("dense", "full"):
        for precision in PRECISIONS:
            torch.manual_seed(0)
            model = build_model(args.steps, args.hidden)
            step = training_step(method, model, 5, args.batch, args.steps,
                                 precision=precision)
            optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)

            def train_step():
                optimizer.zero_grad()
                step()
                optimizer.step()

            seconds = median_seconds(train_step, args.repeats)
            reference = reference or seconds
            name = "dense reference" if method == "dense" else "torch_nri"
            print(f"  {name:<20}{precision:<10}{seconds:>8.3f}{args.batch / seconds:>12.1f}"
                  f"{reference / seconds:>14.2f}x", flush=True)

    # What the PyG DataLoader adds per batch in the training loop.
    items = [Data(x=torch.randn(5, args.steps, NUM_FEATURES),
                  edge_index=fully_connected_edge_index(5),
                  edge_type=torch.zeros(20, dtype=torch.long)) for _ in range(args.batch * 4)]
    loader = DataLoader(items, batch_size=args.batch)
    seconds = median_seconds(lambda: [b for b in loader], args.repeats) / 4
    print(f"  PyG DataLoader collation: {1e3 * seconds:.1f} ms per batch of {args.batch}")


def decoder_flops(args, peaks: dict) -> None:
    print(f"\ndecoder step (forward), springs-5, batch {args.batch}, hidden {args.hidden}")
    num_nodes, num_segments = 5 * args.batch, segments(args.steps, 10)
    edge_index = batched(fully_connected_edge_index(5), 5, args.batch)
    flops = decoder_step_flops(edge_index.size(1), num_nodes, num_segments, args.hidden)
    print(f"  {'precision':<10}{'ms':>8}{'GFLOP':>8}{'GFLOP/s':>10}{'of peak':>9}")
    decoder = build_model(args.steps, args.hidden).decoder
    state = torch.randn(num_nodes, num_segments, NUM_FEATURES)
    weights = torch.rand(edge_index.size(1), NUM_EDGE_TYPES).softmax(-1)
    for precision, dtype in PRECISIONS.items():
        def run():
            with torch.no_grad(), torch.autocast("cpu", dtype=dtype,
                                                 enabled=precision == "bf16"):
                decoder.step(state, edge_index, weights)
        seconds = median_seconds(run, args.repeats)
        rate = flops / seconds / 1e9
        print(f"  {precision:<10}{1e3 * seconds:>8.1f}{flops / 1e9:>8.2f}{rate:>10.1f}"
              f"{rate / peaks[precision]:>8.0%}", flush=True)


def factorised_first_layer(args) -> None:
    print("\nfirst message layer: concatenate per edge vs project per node and gather "
          "(forward + backward)")
    print(f"  {'case':<34}{'concat ms':>10}{'gather ms':>10}")
    cases = [("MLP decoder (2F=8 -> H)", NUM_FEATURES, 5 * segments(args.steps, 10)),
             ("RNN decoder / encoder (2H -> H)", args.hidden, 1)]
    edge_index = batched(fully_connected_edge_index(5), 5, args.batch)
    senders, receivers = edge_index
    for name, channels, rows in cases:
        x = torch.randn(5 * args.batch, rows, channels, requires_grad=True)
        weight = torch.randn(args.hidden, 2 * channels, requires_grad=True)

        def concat():
            h = torch.cat([x[senders], x[receivers]], dim=-1) @ weight.t()
            h.sum().backward()

        def gather():
            w_send, w_recv = weight[:, :channels], weight[:, channels:]
            h = (x @ w_send.t())[senders] + (x @ w_recv.t())[receivers]
            h.sum().backward()

        print(f"  {name:<34}{1e3 * median_seconds(concat, args.repeats):>10.1f}"
              f"{1e3 * median_seconds(gather, args.repeats):>10.1f}", flush=True)


def profile_step(args) -> None:
    from torch.profiler import ProfilerActivity, profile

    model = build_model(args.steps, args.hidden)
    step = training_step("full", model, 5, args.batch, args.steps)
    step()  # warm-up
    model.zero_grad(set_to_none=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    print("\ntorch_nri fp32 training step, operators by self CPU time")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=49)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--matmul-sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--profile", action="store_true", help="also profile one step")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import torch_scatter  # noqa: F401
        scatter = "installed"
    except ImportError:
        scatter = "not installed"
    print(f"torch {torch.__version__}, {args.threads} threads, torch-scatter {scatter}\n")
    peaks = matmul_peak(args.matmul_sizes, args.repeats)
    examples_per_second(args)
    decoder_flops(args, peaks)
    factorised_first_layer(args)
    if args.profile:
        profile_step(args)


if __name__ == "__main__":
    main()
