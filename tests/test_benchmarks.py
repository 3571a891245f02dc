"""The benchmark scripts run end to end on a tiny size (they are not timed here)."""
import csv
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(script, *args):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def load_benchmark(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "benchmarks",
                                                                     f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scaling_writes_a_table_and_plots(tmp_path):
    out = run("scaling.py", "--series", "dense", "full+ckpt+first", "knn", "knn+ckpt+mpm-attn",
              "--sizes", "4", "7",
              "--batch", "2", "--hidden", "8", "--steps", "12", "--repeats", "1",
              "--checkpoint-memory", "65536", "--allocator", "glibc",
              "--threads", "1", "--csv", str(tmp_path / "s.csv"),
              "--plot", str(tmp_path / "s.png"))
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert [(r["series"], r["num_nodes"]) for r in rows] == [
        ("dense", "4"), ("dense", "7"), ("full+ckpt+first", "4"), ("full+ckpt+first", "7"),
        ("knn", "4"), ("knn", "7"), ("knn+ckpt+mpm-attn", "4"), ("knn+ckpt+mpm-attn", "7")]
    assert all(r["status"] == "ok" and float(r["seconds"]) > 0 for r in rows)
    assert rows[1]["num_edges"] == str(2 * 7 * 6)
    assert rows[5]["num_edges"] == str(2 * 7 * 6)  # k = 10 > N - 1: fully connected
    assert os.path.getsize(tmp_path / "s.png") > 0 and "knn" in out
    assert "checkpoint memory 65536, glibc allocator" in out


def test_scaling_stops_a_series_at_the_time_cap(tmp_path):
    out = run("scaling.py", "--series", "full", "--sizes", "4", "5", "--batch", "1",
              "--hidden", "8", "--steps", "12", "--time-cap", "0.01")
    assert "stopped: over the time cap" in out and out.count("full") == 1


def test_throughput_prints_every_table(tmp_path):
    out = run("throughput.py", "--batch", "2", "--hidden", "8", "--steps", "12",
              "--rounds", "2", "--repeats", "1", "--threads", "1", "--peak-seconds", "0.01",
              "--settings", "nri fp32", "nri bf16", "--profile",
              "--plot", str(tmp_path / "t.png"))
    for heading in ("AVX-512 BF16", "matrix-multiply peak", "examples/s", "of peak",
                    "vs dense fp32", "FixedSizeLoader", "gather", "operators by self",
                    "aten::"):
        assert heading in out
    # The reference is always run; every ratio is against it.
    table = out[out.index("training step"):out.index("batching")]
    assert "dense fp32" in table and "nri fp32" in table and "1.00x" in table
    if not torch.cpu._is_avx512_bf16_supported() and not torch.cpu._is_amx_tile_supported():
        assert "skipped nri bf16" in table  # emulated bf16: slower than fp32, not run
    assert os.path.getsize(tmp_path / "t.png") > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_throughput_refuses_a_device_this_machine_lacks():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "throughput.py"),
                           "--device", "cuda"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "CUDA is not available here" in done.stderr


