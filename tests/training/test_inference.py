import os

import numpy as np
import pytest
import torch

from torch_nri.graphs import reverse_edge_index
from torch_nri.metrics import accuracy_from_confusion, edge_confusion
from torch_nri.models import NRI, FixedGraphModel, load_model
from torch_nri.nn import MLPDecoder, MLPEncoder
from torch_nri.training import (TrainConfig, evaluate_run, infer_graph, plot_inferred_graph,
                                run_dataset)
from torch_nri.training.evaluation import observed_steps_of, window_relations


def encoder_probs(run_dir, data, index):
    # The model's own forward on one system: the softmax of its logits.
    model = load_model(os.path.join(run_dir, "best.pt")).eval()
    observed = observed_steps_of(TrainConfig.load(run_dir))
    system = data[index]
    with torch.no_grad():
        logits, _ = model.infer_edges(system.x[:, :observed], system.edge_index)
    return logits.softmax(-1), system.edge_index


def read_graph(path):
    # A written graph as {name: array}, from either format.
    if path.endswith(".npz"):
        with np.load(path) as f:
            return dict(f)
    table = np.genfromtxt(path, delimiter=",", names=True)
    names = table.dtype.names
    arrays = {name: table[name] for name in names if name in ("sample", "step", "type")}
    arrays["edge_index"] = np.stack([table["sender"], table["receiver"]]).astype(np.int64)
    num_types = sum(1 for name in names if name[0] == "p" and name[1:].isdigit())
    arrays["probs"] = np.stack([table[f"p{k}"] for k in range(num_types)], 1)
    if "p0_undirected" in names:
        arrays["probs_undirected"] = np.stack([table[f"p{k}_undirected"]
                                               for k in range(num_types)], 1)
    return arrays


@pytest.mark.parametrize("extension", [".npz", ".csv"])
def test_a_saved_graph_is_the_softmax_of_the_encoder(tmp_path, inference_runs, extension):
    for name in ("knn", "full"):
        run_dir, path = inference_runs[name]
        data = run_dataset(run_dir, path)
        out = str(tmp_path / f"{name}{extension}")
        infer_graph(run_dir, path).save(out)
        graph = read_graph(out)
        assert not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())
        for i in range(len(data)):
            probs, edge_index = encoder_probs(run_dir, data, i)
            rows = graph["sample"] == i
            assert np.array_equal(graph["edge_index"][:, rows], edge_index.numpy())
            assert np.allclose(graph["probs"][rows], probs.numpy(), atol=1e-6)
            assert np.array_equal(graph["type"][rows], probs.argmax(-1).numpy())
        if extension == ".npz":  # the run's no-edge type: skip_first -> 0
            assert ("no_edge_type" in graph) == (name == "full")
            assert name == "knn" or graph["no_edge_type"] == 0


@pytest.mark.parametrize("name", ["knn", "full", "dnri"])
def test_the_written_probabilities_reproduce_evaluate_s_accuracy(tmp_path, inference_runs,
                                                                 name):
    run_dir, path = inference_runs[name]
    data = run_dataset(run_dir, path)
    config = TrainConfig.load(run_dir)
    out = str(tmp_path / "graph.csv")
    infer_graph(run_dir, path).save(out)
    graph = read_graph(out)
    truth = torch.cat([window_relations(data[i].edge_type, observed_steps_of(config))
                       for i in range(len(data))]).reshape(-1)  # edge by edge, then step
    assert graph["probs"].shape[0] == truth.numel()
    confusion = edge_confusion(torch.from_numpy(graph["probs"]), truth, config.num_edge_types)
    accuracy = accuracy_from_confusion(confusion, no_edge_type=0 if config.skip_first else None)
    assert accuracy == evaluate_run(run_dir, test_set=data, device="cpu")["accuracy"]


