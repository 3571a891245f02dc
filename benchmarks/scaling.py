"""Time and peak memory of one NRI training step against the number of
objects N and candidate edges E.

Series (see benchmarks/common.py): "dense" (one-hot reference of the NRI
supplement C.1), "full" (torch_nri, fully connected graph), "knn" (torch_nri,
k-nearest-neighbour graph). Suffixes: "+ckpt" turns on the encoder's and
the decoder's activation checkpointing (checkpoint=True, memory-bounded by
default); "+first" samples hard edges with type 0 as "no edge", which has no
message MLP (skip_first=True: one message type instead of two); "+skip" does
that and also skips the edges sampled as "no edge" in the decoder
(skip_no_edges=True; at initialisation about half the edges are sampled as
"no edge"); "+mpm" and "+mpm-attn" train NRI-MPM's model instead (the relation
interaction encoder with its inter-edge model over each node's neighbourhood,
and the spatio-temporal decoder; GRU or attention sequence models); "+dnri"
trains dNRI instead (a graph per step: DNRIEncoder, whose per-edge LSTMs hold
E x T states, and the MLP decoder on per-step weights). Each point runs in a
fresh process, so that its peak resident memory is its own; a series stops
at the first point that runs out of the memory cap or over the time cap.

    python benchmarks/scaling.py --series dense full full+ckpt --batch 8
    python benchmarks/scaling.py --series knn+ckpt --batch 1 --hidden 64 \\
        --sizes 1000 10000 100000 --chunk-size 200000
    python benchmarks/scaling.py --series knn+dnri --batch 1 --hidden 32 \\
        --sizes 100 1000 10000

Prints a table (and --csv writes it); --plot saves log-log plots of time and
memory against N and against E.
"""
import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys

# torch_nri before torch, as the torch-nri command imports them: PyTorch's
# huge pages for large buffers are asked for only then (torch_nri._allocator;
# THP_MEM_ALLOC_ENABLE=0 in the environment measures without them).
from torch_nri import _allocator  # noqa: I001
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import build_model, median_seconds, peak_rss_gb, training_step  # noqa: E402

SIZES = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]
FIELDS = ["series", "num_nodes", "num_edges", "seconds", "cpu_seconds", "peak_gb",
          "us_per_edge", "kb_per_edge", "status"]


def cpu_seconds() -> float:
    """The process's user and system CPU time so far: on a shared machine,
    steadier than wall time (page faults count as system time)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_point(args: argparse.Namespace) -> None:
    """Child process: one training step of one series at one size; prints JSON."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.allocator != "package":
        _allocator.CPU_MMAP_THRESHOLD = None if args.allocator == "glibc" else int(args.allocator)
    method, *options = args.point_series.split("+")
    baseline = peak_rss_gb()
    model = build_model(args.steps, args.hidden, checkpoint="ckpt" in options,
                        chunk_size=args.chunk_size, skip="skip" in options,
                        no_edge_type="first" in options or "skip" in options,
                        mpm={"mpm": "gru", "mpm-attn": "attention"}.get(
                            next((o for o in options if o.startswith("mpm")), None)),
                        checkpoint_memory=args.checkpoint_memory,
                        dynamic="dnri" in options)
    step = training_step(method, model, args.point_size, args.batch, args.steps, args.k,
                         args.prediction_steps, args.precision)
    cpu = []

    def step_and_clear():
        start = cpu_seconds()
        step()
        model.zero_grad(set_to_none=True)
        cpu.append(cpu_seconds() - start)

    seconds = median_seconds(step_and_clear, args.repeats, long_run=10.0)
    # As median_seconds: the warm-up alone, or the median of the other calls.
    cpu_median = cpu[0] if len(cpu) == 1 else statistics.median(cpu[1:])
    edges = (args.point_size * (args.point_size - 1) if method in ("dense", "full")
             else min(args.k, args.point_size - 1) * args.point_size) * args.batch
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_median,
                      "peak_gb": peak_rss_gb(),
                      "above_baseline_gb": peak_rss_gb() - baseline, "num_edges": edges}))


