import json
import os
import shutil

import numpy as np
import torch

from tests.test_bad_input import cli_error, re_search
from torch_nri.cli import main
from torch_nri.training import infer_graph


def test_infer_writes_the_graph_of_the_api(tmp_path, inference_runs, capsys):
    run_dir, path = inference_runs["knn"]
    graph = infer_graph(run_dir, path, undirected=True)
    for extension in ("npz", "csv"):
        out = str(tmp_path / f"graph.{extension}")
        assert main(["infer", run_dir, "--data", path, "--out", out, "--undirected"]) == 0
        assert f"60 edges (4 systems, 2 edge types) written to {out}" in capsys.readouterr().out
    with np.load(tmp_path / "graph.npz") as written:
        assert set(written) == {"edge_index", "sample", "probs", "type", "probs_undirected"}
        assert np.array_equal(written["probs"], graph.probs.numpy())
        assert np.array_equal(written["probs_undirected"], graph.probs_undirected.numpy())
        assert np.array_equal(written["sample"], graph.sample.numpy())
    table = np.loadtxt(tmp_path / "graph.csv", delimiter=",", skiprows=1)
    header = (tmp_path / "graph.csv").read_text().splitlines()[0]
    assert header == "sample,sender,receiver,type,p0,p1,p0_undirected,p1_undirected"
    assert np.array_equal(table[:, :4], np.column_stack(
        [graph.sample, graph.edge_index.t(), graph.types]))
    assert np.array_equal(table[:, 4:6].astype(np.float32), graph.probs.numpy())


def test_infer_shared_per_step_unlabelled_and_plotted(tmp_path, inference_runs, capsys):
    run_dir, path = inference_runs["dnri"]
    out = str(tmp_path / "graph.csv")
    assert main(["infer", run_dir, "--data", path, "--out", out, "--shared", "--plot",
                 "--sample", "2"]) == 0
    printed = capsys.readouterr().out
    assert "(the mean of 4 systems, 2 edge types)" in printed
    assert f"plot of system 2 saved in {tmp_path / 'graph.png'}" in printed
    assert os.path.getsize(tmp_path / "graph.png") > 0
    lines = (tmp_path / "graph.csv").read_text().splitlines()
    assert lines[0] == "step,sender,receiver,type,p0,p1"
    assert len(lines) == 1 + 5 * 4 * 16  # each candidate edge at each step of the window
    shared = infer_graph(run_dir, path, shared=True)
    assert np.allclose(np.loadtxt(out, delimiter=",", skiprows=1)[:, 4:], shared.probs,
                       atol=1e-7)
    with np.load(path) as f:
        np.savez(tmp_path / "x.npz", x=f["x"])  # no relations
    assert main(["infer", run_dir, "--data", str(tmp_path / "x.npz"), "--out",
                 str(tmp_path / "x.npz.csv")]) == 0
    assert torch.equal(torch.from_numpy(np.loadtxt(tmp_path / "x.npz.csv", delimiter=",",
                                                   skiprows=1)[:, 0]),
                       torch.arange(4).repeat_interleave(20 * 16).double())


def test_evaluate_shared(inference_runs, capsys):
    run_dir, path = inference_runs["full"]
    assert main(["evaluate", run_dir, "--data", path, "--shared"]) == 0
    printed = capsys.readouterr().out
    assert "shared accuracy" in printed and "shared F1" in printed
    assert "the systems' true relations differ: the shared graph is scored against each " \
           "system's" in printed
    assert main(["evaluate", run_dir, "--data", path, "--shared", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["shared_labels_differ"] is True and 0 <= results["shared_accuracy"] <= 1
    assert main(["evaluate", run_dir, "--data", path, "--json"]) == 0
    assert "shared_accuracy" not in json.loads(capsys.readouterr().out)


def test_infer_errors(tmp_path, inference_runs, capsys):
    run_dir, path = inference_runs["knn"]
    out = str(tmp_path / "graph.npz")
    re_search(r"'out' must be a .npz or .csv file \(the extension chooses the format\), got "
              r".*graph.txt", cli_error(capsys, ["infer", run_dir, "--data", path, "--out",
                                                 str(tmp_path / "graph.txt")]))
    re_search(r"a shared graph \(shared=True, --shared\) needs the same candidate graph for "
              r"every system, but system 1 of .*test.npz has another",
              cli_error(capsys, ["infer", run_dir, "--data", path, "--out", out, "--shared"]))
    re_search(r"a shared graph .* but system 1 of .*test.npz has another",
              cli_error(capsys, ["evaluate", run_dir, "--data", path, "--shared"]))
    re_search(r"'sample' must lie in \[0, 3\] \(the systems of .*test.npz\), got 4",
              cli_error(capsys, ["infer", run_dir, "--data", path, "--out", out, "--plot",
                                 "--sample", "4"]))
    re_search(r"the following arguments are required: --data",
              cli_error(capsys, ["infer", run_dir, "--out", out]))
    untrained = str(tmp_path / "untrained")
    shutil.copytree(run_dir, untrained, ignore=shutil.ignore_patterns("best.pt"))
    re_search(r"no trained model in .*untrained: .*untrained/best.pt \(the run's best "
              r"checkpoint, written by torch-nri train\) is missing",
              cli_error(capsys, ["infer", untrained, "--data", path, "--out", out]))
    assert not os.path.exists(out)
