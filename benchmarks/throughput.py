"""Training throughput of the paper's springs-5 model, every setting side by
side, as ratios to the dense reference in float32 on the same machine.

    python benchmarks/throughput.py                      # CPU, hidden 256 and 64
    python benchmarks/throughput.py --device cuda --hidden 256 --rounds 20

Prints:
  1. the machine: device, the CPU's vector and matrix instruction sets as
     PyTorch sees them (AVX-512, AVX-512 BF16, AMX);
  2. its measured matrix-multiply peaks (square torch.mm in float32, bf16,
     and on CUDA TF32 and fp16), each size timed until one multiply takes
     longer than --peak-seconds;
  3. per hidden size, one training step (MLP encoder + MLP decoder, batch
     128, T = 49, M = 10; forward, backward and Adam step, as the training
     loop runs it) in every setting: seconds per step, examples per second,
     the ratio to the dense reference in float32, the achieved FLOP/s of the
     step's matrix multiplies (counted by torch.utils.flop_counter) and their
     fraction of the setting's measured peak, and the compile time. The
     settings are run in interleaved rounds (every setting once per round)
     and each ratio is the median of the per-round ratios, so that the noise
     of a shared machine falls on all settings alike;
  4. the paper's full budget (500 epochs of 50,000 systems) in training steps
     alone, extrapolated from the fastest setting's step;
  5. the batching cost per batch: PyG's DataLoader collation against the
     fixed-size path of torch_nri.training.batching;
  6. the first message layer concatenated per edge against projected per
     node and gathered (NRIMessagePassing.node_to_edge_linear);
and with --profile, where torch_nri's float32 step spends its time.

Settings are "<formulation> <precision> [compiled|cudagraphs]": formulation
"dense" (torch_nri.testing.dense_reference, the original code's one-hot
layout) or "nri" (torch_nri's layers); precision fp32, tf32 (CUDA), bf16 or
fp16 (autocast; fp16 with a GradScaler, as the loop does); "compiled" is
torch.compile's default mode, "cudagraphs" its "reduce-overhead" mode (CUDA).
A reduced-precision setting is skipped where the machine's measured peak in
that precision is below its float32 peak (e.g. bf16 on a CPU without
AVX-512 BF16 or AMX, where it is emulated), unless --force.
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (AUTOCAST_DTYPES, NUM_EDGE_TYPES, NUM_FEATURES, adam_update,  # noqa: E402
                    batched, build_model, median_seconds, segments, synchronize,
                    training_step)
from torch_nri.device import resolve_device  # noqa: E402
from torch_nri.graphs import fully_connected_edge_index  # noqa: E402

PAPER_EPOCHS, PAPER_SYSTEMS = 500, 50_000
CPU_SETTINGS = ["dense fp32", "nri fp32", "nri fp32 compiled", "dense bf16", "nri bf16",
                "nri bf16 compiled"]
CUDA_SETTINGS = ["dense fp32", "nri fp32", "nri fp32 compiled", "nri tf32",
                 "nri tf32 compiled", "nri bf16", "nri bf16 compiled", "nri bf16 cudagraphs",
                 "nri fp16", "nri fp16 compiled"]


def machine(device: torch.device, threads: int) -> None:
    print(f"torch {torch.__version__}, device {device}", end="")
    if device.type == "cuda":
        print(f" ({torch.cuda.get_device_name(device)})")
        return
    cpu = torch.cpu
    features = {"AVX-512": cpu._is_avx512_supported(),
                "AVX-512 BF16": cpu._is_avx512_bf16_supported(),
                "AMX": cpu._is_amx_tile_supported()}
    print(f", {threads} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; "
          + ", ".join(f"{name} {'yes' if has else 'no'}" for name, has in features.items()))


def matmul_peaks(device: torch.device, budget: float, precisions) -> dict:
    print("\nmatrix-multiply peak (square torch.mm; each size until one multiply takes "
          f"over {budget:g} s)")
    peaks = {}
    for precision in precisions:
        dtype = AUTOCAST_DTYPES.get(precision, torch.float32)
        torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
        best, n = 0.0, 256
        while n <= 8192:
            a = torch.randn(n, n, dtype=dtype, device=device)
            b = torch.randn(n, n, dtype=dtype, device=device)

            def multiply():
                torch.mm(a, b)
                synchronize(device)
            start = time.perf_counter()
            multiply()
            first = time.perf_counter() - start
            seconds = first if first > budget else median_seconds(multiply, 3)
            best = max(best, 2 * n ** 3 / seconds / 1e9)
            if first > budget:
                break
            n *= 2
        peaks[precision] = best
        print(f"  {precision:<6}{best:10.1f} GFLOP/s (largest n = {n})", flush=True)
    torch.set_float32_matmul_precision("highest")
    return peaks


def parse_setting(setting: str):
    method, precision, *options = setting.split()
    return ("full" if method == "nri" else method), precision, (options[0] if options else None)


def step_flops(method: str, hidden: int, args) -> float:
    """FLOPs of one training step's matrix multiplies, forward and backward."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    step = training_step(method, build_model(args.steps, hidden), 5, args.batch, args.steps)
    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