def measure(args: argparse.Namespace, series: str, size: int) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--point-series", series,
               "--point-size", str(size)] + args.child_args

    def cap_memory():
        # Address space, not resident memory: allocations past the cap fail
        # cleanly in the child. The margin covers the libraries' mappings.
        cap = int((args.memory_cap + 3) * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    row = {"series": series, "num_nodes": size}
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=args.time_cap, preexec_fn=cap_memory)
    except subprocess.TimeoutExpired:
        return {**row, "status": f"over the time cap ({args.time_cap:.0f} s)"}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        memory = any("alloc" in line.lower() or "memory" in line.lower() for line in lines)
        reason = f"out of the memory cap ({args.memory_cap:.0f} GB)" if memory else (
            lines[-1] if lines else f"exit {done.returncode}")
        return {**row, "status": reason}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["peak_gb"] > args.memory_cap:
        status = f"over the memory cap ({args.memory_cap:.0f} GB)"
    else:
        status = "ok"
    return {**row, "num_edges": result["num_edges"], "seconds": result["seconds"],
            "cpu_seconds": result["cpu_seconds"],
            "peak_gb": result["peak_gb"],
            "us_per_edge": 1e6 * result["seconds"] / result["num_edges"],
            "kb_per_edge": 2**20 * result["above_baseline_gb"] / result["num_edges"],
            "status": status}


def print_row(row: dict) -> None:
    if row["status"] != "ok" and "seconds" not in row:
        print(f"{row['series']:<16}{row['num_nodes']:>8}  stopped: {row['status']}", flush=True)
        return
    print(f"{row['series']:<16}{row['num_nodes']:>8}{row['num_edges']:>11}"
          f"{row['seconds']:>10.3f}{row['cpu_seconds']:>10.2f}{row['peak_gb']:>9.2f}"
          f"{row['us_per_edge']:>10.2f}"
          f"{row['kb_per_edge']:>10.1f}  {row['status']}", flush=True)


def plot(rows, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if "seconds" in r]
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for series in dict.fromkeys(r["series"] for r in done):
        points = [r for r in done if r["series"] == series]
        for col, x_key in enumerate(("num_nodes", "num_edges")):
            for row_i, y_key in enumerate(("seconds", "peak_gb")):
                ax = axes[row_i, col]
                ax.loglog([p[x_key] for p in points], [p[y_key] for p in points], "o-",
                          label=series)
                ax.set_xlabel({"num_nodes": "objects N", "num_edges": "edges E"}[x_key])
                ax.set_ylabel({"seconds": "seconds per step",
                               "peak_gb": "peak memory (GB)"}[y_key])
                ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"saved {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="+", default=["dense", "full", "knn"],
                        help="dense, full, knn, each optionally with +ckpt, +first, +skip and "
                             "+mpm, +mpm-attn or +dnri (full and knn)")
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=49)
    parser.add_argument("--prediction-steps", type=int, default=10)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="edges recomputed at once with +ckpt (default: as many as fit "
                             "in --checkpoint-memory)")
    parser.add_argument("--checkpoint-memory", type=int, default=None,
                        help="bytes per chunk with +ckpt (default: the layers' 256 MiB)")
    parser.add_argument("--allocator", default="package",
                        help="package: the mmap threshold that torch_nri sets for chunks; "
                             "glibc: glibc's own dynamic threshold; or a threshold in bytes")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--time-cap", type=float, default=600.0,
                        help="seconds per point, warm-up included")
    parser.add_argument("--memory-cap", type=float, default=20.0, help="GB per point")
    parser.add_argument("--csv", default=None, help="write the table here")
    parser.add_argument("--plot", default=None, help="save the plots here (.png)")
    parser.add_argument("--point-series", help=argparse.SUPPRESS)
    parser.add_argument("--point-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.point_series:
        return run_point(args)
    args.child_args = [f"--{name.replace('_', '-')}={getattr(args, name)}" for name in
                       ("batch", "hidden", "steps", "prediction_steps", "k", "precision",
                        "repeats", "threads")]
    for name in ("chunk_size", "checkpoint_memory"):
        if getattr(args, name):
            args.child_args.append(f"--{name.replace('_', '-')}={getattr(args, name)}")
    args.child_args.append(f"--allocator={args.allocator}")

    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, "
          f"T={args.steps}, hidden {args.hidden}, M={args.prediction_steps}, k={args.k}, "
          f"{args.precision}, chunk {args.chunk_size}, checkpoint memory "
          f"{args.checkpoint_memory or 'default'}, {args.allocator} allocator; "
          f"caps {args.time_cap:.0f} s, "
          f"{args.memory_cap:.0f} GB")
    print(f"{'series':<16}{'N':>8}{'E':>11}{'seconds':>10}{'CPU s':>10}{'peak GB':>9}"
          f"{'us/edge':>10}{'KB/edge':>10}")
    rows = []
    for series in args.series:
        for size in args.sizes:
            row = measure(args, series, size)
            rows.append(row)
            print_row(row)
            if row["status"] != "ok":
                break
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