def test_time_to_accuracy_compares_recipes_over_seeds(tmp_path):
    out = run("time_to_accuracy.py", "--base", "demo",
              "--set", "num_train=32, num_valid=16, num_test=16, encoder_hidden=8, "
                       "decoder_hidden=8, batch_size=16",
              "--recipe", "small: epochs=2", "--recipe", "hard: epochs=2, hard=True",
              "--seeds", "3", "4", "--max-seconds", "60", "--parallel", "2",
              "--out", str(tmp_path / "runs"), "--data-root", str(tmp_path / "data"),
              "--csv", str(tmp_path / "t.csv"), "--plot", str(tmp_path / "t.png"))
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert {(r["recipe"], r["seed"], r["epoch"]) for r in rows} == {
        (recipe, seed, epoch) for recipe in ("small", "hard") for seed in ("3", "4")
        for epoch in ("1", "2")}
    assert all(float(r["seconds"]) > 0 and 0 <= float(r["valid_accuracy"]) <= 1 for r in rows)
    assert rows[1]["steps"] == "4"  # two epochs of ceil(32 / 16) steps
    assert "small" in out and "hard" in out and "per seed" in out
    assert os.path.getsize(tmp_path / "t.png") > 0
    # A second call reuses the finished runs.
    again = run("time_to_accuracy.py", "--base", "demo", "--set", "num_train=32, num_valid=16, "
                "num_test=16, encoder_hidden=8, decoder_hidden=8, batch_size=16",
                "--recipe", "small: epochs=2", "--seeds", "3", "--out", str(tmp_path / "runs"),
                "--data-root", str(tmp_path / "data"))
    assert "per seed" in again


def test_time_to_accuracy_reads_a_list_value_in_a_recipe():
    module = load_benchmark("time_to_accuracy")
    assert module.parse_recipe("rel: position_features=[0, 1], lr=1e-3, name=x") == (
        "rel", {"position_features": [0, 1], "lr": 1e-3, "name": "x"})
    with pytest.raises(ValueError, match="expected key=value"):
        module.parse_assignments("lr=1e-3, [0, 1]")


def test_defaults_check_trains_a_case_with_its_defaults_and_skips_it_on_a_rerun(tmp_path):
    args = ["defaults_check.py", "--cases", "dnri/proximity", "--num-train", "20",
            "--max-seconds", "0.001", "--out", str(tmp_path), "--suffix=-small",
            "--extra=--encoder-hidden 8 --decoder-hidden 8", "--csv", str(tmp_path / "d.csv")]
    out = run(*args)
    row, = csv.DictReader(open(tmp_path / "d.csv"))
    # The proximity system's and dNRI's defaults, taken with no option.
    assert (row["encoder"], row["skip_first"], row["prior"], row["batch_size"]) == (
        "dnri", "True", "[0.9, 0.1]", "16")
    assert row["epochs"] == "1" and 0 <= float(row["accuracy"]) <= 1
    assert "dnri/proximity" in out
    log = tmp_path / "runs" / "dnri-proximity-small" / "log.csv"
    written = os.path.getmtime(log)
    assert "dnri/proximity" in run(*args) and os.path.getmtime(log) == written  # skipped


def test_ri_encoder_scope_prints_a_row_per_configuration():
    out = run("ri_encoder_scope.py", "--sizes", "30", "--sequence-models", "attention",
              "--scopes", "neighbourhood", "--k", "4", "--hidden", "8", "--steps", "6",
              "--repeats", "1", "--threads", "1")
    header, row = out.strip().splitlines()
    assert header.split()[:4] == ["model", "scope", "N", "E"]
    assert row.split()[:4] == ["attention", "neighbourhood", "30", "120"]
    assert float(row.split()[4]) > 0


def test_scaling_measures_a_dnri_step(tmp_path):
    run("scaling.py", "--series", "knn+dnri", "--sizes", "6", "--batch", "1", "--hidden", "8",
        "--steps", "5", "--k", "3", "--repeats", "1", "--threads", "1",
        "--csv", str(tmp_path / "s.csv"))
    (row,) = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert row["series"] == "knn+dnri" and row["status"] == "ok"
    assert row["num_edges"] == str(6 * 3)