def settings_table(args, device: torch.device, peaks: dict, hidden: int) -> dict:
    print(f"\ntraining step, springs-5, batch {args.batch}, hidden {hidden}, T={args.steps}, "
          f"M=10 (forward + backward + Adam), {args.rounds} interleaved rounds")
    runs, compile_seconds, skipped = {}, {}, []
    for setting in args.settings:
        method, precision, option = parse_setting(setting)
        if peaks.get(precision, 0) < peaks["fp32"] and not args.force:
            skipped.append(f"{setting}: {precision} matmul peak {peaks.get(precision, 0):.1f} "
                           f"< fp32 {peaks['fp32']:.1f} GFLOP/s")
            continue
        torch.manual_seed(0)
        model = build_model(args.steps, hidden)
        mode = {"compiled": "default", "cudagraphs": "reduce-overhead"}.get(option)
        step = training_step(method, model, 5, args.batch, args.steps, precision=precision,
                             device=str(device), compile_mode=mode)
        train_step = adam_update(step, model, precision, str(device))
        start = time.perf_counter()
        for _ in range(3 if mode is not None else 1):  # compile, then settle
            train_step()
        compile_seconds[setting] = time.perf_counter() - start if mode is not None else None
        runs[setting] = train_step
    times = {setting: [] for setting in runs}
    for _ in range(args.rounds):
        for setting, run in runs.items():
            start = time.perf_counter()
            run()
            times[setting].append(time.perf_counter() - start)

    flops = {method: step_flops(method, hidden, args) for method in ("dense", "full")}
    reference = times.get("dense fp32")
    print(f"  {'setting':<22}{'s/step':>9}{'examples/s':>12}{'vs dense fp32':>15}"
          f"{'GFLOP/s':>9}{'of peak':>9}{'compile s':>11}")
    for setting, seconds in times.items():
        method, precision, _ = parse_setting(setting)
        median = statistics.median(seconds)
        ratio = (statistics.median(r / s for r, s in zip(reference, seconds))
                 if reference else float("nan"))
        rate = flops[method] / median / 1e9
        compiled = compile_seconds[setting]
        print(f"  {setting:<22}{median:>9.3f}{args.batch / median:>12.1f}{ratio:>14.2f}x"
              f"{rate:>9.1f}{rate / peaks[precision]:>9.0%}"
              f"{'-' if compiled is None else f'{compiled:.0f}':>11}", flush=True)
    for line in skipped:
        print(f"  skipped {line}")
    print(f"  matrix-multiply work per step: {flops['full'] / 1e9:.1f} GFLOP (torch_nri), "
          f"{flops['dense'] / 1e9:.1f} GFLOP (dense)")
    return {setting: statistics.median(seconds) for setting, seconds in times.items()}


def paper_budget(args, hidden: int, medians: dict) -> None:
    if hidden != 256 or not medians:
        return
    setting = min((s for s in medians if not s.startswith("dense")), key=medians.get,
                  default=None)
    if setting is None:
        return
    steps = PAPER_EPOCHS * math.ceil(PAPER_SYSTEMS / args.batch)
    hours = steps * medians[setting] / 3600
    print(f"  the paper's budget ({PAPER_EPOCHS} epochs x {PAPER_SYSTEMS:,} systems = "
          f"{steps:,} steps of batch {args.batch}), training steps alone, at '{setting}' "
          f"({1 / medians[setting]:.1f} steps/s): {hours:.1f} h; 15 minutes would need "
          f"{steps / 900:.0f} steps/s")