def test_a_graph_per_step_has_a_row_per_edge_and_step(inference_runs):
    run_dir, path = inference_runs["dnri"]
    data = run_dataset(run_dir, path)
    observed = observed_steps_of(TrainConfig.load(run_dir))
    graph = infer_graph(run_dir, path)
    model = load_model(os.path.join(run_dir, "best.pt")).eval()
    for i in range(len(data)):
        system = data[i]
        with torch.no_grad():
            logits, _ = model.infer_edges(system.x[:, :observed], system.edge_index)
        num_edges = system.edge_index.size(1)
        assert logits.shape[:2] == (num_edges, observed)
        rows = graph.sample == i
        assert torch.equal(graph.step[rows], torch.arange(observed).repeat(num_edges))
        assert torch.equal(graph.edge_index[:, rows],
                           system.edge_index.repeat_interleave(observed, dim=1))
        assert torch.allclose(graph.probs[rows], logits.softmax(-1).reshape(-1, 2), atol=1e-6)
    shared = infer_graph(run_dir, path, shared=True)
    assert torch.allclose(shared.probs, graph.probs.view(len(data), -1, 2).mean(0), atol=1e-6)
    assert torch.equal(shared.step, graph.step[graph.sample == 0])


def test_shared_is_the_mean_over_the_systems_and_undirected_the_pairs_mean(tmp_path,
                                                                           inference_runs):
    run_dir, path = inference_runs["full"]
    per_system = infer_graph(run_dir, path, undirected=True)
    shared = infer_graph(run_dir, path, shared=True, undirected=True)
    num_systems = per_system.num_samples
    assert shared.shared and shared.sample is None and shared.num_samples == num_systems
    probs = per_system.probs.view(num_systems, -1, 2)
    assert torch.allclose(shared.probs, probs.mean(0), atol=1e-6)
    assert torch.equal(shared.types, shared.probs.argmax(-1))
    assert torch.equal(shared.edge_index, per_system.edge_index[:, per_system.sample == 0])
    reverse = reverse_edge_index(shared.edge_index)
    assert (reverse >= 0).all()  # fully connected: every edge has its reverse
    pairs = (probs + probs[:, reverse]) / 2
    assert torch.allclose(per_system.probs_undirected, pairs.flatten(0, 1), atol=1e-6)
    assert torch.allclose(shared.probs_undirected, pairs.mean(0), atol=1e-6)
    shared.save(str(tmp_path / "shared.csv"))
    header = (tmp_path / "shared.csv").read_text().splitlines()[0]
    assert header == "sender,receiver,type,p0,p1,p0_undirected,p1_undirected"


def test_an_edge_without_its_reverse_keeps_its_own_undirected_probabilities(inference_runs):
    run_dir, path = inference_runs["knn"]
    graph = infer_graph(run_dir, path, undirected=True)
    for i in range(graph.num_samples):
        rows = graph.sample == i
        edge_index, probs = graph.edge_index[:, rows], graph.probs[rows]
        reverse = reverse_edge_index(edge_index, 5)
        lonely = reverse < 0
        assert lonely.any() and (~lonely).any()  # kNN: some pairs are one-way
        expected = probs.clone()
        expected[~lonely] = (probs[~lonely] + probs[reverse[~lonely]]) / 2
        assert torch.allclose(graph.probs_undirected[rows], expected)


def test_evaluate_scores_the_shared_graph(tmp_path, inference_runs):
    run_dir, path = inference_runs["full"]
    data = run_dataset(run_dir, path)
    results = evaluate_run(run_dir, test_set=data, device="cpu", shared=True)
    graph = infer_graph(run_dir, path, shared=True)
    truth = torch.stack([data[i].edge_type for i in range(len(data))])  # random: they differ
    assert results["shared_labels_differ"] is True
    confusion = edge_confusion(graph.probs.repeat(len(data), 1), truth.flatten(), 2)
    assert results["shared_accuracy"] == accuracy_from_confusion(confusion, no_edge_type=0)
    assert 0 <= results["shared_f1"] <= 1 and 0 <= results["shared_auroc"] <= 1
    # The same relations in every system: scored once, the same numbers.
    with np.load(path) as f:
        x, edges = f["x"], f["edges"]
    np.savez(tmp_path / "same.npz", x=x, edges=np.broadcast_to(edges[:1], edges.shape))
    same = run_dataset(run_dir, str(tmp_path / "same.npz"))
    once = evaluate_run(run_dir, test_set=same, device="cpu", shared=True)
    assert once["shared_labels_differ"] is False
    confusion = edge_confusion(graph.probs, same[0].edge_type, 2)
    assert once["shared_accuracy"] == accuracy_from_confusion(confusion, no_edge_type=0)
    assert os.path.isfile(os.path.join(run_dir, "roc.png"))


