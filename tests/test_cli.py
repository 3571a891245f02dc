import os
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "torch_nri", *args], capture_output=True,
                           text=True)


def test_version():
    from torch_nri import __version__
    assert run("--version").stdout.strip() == f"torch-nri {__version__}"


def test_demo_prints_the_table_and_saves_the_run(tmp_path, capsys):
    from torch_nri.training.demo import run_demo
    results = run_demo(str(tmp_path / "demo"), str(tmp_path / "data"), epochs=1, num_train=32,
                       num_valid=8, num_test=8, progress=False)
    printed = capsys.readouterr().out
    assert "edge accuracy" in printed and "MSE 20 steps" in printed and "NRI paper" in printed
    assert f"{100 * results['accuracy']:.1f}%" in printed
    assert os.path.isfile(tmp_path / "demo" / "trajectories.png")


def test_generate_writes_a_cached_dataset(tmp_path):
    result = run("generate", "springs", "--num-train", "8", "--num-valid", "2", "--num-test",
                 "2", "--length", "1000", "--test-length", "1000", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    cache = result.stdout.strip().split("cached in ")[1]
    assert sorted(os.listdir(cache))[:4] == ["meta.json", "pre_filter.pt", "pre_transform.pt",
                                             "test.pt"]
    from torch_nri.datasets import SpringsDataset
    ds = SpringsDataset(str(tmp_path), split="valid", num_train=8, num_valid=2, num_test=2,
                        length=1000, test_length=1000)
    assert len(ds) == 2 and ds.processed_dir == cache


def test_generate_reports_bad_arguments():
    result = run("generate", "kuramoto", "--graph", "knn", "--k", "3")
    assert result.returncode == 2 and "no positions for a kNN graph" in result.stderr


@pytest.mark.parametrize("name", ["correlation", "lstm-correlation"])
def test_correlation_baselines_from_the_command_line(tmp_path, name):
    result = run("baseline", name, "--system", "springs", "--num-train", "16",
                 "--num-valid", "4", "--num-test", "4", "--data-root", str(tmp_path),
                 "--epochs", "1", "--hidden", "8")
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("test accuracy ")[1].split("%")[0])
    assert 0.0 <= accuracy <= 100.0 and "absolute=" in result.stdout