def batching_cost(args, device: torch.device) -> None:
    from torch_geometric.data import Data, InMemoryDataset
    from torch_geometric.loader import DataLoader

    from torch_nri.training.batching import FixedSizeLoader

    class Systems(InMemoryDataset):
        def __init__(self, items):
            super().__init__()
            self._data, self.slices = self.collate(items)

    items = [Data(x=torch.randn(5, args.steps, NUM_FEATURES),
                  edge_index=fully_connected_edge_index(5),
                  edge_type=torch.zeros(20, dtype=torch.long)) for _ in range(args.batch * 4)]
    dataset = Systems(items)
    loaders = {"PyG DataLoader": DataLoader(dataset, batch_size=args.batch, shuffle=True),
               "FixedSizeLoader": FixedSizeLoader(dataset, args.batch, device, shuffle=True)}
    print(f"\nbatching, per batch of {args.batch} systems (on {device})")
    for name, loader in loaders.items():
        def epoch(loader=loader):
            for batch in loader:
                batch.to(device)
            synchronize(device)
        print(f"  {name:<18}{1e3 * median_seconds(epoch, args.repeats) / 4:8.2f} ms")


def factorised_first_layer(args, device: torch.device, hidden: int) -> None:
    from torch_nri.nn import NRIMessagePassing

    print(f"\nfirst message layer, hidden {hidden}: concatenated per edge vs projected per "
          f"node and gathered (forward + backward, ms)")
    print(f"  {'case':<38}{'concat':>8}{'gather':>8}")
    layer = NRIMessagePassing()
    edge_index = batched(fully_connected_edge_index(5), 5, args.batch).to(device)
    cases = [("MLP decoder (2F = 8 -> H)", NUM_FEATURES, segments(args.steps, 10)),
             ("encoders, RNN decoder (2H -> H)", hidden, 1)]
    for name, channels, rows in cases:
        x = torch.randn(5 * args.batch, rows, channels, device=device, requires_grad=True)
        lin = torch.nn.Linear(2 * channels, hidden).to(device)

        def concat():
            lin(layer.node_to_edge(x, edge_index)).sum().backward()
            synchronize(device)

        def gather():
            layer.node_to_edge_linear(x, edge_index, lin.weight, lin.bias).sum().backward()
            synchronize(device)

        print(f"  {name:<38}{1e3 * median_seconds(concat, args.repeats):>8.1f}"
              f"{1e3 * median_seconds(gather, args.repeats):>8.1f}", flush=True)


def profile_step(args, device: torch.device, hidden: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                           if device.type == "cuda" else [])
    model = build_model(args.steps, hidden)
    step = training_step("full", model, 5, args.batch, args.steps, device=str(device))
    step()  # warm-up
    model.zero_grad(set_to_none=True)
    with profile(activities=activities) as prof:
        step()
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"\ntorch_nri fp32 training step, hidden {hidden}, operators by self time")
    print(prof.key_averages().table(sort_by=sort, row_limit=14))


def plot(path: str, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.5), squeeze=False)
    for ax, (hidden, medians) in zip(axes[0], results.items()):
        names = list(medians)
        ax.barh(names, [128 / medians[n] for n in names])
        ax.set_xlabel("training examples / s")
        ax.set_title(f"springs-5, hidden {hidden}")
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"\nplot saved to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu",
                        help="auto, cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 64])
    parser.add_argument("--steps", type=int, default=49)
    parser.add_argument("--rounds", type=int, default=7,
                        help="interleaved rounds of every setting")
    parser.add_argument("--repeats", type=int, default=5,
                        help="repeats of the smaller measurements")
    parser.add_argument("--settings", nargs="+", default=None,
                        help="default: every setting of the device")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--peak-seconds", type=float, default=1.0)
    parser.add_argument("--force", action="store_true",
                        help="also run settings slower than the matmul peaks predict")
    parser.add_argument("--profile", action="store_true", help="also profile one step")
    parser.add_argument("--plot", default=None, help="save a bar chart here")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(args.threads)
    args.settings = args.settings or (CUDA_SETTINGS if device.type == "cuda"
                                      else CPU_SETTINGS)
    if "dense fp32" not in args.settings:
        args.settings.insert(0, "dense fp32")  # the reference of every ratio
    machine(device, args.threads)
    precisions = ["fp32"] + [p for p in ("tf32", "bf16", "fp16")
                             if any(parse_setting(s)[1] == p for s in args.settings)]
    peaks = matmul_peaks(device, args.peak_seconds, precisions)
    results = {}
    for hidden in args.hidden:
        results[hidden] = settings_table(args, device, peaks, hidden)
        paper_budget(args, hidden, results[hidden])
    batching_cost(args, device)
    factorised_first_layer(args, device, args.hidden[0])
    if args.profile:
        profile_step(args, device, args.hidden[0])
    if args.plot:
        plot(args.plot, results)


if __name__ == "__main__":
    main()
