"""The measurements of benchmarks/gpu_check.sh, and its summary table.

    python benchmarks/gpu_check.py environment --json STATE/environment.json
    python benchmarks/gpu_check.py steps --device cuda --json STATE/speed.json
    python benchmarks/gpu_check.py train --json STATE/paper.json -- TORCH_NRI_TRAIN_ARGS
    python benchmarks/gpu_check.py summary STATE --out OUT/summary.txt

  - environment: torch, torch_geometric, CUDA and the device;
  - steps: the paper's springs-5 training step (MLP encoder + MLP decoder,
    forward, backward and Adam, benchmarks/common.py) per setting (precision
    fp32, tf32, bf16 or fp16, "-compiled" for torch.compile): warm-up steps
    (compilation included), then --steps steps timed as a whole, with no
    host synchronisation between them; steps and examples per second and
    the peak of torch.cuda.max_memory_allocated. Each setting is written to
    the JSON file as soon as it is measured;
  - train: ``torch-nri train`` with the given arguments, in this process,
    each training and validation epoch timed (the loop's _run_epoch ends
    with a copy to the host, so its wall time is the device's); the
    training steps per second of the epochs after the first (which holds
    the warm-up and any compilation) extrapolated to the paper's budget,
    500 epochs of 50,000 systems, and the validation of 10,000 systems per
    epoch beside it;
  - summary: one plain-text table of every part found in STATE (the junit
    file of the tests, speed.json, paper.json), against the target of
    220 training steps per second.
"""
import argparse
import csv
import inspect
import json
import math
import os
import platform
import sys
import time
import xml.etree.ElementTree as ElementTree
from typing import Any, Dict, List, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import adam_update, build_model, synchronize, training_step  # noqa: E402
from throughput import PAPER_EPOCHS, PAPER_SYSTEMS  # noqa: E402
from torch_nri.device import resolve_device  # noqa: E402

#: The issue's target: training steps per second of the paper's springs-5
#: model (hidden 256, batch 128) on one H100.
TARGET_STEPS_PER_SECOND = 220
PAPER_VALID_SYSTEMS = 10_000
PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
DEFAULT_SETTINGS = ["fp32", "tf32", "bf16", "tf32-compiled", "bf16-compiled"]


def write_json(path: str, value: Dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(value, f, indent=2)


def environment(args: argparse.Namespace) -> None:
    import torch_geometric

    info = {"python": platform.python_version(), "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__, "cuda": torch.version.cuda,
            "cpus": os.cpu_count(), "device": "cpu (no CUDA)"}
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        info.update(device=properties.name, memory_gib=round(properties.total_memory / 2**30, 1),
                    capability=f"{properties.major}.{properties.minor}",
                    bf16=torch.cuda.is_bf16_supported())
    for key, value in info.items():
        print(f"{key:<16}{value}")
    write_json(args.json, info)


def parse_setting(setting: str):
    precision, _, option = setting.partition("-")
    if precision not in PRECISIONS or option not in ("", "compiled"):
        raise ValueError(f"setting {setting!r}: expected PRECISION or PRECISION-compiled, "
                         f"PRECISION one of {PRECISIONS}")
    return precision, option == "compiled"


def steps(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    results: Dict[str, Any] = {"device": str(device), "hidden": args.hidden,
                               "batch": args.batch, "timesteps": args.timesteps,
                               "warmup": args.warmup, "steps": args.steps, "settings": {}}
    print(f"springs-5 training step (forward + backward + Adam), hidden {args.hidden}, batch "
          f"{args.batch}, T={args.timesteps}, on {device}: {args.warmup} warm-up steps, then "
          f"{args.steps} timed as a whole")
    print(f"  {'setting':<16}{'steps/s':>10}{'examples/s':>12}{'ms/step':>9}{'peak MiB':>10}"
          f"{'warm-up s':>11}")
    for setting in args.settings:
        try:
            row = measure_setting(setting, device, args)
        except Exception as error:  # reported; the other settings still run
            row = {"error": f"{type(error).__name__}: {error}"[:300]}
            print(f"  {setting:<16}failed: {row['error']}", flush=True)
        else:
            peak = row["peak_bytes"]
            print(f"  {setting:<16}{row['steps_per_second']:>10.1f}"
                  f"{row['examples_per_second']:>12.0f}{row['ms_per_step']:>9.2f}"
                  f"{'-' if peak is None else f'{peak / 2**20:.0f}':>10}"
                  f"{row['warmup_seconds']:>11.1f}", flush=True)
        results["settings"][setting] = row
        write_json(args.json, results)  # what was measured survives a timeout
    return int(any("error" in row for row in results["settings"].values()))


def measure_setting(setting: str, device: torch.device, args: argparse.Namespace
                    ) -> Dict[str, Any]:
    precision, compiled = parse_setting(setting)
    torch.manual_seed(0)
    model = build_model(args.timesteps, args.hidden)
    step = training_step("full", model, 5, args.batch, args.timesteps, precision=precision,
                         device=str(device), compile_mode="default" if compiled else None,
                         sync=False)
    update = adam_update(step, model, precision, str(device), sync=False)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.warmup):
        update()
    synchronize(device)
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.steps):
        update()
    synchronize(device)
    seconds = time.perf_counter() - start
    return {"steps_per_second": args.steps / seconds,
            "examples_per_second": args.steps * args.batch / seconds,
            "ms_per_step": 1e3 * seconds / args.steps, "warmup_seconds": warmup,
            "peak_bytes": torch.cuda.max_memory_allocated(device)
            if device.type == "cuda" else None}