def test_unlabelled_trajectories(tmp_path, inference_runs):
    run_dir, path = inference_runs["knn"]
    with np.load(path) as f:
        np.savez(tmp_path / "x.npz", x=f["x"][:3, :16])  # just the encoder's window
    graph = infer_graph(run_dir, str(tmp_path / "x.npz"))
    assert graph.num_samples == 3 and graph.probs.shape == (3 * 5 * 3, 2)
    labelled = infer_graph(run_dir, path)  # the relations change nothing
    rows = labelled.sample < 3
    assert torch.equal(graph.edge_index, labelled.edge_index[:, rows])
    assert torch.allclose(graph.probs, labelled.probs[rows], atol=1e-6)


def test_errors(tmp_path, inference_runs):
    run_dir, path = inference_runs["knn"]
    with pytest.raises(ValueError, match=r"a shared graph \(shared=True, --shared\) needs the "
                                         r"same candidate graph for every system, but system "
                                         r"\d+ of .*test.npz has another"):
        infer_graph(run_dir, path, shared=True)
    with pytest.raises(ValueError, match=r"the encoder reads a window of 16 steps .* the "
                                         r"trajectories of .*short.npz have 10"):
        with np.load(path) as f:
            np.savez(tmp_path / "short.npz", x=f["x"][:, :10])
        infer_graph(run_dir, str(tmp_path / "short.npz"))
    model = load_model(os.path.join(run_dir, "best.pt"))
    with pytest.raises(ValueError, match=r"'data' must be a dataset where 'run' is a model, "
                                         r"got the file .*test.npz"):
        infer_graph(model, path)
    decoder_only = FixedGraphModel(MLPDecoder(2, 2, 8, 8, 8))
    with pytest.raises(ValueError, match=r"FixedGraphModel infers no graph"):
        infer_graph(decoder_only, run_dataset(run_dir, path))
    with pytest.raises(ValueError, match=r"'path' must be a .npz or .csv file .*, got g.txt"):
        infer_graph(model, run_dataset(run_dir, path), observed_steps=16).save("g.txt")


def test_exported_at_the_top_level():
    import torch_nri
    from torch_nri.training import InferredGraph

    assert torch_nri.infer_graph is infer_graph and torch_nri.InferredGraph is InferredGraph
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        torch_nri.no_such_name


def test_plot_of_a_large_system_draws_a_window(tmp_path):
    from torch_nri.datasets import TrajectoryDataset

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "big.npz", x=rng.normal(size=(1, 8, 150, 2)).cumsum(1))
    data = TrajectoryDataset(str(tmp_path / "big.npz"), graph="knn", k=4)
    model = NRI(MLPEncoder(8 * 2, 8, 2), MLPDecoder(2, 2, 8, 8, 8), 2)
    graph = infer_graph(model, data, undirected=True, device="cpu")
    assert graph.probs.shape == (150 * 4, 2) and graph.observed_steps == 8
    plot_inferred_graph(graph, data, str(tmp_path / "big.png"))
    assert (tmp_path / "big.png").stat().st_size > 0
    with pytest.raises(ValueError, match=r"'sample' must lie in \[0, 0\] .*, got 1"):
        plot_inferred_graph(graph, data, str(tmp_path / "other.png"), sample=1)
