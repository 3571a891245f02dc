"""The benchmark scripts run end to end on a tiny size (they are not timed here)."""
import csv
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(script, *args):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_scaling_writes_a_table_and_plots(tmp_path):
    out = run("scaling.py", "--series", "dense", "full+ckpt", "knn", "--sizes", "4", "7",
              "--batch", "2", "--hidden", "8", "--steps", "12", "--repeats", "1",
              "--threads", "1", "--csv", str(tmp_path / "s.csv"),
              "--plot", str(tmp_path / "s.png"))
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert [(r["series"], r["num_nodes"]) for r in rows] == [
        ("dense", "4"), ("dense", "7"), ("full+ckpt", "4"), ("full+ckpt", "7"),
        ("knn", "4"), ("knn", "7")]
    assert all(r["status"] == "ok" and float(r["seconds"]) > 0 for r in rows)
    assert rows[1]["num_edges"] == str(2 * 7 * 6)
    assert rows[5]["num_edges"] == str(2 * 7 * 6)  # k = 10 > N - 1: fully connected
    assert os.path.getsize(tmp_path / "s.png") > 0 and "knn" in out


def test_scaling_stops_a_series_at_the_time_cap(tmp_path):
    out = run("scaling.py", "--series", "full", "--sizes", "4", "5", "--batch", "1",
              "--hidden", "8", "--steps", "12", "--time-cap", "0.01")
    assert "stopped: over the time cap" in out and out.count("full") == 1


def test_throughput_prints_every_table():
    out = run("throughput.py", "--batch", "2", "--hidden", "8", "--steps", "12",
              "--repeats", "1", "--threads", "1", "--matmul-sizes", "64", "--profile")
    for heading in ("matrix-multiply peak", "examples/s", "of peak", "gather ms",
                    "operators by self CPU time", "aten::"):
        assert heading in out
    assert "dense reference" in out and "torch_nri" in out