def train(args: argparse.Namespace) -> int:
    from torch_nri.cli import build_parser, main
    from torch_nri.training import loop

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    out = build_parser().parse_known_args(["train", *argv])[0].out
    run_epoch = loop._run_epoch
    signature = inspect.signature(run_epoch)
    epochs: List[Dict[str, Any]] = []

    def timed(*call_args, **call_kwargs):
        bound = signature.bind(*call_args, **call_kwargs).arguments
        start = time.perf_counter()
        metrics = run_epoch(*call_args, **call_kwargs)
        epochs.append({"phase": "train" if bound["optimizer"] is not None else "valid",
                       "start": start, "seconds": time.perf_counter() - start,
                       "steps": len(bound["loader"])})
        return metrics

    loop._run_epoch = timed
    started = time.perf_counter()
    status = main(["train", *argv])
    finished = time.perf_counter()
    loop._run_epoch = run_epoch
    results: Dict[str, Any] = {"status": status, "argv": argv}
    if status != 0 or not epochs:
        write_json(args.json, results)
        print(f"torch-nri train failed (exit status {status})")
        return 1
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(out, "results.json")) as f:
        accuracy = json.load(f).get("accuracy")
    training = [e for e in epochs if e["phase"] == "train"]
    validation = [e for e in epochs if e["phase"] == "valid"]
    steady = slice(1, None) if len(training) > 1 else slice(None)
    steps_per_second = (sum(e["steps"] for e in training[steady])
                        / sum(e["seconds"] for e in training[steady]))
    valid_seconds = (sum(e["seconds"] for e in validation[steady])
                     / len(validation[steady]))
    paper_steps = PAPER_EPOCHS * math.ceil(PAPER_SYSTEMS / config["batch_size"])
    results.update(
        device=config["device"], batch_size=config["batch_size"],
        num_train=config["num_train"], num_valid=config["num_valid"],
        epochs=len(training), steps_per_epoch=training[0]["steps"],
        setup_seconds=epochs[0]["start"] - started,
        first_epoch_seconds=training[0]["seconds"] + validation[0]["seconds"],
        steps_per_second=steps_per_second,
        valid_seconds_per_epoch=valid_seconds,
        test_seconds=finished - (epochs[-1]["start"] + epochs[-1]["seconds"]),
        paper_training_minutes=paper_steps / steps_per_second / 60,
        paper_validation_minutes=(PAPER_EPOCHS * valid_seconds * PAPER_VALID_SYSTEMS
                                  / config["num_valid"] / 60),
        peak_bytes=torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None,
        accuracy=accuracy)
    write_json(args.json, results)
    print(f"\n{len(training)} epochs of {training[0]['steps']} steps (batch "
          f"{config['batch_size']}); data and set-up {results['setup_seconds']:.1f} s, first "
          f"epoch {results['first_epoch_seconds']:.1f} s (warm-up), test evaluation and plots "
          f"{results['test_seconds']:.1f} s")
    print(f"training: {steps_per_second:.1f} steps/s (epochs {2 if len(training) > 1 else 1} "
          f"to {len(training)}); validation: {valid_seconds:.2f} s per epoch of "
          f"{config['num_valid']:,} systems")
    print(f"the paper's budget ({PAPER_EPOCHS} epochs x {PAPER_SYSTEMS:,} systems, "
          f"{paper_steps:,} steps): training {results['paper_training_minutes']:.1f} min, "
          f"validation ({PAPER_VALID_SYSTEMS:,} systems per epoch) "
          f"{results['paper_validation_minutes']:.1f} min")
    return 0