def test_gpu_check_runs_every_part_on_the_cpu(tmp_path):
    # The plumbing of what a session lent a GPU runs, on the CPU at tiny sizes.
    script = os.path.join(ROOT, "benchmarks", "gpu_check.sh")
    assert subprocess.run(["bash", "-n", script]).returncode == 0
    env = dict(os.environ, OUT=str(tmp_path / "out"), GPU_CHECK_STATE=str(tmp_path / "state"),
               GPU_CHECK_DEVICE="cpu", PYTHON=sys.executable,
               GPU_CHECK_TESTS="tests/test_device.py -k device_names",
               SPEED_FLAGS="--settings fp32 tf32 --hidden 8 --batch 4 --timesteps 12 "
                           "--warmup 1 --steps 2",
               PAPER_FLAGS="--num-train 32 --num-valid 8 --num-test 8 --encoder-hidden 8 "
                           "--decoder-hidden 8 --batch-size 16 --epochs 2 --threads 1",
               PAPER_SECONDS="60")
    done = subprocess.run(["bash", script, "all"], env=env, capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    # At most 8 files come back from a device call, none in a folder.
    assert sorted(os.listdir(tmp_path / "out")) == [
        "environment.txt", "log.csv", "speed.log", "summary.json", "summary.txt", "tests.log",
        "train.log"]
    table = (tmp_path / "out" / "summary.txt").read_text()
    assert "target: >= 220 training steps/s" in table
    assert "1 passed, 0 failed, 0 skipped" in table
    assert "fp32 examples/s" in table and "tf32 examples/s" in table
    assert "training steps/s (loop, batch 16)" in table
    assert "500 epochs x 50k systems" in table and "min validation" in table
    paper = json.loads((tmp_path / "out" / "summary.json").read_text())["paper"]
    assert paper["epochs"] == 2 and paper["steps_per_epoch"] == 2 and paper["num_valid"] == 8
    assert paper["paper_training_minutes"] > 0
    usage = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr


def local_springs(tmp_path, seed, name):
    out = tmp_path / name
    run("local_springs_data.py", "--out", str(out), "--num-nodes", "16", "--num-train", "2",
        "--num-valid", "1", "--num-test", "1", "--steps", "3", "--test-steps", "5",
        "--seed", str(seed), "--big", "40", "--big-out", str(out / "big.npz"))
    return {split: dict(np.load(out / f"{split}.npz"))
            for split in ("train", "valid", "test", "big")}


def test_local_springs_data_are_springs_between_near_neighbours(tmp_path):
    data = local_springs(tmp_path, 0, "a")
    shapes = {split: arrays["x"].shape for split, arrays in data.items()}
    assert shapes == {"train": (2, 3, 16, 4), "valid": (1, 3, 16, 4), "test": (1, 5, 16, 4),
                      "big": (1, 5, 40, 4)}
    for arrays in data.values():
        x, edges = arrays["x"], arrays["edge_list"]
        assert x.dtype == np.float32 and edges.dtype == np.int64 and edges.shape[1] == 4
        rows = set(map(tuple, edges.tolist()))
        assert rows == {(s, j, i, c) for s, i, j, c in rows}  # both directions of each
        assert (edges[:, 3] == 1).all() and (edges[:, 1] != edges[:, 2]).all()
        assert set(edges[:, 0]) == set(range(len(x)))  # every system has springs
        s, i, j = edges[:, 0], edges[:, 1], edges[:, 2]
        # Near neighbours: among each other's 6 nearest at the first sample (4 at
        # the start, 0.1 time units earlier), at most a jittered diagonal apart.
        dist = np.linalg.norm(x[:, 0, :, None, :2] - x[:, 0, None, :, :2], axis=-1)
        rank = dist.argsort(-1).argsort(-1)  # 0: the object itself
        assert (rank[s, i, j] <= 6).all() and (rank[s, j, i] <= 6).all()
        assert dist[s, i, j].max() < 1.0 and np.median(dist[s, i, j]) < 0.6
        # About half of the mutual 4-nearest-neighbour pairs: ~N springs on a grid.
        assert 0.3 < len(edges) / 2 / x[:, 0, :, 0].size < 1.0
        # Hooke's law: the velocity change between samples 0.1 apart is the
        # spring force at the two samples' mean, and momentum stays (no walls).
        pos, vel = x[..., :2].astype(np.float64), x[..., 2:].astype(np.float64)
        force = np.zeros_like(pos)
        np.add.at(force, (s, slice(None), i), -0.1 * (pos[s, :, i] - pos[s, :, j]))
        accel = np.diff(vel, axis=1) / 0.1
        assert np.abs(accel - (force[:, 1:] + force[:, :-1]) / 2).max() < 1e-3
        assert np.abs(force).max() > 0.01
        assert np.allclose(vel.sum(2), vel[:, :1].sum(2), atol=1e-4)


def test_local_springs_data_follow_the_seed(tmp_path):
    a, b, c = (local_springs(tmp_path, seed, name) for seed, name in ((3, "a"), (3, "b"),
                                                                       (4, "c")))
    for split in a:
        assert np.array_equal(a[split]["x"], b[split]["x"])
        assert np.array_equal(a[split]["edge_list"], b[split]["edge_list"])
        assert not np.array_equal(a[split]["x"], c[split]["x"])


def test_local_systems_prints_recall_and_time(tmp_path):
    out = run("local_systems.py", "--recall-sizes", "30", "--ks", "2", "29", "--objects", "60",
              "--length", "300", "--test-length", "500", "--time-sizes", "50",
              "--time-length", "300", "--data-root", str(tmp_path))
    recall, timing = out.split("simulation of one system")
    rows = [line.split() for line in recall.strip().splitlines()[2:]]
    assert [row[:4] for row in rows] == [["springs", "30", "2", "2"], ["springs", "30", "29", "2"],
                                         ["charged", "30", "2", "2"], ["charged", "30", "29", "2"]]
    assert all(0 < float(value) < 1 for row in rows[::2] for value in row[4:])
    assert all(row[4:] == ["1.000", "1.000"] for row in rows[1::2])  # k = N - 1: all pairs
    assert [line.split()[:2] for line in timing.strip().splitlines()[2:]] == [["springs", "50"],
                                                                     ["charged", "50"]]


def test_decoder_graph_use_decodes_each_graph(inference_runs, tmp_path):
    from torch_nri.models import load_model
    from torch_nri.training import TrainConfig
    from torch_nri.training.builders import build_datasets
    from torch_nri.training.evaluation import observed_steps_of

    run_dir = inference_runs["full"][0]
    result = load_benchmark("decoder_graph_use").graph_use(run_dir, max_systems=3,
                                                           batch_size=2)
    assert result["systems"] == 3 and set(result["mse"]) == {"inferred", "true", "none", "all"}
    assert 0 <= result["accuracy"] <= 1
    # With type 0 as "no edge", the "none" graph passes no message: the decoder
    # on no edges at all, here by hand.
    config = TrainConfig.load(run_dir)
    model = load_model(os.path.join(run_dir, "best.pt")).eval()
    squared = 0.0
    for data in build_datasets(config)[2][:3]:
        x = data.x[:, :observed_steps_of(config)]
        empty = torch.empty(2, 0, dtype=torch.long)
        with torch.no_grad():
            predictions = model.decoder(x, empty, torch.empty(0, 2),
                                        prediction_steps=config.prediction_steps)
        squared += float((predictions - x[:, 1:]).square().mean()) * data.num_nodes
    assert result["mse"]["none"] == pytest.approx(squared / (3 * 5), rel=1e-4)
    assert result["mse"]["all"] != pytest.approx(result["mse"]["none"], rel=1e-4)

    out = run("decoder_graph_use.py", inference_runs["knn"][0], "--max-systems", "2",
              "--json", str(tmp_path / "use.json"))
    assert "decoder MSE with inferred edges" in out
    assert json.load(open(tmp_path / "use.json"))["systems"] == 2
    script = os.path.join(ROOT, "benchmarks", "decoder_graph_use.py")
    done = subprocess.run([sys.executable, script, inference_runs["dnri"][0]],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "trained a DNRI" in done.stderr