def _tests_row(path: str) -> Optional[str]:
    if not os.path.exists(path):
        return None
    root = ElementTree.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    count = {key: sum(int(suite.get(key, 0)) for suite in suites)
             for key in ("tests", "failures", "errors", "skipped")}
    failed = [f"{case.get('classname')}::{case.get('name')}" for suite in suites
              for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    passed = count["tests"] - count["failures"] - count["errors"] - count["skipped"]
    row = (f"{passed} passed, {count['failures'] + count['errors']} failed, "
           f"{count['skipped']} skipped")
    return row + "".join(f"\n{'':<7}{'':<42}failed: {name}" for name in failed[:5])


def summary(args: argparse.Namespace) -> None:
    def load(name: str) -> Optional[Dict[str, Any]]:
        path = os.path.join(args.state, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    def mib(value: Optional[int]) -> str:
        return "-" if value is None else f"{value / 2**20:,.0f} MiB"

    def target(rate: float) -> str:
        return "met" if rate >= TARGET_STEPS_PER_SECOND else "not met"

    env, speed, paper = load("environment.json"), load("speed.json"), load("paper.json")
    rows = []
    tests = _tests_row(os.path.join(args.state, "tests.xml"))
    rows.append(("tests", "CUDA and device set-up tests",
                 tests or "not run, or timed out (tests.log)"))
    if speed is None or not speed["settings"]:
        rows.append(("speed", "examples/s per setting", "not run, or timed out (speed.log)"))
    measured = {}
    for setting, row in (speed or {"settings": {}})["settings"].items():
        if "error" in row:
            rows.append(("speed", f"{setting} examples/s", f"failed: {row['error'][:60]}"))
            continue
        measured[setting] = row["steps_per_second"]
        rows.append(("speed", f"{setting} examples/s (steps/s, peak)",
                     f"{row['examples_per_second']:,.0f} ({row['steps_per_second']:.1f} "
                     f"steps/s, {mib(row['peak_bytes'])})"))
    if measured:
        best = max(measured, key=measured.get)
        rate = measured[best]
        rows.append(("speed", f"best: {best}, hidden {speed['hidden']} batch {speed['batch']}",
                     f"{rate:.1f} steps/s, target {TARGET_STEPS_PER_SECOND}: {target(rate)}"))
    if paper is None or paper.get("status") != 0:
        rows.append(("paper", "torch-nri train, paper's springs-5",
                     "not run, or timed out (train.log)" if paper is None
                     else f"failed (status {paper['status']})"))
    else:
        rows += [
            ("paper", f"training steps/s (loop, batch {paper['batch_size']})",
             f"{paper['steps_per_second']:.1f}, target {TARGET_STEPS_PER_SECOND}: "
             f"{target(paper['steps_per_second'])}"),
            ("paper", f"validation s/epoch ({paper['num_valid']:,} systems)",
             f"{paper['valid_seconds_per_epoch']:.2f}"),
            ("paper", f"{PAPER_EPOCHS} epochs x {PAPER_SYSTEMS // 1000}k systems",
             f"{paper['paper_training_minutes']:.1f} min training + "
             f"{paper['paper_validation_minutes']:.1f} min validation"),
            ("paper", "epochs run; set-up, 1st epoch, test s",
             f"{paper['epochs']}; {paper['setup_seconds']:.0f}, "
             f"{paper['first_epoch_seconds']:.0f}, {paper['test_seconds']:.0f}"),
            ("paper", "peak memory, test edge accuracy",
             f"{mib(paper['peak_bytes'])}, " + ("n/a" if paper["accuracy"] is None
                                                 else f"{100 * paper['accuracy']:.1f}%"))]
    lines = ["GPU check: " + (", ".join(f"{key} {env[key]}" for key in
                                        ("device", "torch", "cuda", "torch_geometric"))
                              if env else "environment not recorded"),
             f"target: >= {TARGET_STEPS_PER_SECOND} training steps/s of the paper's springs-5 "
             f"model (hidden 256, batch 128) on one H100", "",
             f"{'part':<7}{'measure':<42}value"]
    lines += [f"{part:<7}{measure:<42}{value}" for part, measure, value in rows]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    with open(args.out, "w") as f:
        f.write(text)
    write_json(os.path.splitext(args.out)[0] + ".json",
               {"environment": env, "tests": tests, "speed": speed, "paper": paper})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    env = commands.add_parser("environment", help="torch, CUDA and the device")
    env.add_argument("--json", required=True)
    step = commands.add_parser("steps", help="the training step per setting")
    step.add_argument("--device", default="cuda", help="auto, cpu, cuda or cuda:N")
    step.add_argument("--settings", nargs="+", default=DEFAULT_SETTINGS,
                      help=f"PRECISION or PRECISION-compiled (default: {DEFAULT_SETTINGS})")
    step.add_argument("--hidden", type=int, default=256)
    step.add_argument("--batch", type=int, default=128)
    step.add_argument("--timesteps", type=int, default=49)
    step.add_argument("--warmup", type=int, default=20)
    step.add_argument("--steps", type=int, default=300)
    step.add_argument("--json", required=True)
    run = commands.add_parser("train", help="a timed torch-nri train")
    run.add_argument("--json", required=True)
    run.add_argument("argv", nargs=argparse.REMAINDER, help="-- then torch-nri train's "
                     "arguments (--out among them)")
    table = commands.add_parser("summary", help="the table of every part in STATE")
    table.add_argument("state")
    table.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        if args.command == "steps":
            for setting in args.settings:
                parse_setting(setting)
            resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    handlers = {"environment": environment, "steps": steps, "train": train, "summary": summary}
    return handlers[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
