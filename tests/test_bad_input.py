r"""Bad inputs, tried as a new user would, across the layers, the models, the
losses, the metrics, the graphs, the simulators, the datasets and the
command line: each is answered by a clear error that names the argument or
file (``pytest.raises(..., match=...)``; on the command line, exit status 2
and one line ``torch-nri CMD: error: ...`` with no traceback) or by a
documented conversion (:data:`CONVERSIONS`). ``docs/reliability.rst`` lists
the classes."""
import json
import os
import re
import shutil

import numpy as np
import pytest
import torch

from torch_nri.baselines import run_baseline
from torch_nri.cli import main
from torch_nri.datasets import (ChargedDataset, KuramotoDataset, MinMaxStats, SpringsDataset,
                                TrajectoryDataset, load_splits, read_trajectories)
from torch_nri.graphs import (edge_positions, fully_connected_edge_index, knn_graph,
                              radius_graph)
from torch_nri.losses import elbo, gaussian_nll, kl_categorical, symmetry_kl
from torch_nri.metrics import (accuracy_from_confusion, asymmetry_rate, edge_accuracy,
                               edge_auroc, edge_confusion, edge_presence_scores, mse_per_step)
from torch_nri.models import (NRI, FixedGraphModel, SupervisedEncoder, load_model,
                              read_checkpoint, save_model)
from torch_nri.nn import (CNNEncoder, MLPDecoder, MLPEncoder, RIEncoder, RNNDecoder,
                          STDecoder)
from torch_nri.simulations import simulate_charged, simulate_kuramoto, simulate_springs
from torch_nri.training import TrainConfig

N, T, F, K = 5, 16, 4, 2
X = torch.randn(N, T, F)
EDGE_INDEX = fully_connected_edge_index(N)
E = EDGE_INDEX.size(1)
WEIGHTS = torch.full((E, K), 0.5)


def nan_x():
    x = X.clone()
    x[1, 2, 3] = float("nan")
    return x


def encoders():
    return {"mlp": MLPEncoder(T * F, 8, K), "cnn": CNNEncoder(F, 8, K),
            "ri": RIEncoder(T * F, 8, K)}


def decoders():
    return {"mlp": MLPDecoder(F, K, 8, 8, 8), "rnn": RNNDecoder(F, K, 8),
            "st": STDecoder(F, K, 8)}


def nri():
    return NRI(MLPEncoder(T * F, 8, K), MLPDecoder(F, K, 8, 8, 8), K)


# (id, call, message pattern): every call raises a ValueError (FileNotFoundError
# where a file is missing) whose message matches the pattern.
ENCODER_INPUTS = [
    ("x-float64", lambda: (X.double(), EDGE_INDEX, None), r"'x' has dtype torch.float64"),
    ("x-numpy", lambda: (X.numpy(), EDGE_INDEX, None), r"'x' must be a tensor, got ndarray"),
    ("x-int", lambda: (X.long(), EDGE_INDEX, None), r"'x' must be a floating point tensor"),
    ("x-nan", lambda: (nan_x(), EDGE_INDEX, None), r"'x' contains 1 non-finite"),
    ("x-1d", lambda: (X.reshape(-1), EDGE_INDEX, None), r"'x' must (have|hold)"),
    ("edge-index-float", lambda: (X, EDGE_INDEX.float(), None), r"'edge_index' .*torch.long"),
    ("edge-index-transposed", lambda: (X, EDGE_INDEX.t().contiguous(), None),
     r"'edge_index' must have shape \[2, num_edges\]"),
    ("edge-index-out-of-range", lambda: (X, EDGE_INDEX + 1, None),
     r"'edge_index' holds node indices in \[1, 5\], out of range for 5 nodes"),
    ("batch-float", lambda: (X, EDGE_INDEX, torch.zeros(N)), r"'batch' must be of dtype"),
    ("batch-shape", lambda: (X, EDGE_INDEX, torch.zeros(N - 1, dtype=torch.long)),
     r"'batch' must have shape \[5\]"),
    ("batch-unsorted", lambda: (X, EDGE_INDEX, torch.tensor([0, 1, 0, 1, 0])),
     r"'batch' must be sorted"),
    ("batch-list", lambda: (X, EDGE_INDEX, [0] * N), r"'batch' must be a tensor"),
]


@pytest.mark.parametrize("name", ["mlp", "cnn", "ri"])
@pytest.mark.parametrize("case", ENCODER_INPUTS, ids=[c[0] for c in ENCODER_INPUTS])
def test_encoders(name, case):
    _, inputs, match = case
    x, edge_index, batch = inputs()
    with pytest.raises(ValueError, match=match):
        encoders()[name](x, edge_index, batch)


@pytest.mark.parametrize("name", ["mlp", "cnn", "ri"])
def test_encoders_one_node_in_training(name):
    x = torch.randn(1, T, F)
    with pytest.raises(ValueError, match="batch normalisation cannot normalise a single node"):
        encoders()[name](x, fully_connected_edge_index(1))


DECODER_INPUTS = [
    ("x-float64", lambda: (X.double(), EDGE_INDEX, WEIGHTS), r"'x' has dtype torch.float64"),
    ("x-numpy", lambda: (X.numpy(), EDGE_INDEX, WEIGHTS), r"'x' must be a tensor"),
    ("x-nan", lambda: (nan_x(), EDGE_INDEX, WEIGHTS), r"'x' contains 1 non-finite"),
    ("x-features", lambda: (X[..., :3], EDGE_INDEX, WEIGHTS), r"'x' must have 4 features"),
    ("x-one-step", lambda: (X[:, :1], EDGE_INDEX, WEIGHTS), r"at least 2 time steps"),
    ("edge-index-float", lambda: (X, EDGE_INDEX.float(), WEIGHTS), r"'edge_index' .*long"),
    ("weights-shape", lambda: (X, EDGE_INDEX, WEIGHTS[:, :1]),
     r"'edge_weights' must have shape \[num_edges, num_edge_types\] = \[20, 2\]"),
    ("weights-nan", lambda: (X, EDGE_INDEX, WEIGHTS * float("nan")),
     r"'edge_weights' contains 40 non-finite"),
    ("weights-numpy", lambda: (X, EDGE_INDEX, WEIGHTS.numpy()), r"'edge_weights' must be a "
                                                                  r"tensor"),
]


@pytest.mark.parametrize("name", ["mlp", "rnn", "st"])
@pytest.mark.parametrize("case", DECODER_INPUTS, ids=[c[0] for c in DECODER_INPUTS])
def test_decoders(name, case):
    _, inputs, match = case
    with pytest.raises(ValueError, match=match):
        decoders()[name](*inputs())


def hand_built_checkpoint(path):
    model = nri()
    torch.save({"model_config": model.config, "model": model.state_dict()}, path)
    return path


class Opaque(torch.nn.Module):
    # An encoder of your own that keeps no attribute for its argument.
    def __init__(self, width: int):
        super().__init__()
        self.lin = torch.nn.Linear(T * F, width)

    def forward(self, x, edge_index):
        h = self.lin(x.reshape(x.size(0), -1))
        return (h[edge_index[0]] * h[edge_index[1]])[:, :K]


API = [
    # models
    ("nri-x-float64", lambda: nri()(X.double(), EDGE_INDEX), r"'x' has dtype torch.float64"),
    ("nri-x-numpy", lambda: nri()(X.numpy(), EDGE_INDEX), r"'x' must be a tensor"),
    ("nri-batch-float", lambda: nri()(X, EDGE_INDEX, batch=torch.zeros(N)),
     r"'batch' must be of dtype torch.long"),
    ("nri-one-node", lambda: nri()(torch.randn(1, T, F), fully_connected_edge_index(1)),
     r"batch normalisation"),
    ("nri-tau-nan", lambda: NRI(MLPEncoder(T * F, 8, K), MLPDecoder(F, K, 8, 8, 8), K,
                                tau=float("nan")), r"'tau' must be a finite number"),
    ("nri-tau-zero", lambda: NRI(MLPEncoder(T * F, 8, K), MLPDecoder(F, K, 8, 8, 8), K,
                                 tau=0.0), r"'tau' must be positive"),
    ("nri-prior", lambda: NRI(MLPEncoder(T * F, 8, K), MLPDecoder(F, K, 8, 8, 8), K,
                              prior=[0.2, 0.2]), r"'prior' must hold positive probabilities"),
    ("nri-variance", lambda: NRI(MLPEncoder(T * F, 8, K), MLPDecoder(F, K, 8, 8, 8), K,
                                 variance=-1.0), r"'variance' must be positive"),
    ("nri-symmetry-weight", lambda: NRI(MLPEncoder(T * F, 8, K), MLPDecoder(F, K, 8, 8, 8), K,
                                        symmetry_weight=-1.0), r"'symmetry_weight'"),
    ("nri-edge-types", lambda: NRI(MLPEncoder(T * F, 8, 3), MLPDecoder(F, K, 8, 8, 8), K),
     r"the encoder has num_edge_types=3"),
    ("fixed-graph-x-float64", lambda: FixedGraphModel(MLPDecoder(F, 1, 8, 8, 8), "full", 1)(
        X.double(), EDGE_INDEX), r"'x' has dtype torch.float64"),
    ("fixed-graph-variance", lambda: FixedGraphModel(MLPDecoder(F, 1, 8, 8, 8), "full", 1,
                                                     variance=0.0), r"'variance' must be pos"),
    ("supervised-edge-types", lambda: SupervisedEncoder(MLPEncoder(T * F, 8, K), 2.0),
     r"'num_edge_types' must be an integer"),
    ("fixed-graph-name", lambda: FixedGraphModel(MLPDecoder(F, 1, 8, 8, 8), "dense", 1),
     r"'graph' must be one of"),
    ("supervised-batch", lambda: SupervisedEncoder(MLPEncoder(T * F, 8, K), K)(
        X, EDGE_INDEX, batch=torch.tensor([1, 0, 0, 0, 0])), r"'batch' must be sorted"),
    ("load-hand-built", lambda p: load_model(hand_built_checkpoint(p)),
     r"has no model description .*save_model"),
    ("save-undescribable", lambda p: save_model(NRI(Opaque(8), MLPDecoder(F, K, 8, 8, 8), K), p),
     r"cannot describe Opaque .*'width'"),
    ("checkpoint-missing", lambda p: read_checkpoint(p), r"checkpoint not found"),
    ("checkpoint-garbage", lambda p: (open(p, "wb").write(b"garbage"), read_checkpoint(p)),
     r"corrupted or not a torch file"),
    ("checkpoint-foreign", lambda p: (torch.save([1, 2], p), read_checkpoint(p)),
     r"no 'model_config' and 'model' entries"),
    ("baseline-name", lambda: run_baseline("gnn", None), r"'name' must be one of"),
    ("baseline-horizon", lambda: run_baseline("static", None, horizon=0), r"'horizon' must be"),
    ("baseline-hidden", lambda: run_baseline("lstm-joint", None, hidden=2.5), r"'hidden' must"),
    # losses
    ("nll-shapes", lambda: gaussian_nll(X, X[:, 1:]), r"'predictions' and 'targets' must have"),
    ("nll-numpy", lambda: gaussian_nll(X.numpy(), X), r"'predictions' and 'targets' must have"),
    ("nll-variance-zero", lambda: gaussian_nll(X, X, variance=0.0), r"'variance' must be pos"),
    ("nll-variance-nan", lambda: gaussian_nll(X, X, variance=float("nan")), r"'variance' must"),
    ("kl-1d", lambda: kl_categorical(torch.randn(E), N), r"'edge_logits' must have shape"),
    ("kl-nodes-negative", lambda: kl_categorical(WEIGHTS, -5), r"'num_nodes' must be at least 1"),
    ("kl-nodes-zero", lambda: kl_categorical(WEIGHTS, 0), r"'num_nodes' must be at least 1"),
    ("kl-nodes-float", lambda: kl_categorical(WEIGHTS, 2.5), r"'num_nodes' must be an integer"),
    ("kl-prior-length", lambda: kl_categorical(WEIGHTS, N, [1.0]), r"one probability per edge"),
    ("kl-prior-nan", lambda: kl_categorical(WEIGHTS, N, [float("nan"), 1.0]), r"'prior' must"),
    ("kl-prior-negative", lambda: kl_categorical(WEIGHTS, N, [-0.5, 1.5]), r"'prior' must hold"),
    ("symmetry-nodes", lambda: symmetry_kl(WEIGHTS, EDGE_INDEX, 0), r"'num_nodes' must be"),
    ("symmetry-shape", lambda: symmetry_kl(WEIGHTS[:3], EDGE_INDEX), r"'edge_probs' must have"),
    ("elbo-symmetry", lambda: elbo(X[:, 1:], X[:, 1:], WEIGHTS, symmetry_weight=1.0),
     r"needs 'edge_index'"),
    # metrics
    ("accuracy-nan-logits", lambda: edge_accuracy(WEIGHTS * float("nan"),
                                                  torch.zeros(E, dtype=torch.long)),
     r"'edge_pred' contains 40 non-finite"),
    ("accuracy-float-labels", lambda: edge_accuracy(WEIGHTS, torch.rand(E)),
     r"'edge_type' must hold integer edge types, got torch.float32"),
    ("accuracy-float-types", lambda: edge_accuracy(torch.rand(E), torch.zeros(E).long()),
     r"'edge_pred' must hold integer edge types"),
    ("accuracy-numpy", lambda: edge_accuracy(WEIGHTS, np.zeros(E, dtype=int)),
     r"'edge_type' must be a tensor"),
    ("accuracy-shapes", lambda: edge_accuracy(WEIGHTS, torch.zeros(E - 1).long()),
     r"must describe the same edges"),
    ("accuracy-out-of-range", lambda: edge_accuracy(WEIGHTS, torch.full((E,), 2)),
     r"'edge_type' holds types in \[2, 2\], out of range"),
    # Integer [E, 2] reads as types per step, of which the truth has none.
    ("accuracy-int-logits", lambda: edge_accuracy(WEIGHTS.long(), torch.zeros(E).long()),
     r"'edge_pred' and 'edge_type' must describe the same edges \(and steps\)"),
    ("confusion-types", lambda: edge_confusion(WEIGHTS, torch.zeros(E).long(), 0),
     r"'num_edge_types' must be at least 1"),
    ("accuracy-empty", lambda: accuracy_from_confusion(torch.zeros(2, 2, dtype=torch.long)),
     r"empty set of edges"),
    ("mse-shapes", lambda: mse_per_step(X, X[:, 1:]), r"'predictions' and 'targets' must"),
    ("auroc-one-class", lambda: edge_auroc(torch.rand(E), torch.ones(E)), r"both edges and"),
    ("presence-1d", lambda: edge_presence_scores(torch.rand(E)), r"'edge_probs' must have"),
    ("asymmetry-shape", lambda: asymmetry_rate(WEIGHTS[:3], EDGE_INDEX), r"'edge_types' must"),
    ("asymmetry-nan", lambda: asymmetry_rate(WEIGHTS * float("nan"), EDGE_INDEX),
     r"'edge_types' contains"),
    # graphs
    ("full-float", lambda: fully_connected_edge_index(2.5), r"'num_nodes' must be an integer"),
    ("full-negative", lambda: fully_connected_edge_index(-1), r"'num_nodes' must be non-neg"),
    ("full-string", lambda: fully_connected_edge_index("5"), r"'num_nodes' must be an integer"),
    ("full-list", lambda: fully_connected_edge_index([3, 2.5]), r"'num_nodes' must be an int"),
    ("full-tensor-float", lambda: fully_connected_edge_index(torch.tensor([3.0])),
     r"'num_nodes' must hold integers"),
    ("knn-numpy", lambda: knn_graph(np.zeros((5, 2)), 2), r"'pos' must be a tensor"),
    ("knn-k-zero", lambda: knn_graph(torch.rand(5, 2), 0), r"'k' must be at least 1"),
    ("knn-k-float", lambda: knn_graph(torch.rand(5, 2), 2.5), r"'k' must be an integer"),
    ("knn-unsorted", lambda: knn_graph(torch.rand(6, 2), 2, torch.tensor([0, 1, 0, 1, 0, 1])),
     r"'batch' must be sorted"),
    ("knn-batch-float", lambda: knn_graph(torch.rand(6, 2), 2, torch.zeros(6)),
     r"'batch' must be of dtype"),
    ("knn-nan", lambda: knn_graph(torch.full((5, 2), float("nan")), 2), r"'pos' contains NaN"),
    ("knn-1d", lambda: knn_graph(torch.rand(5), 2), r"'pos' must have shape"),
    ("radius-zero", lambda: radius_graph(torch.rand(5, 2), 0.0), r"'r' must be positive"),
    ("radius-nan", lambda: radius_graph(torch.rand(5, 2), float("nan")), r"'r' must be a fin"),
    ("positions-float", lambda: edge_positions(EDGE_INDEX.float(), EDGE_INDEX, N),
     r"'edge_index' must be of dtype torch.long"),
    # simulators
    ("springs-sims", lambda: simulate_springs(0), r"'num_sims' must be at least 1"),
    ("springs-length", lambda: simulate_springs(1, length=0), r"'length' must be at least 1"),
    ("springs-sample-freq", lambda: simulate_springs(1, sample_freq=0), r"'sample_freq' must"),
    ("springs-multiple", lambda: simulate_springs(1, length=1000, sample_freq=300),
     r"must be a multiple of 'sample_freq'"),
    ("springs-dt", lambda: simulate_springs(1, dt=0.0), r"'dt' must be positive"),
    ("springs-box", lambda: simulate_springs(1, box_size=-1.0), r"'box_size' must be positive"),
    ("springs-probs-nan", lambda: simulate_springs(1, spring_probs=[float("nan"), 1.0]),
     r"'spring_probs' must hold 2 non-negative probabilities"),
    ("springs-probs-text", lambda: simulate_springs(1, spring_probs="ab"),
     r"'spring_probs' must hold 2"),
    ("springs-seed", lambda: simulate_springs(1, seed=-1), r"'seed' must be non-negative"),
    ("springs-loc-std", lambda: simulate_springs(1, loc_std=-1.0), r"'loc_std' must be non-neg"),
    ("springs-neighbours", lambda: simulate_springs(1, num_nodes=5, num_neighbors=9),
     r"'num_neighbors' must be in \[1, num_nodes - 1 = 4\]"),
    ("charged-cutoff-negative", lambda: simulate_charged(1, cutoff=-1.0),
     r"'cutoff' must be positive"),
    ("charged-cutoff-zero", lambda: simulate_charged(1, cutoff=0.0), r"'cutoff' must be pos"),
    ("charged-skin", lambda: simulate_charged(1, cutoff=1.0, skin=-1.0), r"'skin' must be non"),
    ("charged-prob", lambda: simulate_charged(1, charge_prob=2.0), r"'charge_prob' must hold"),
    ("charged-strength-inf", lambda: simulate_charged(1, interaction_strength=float("inf")),
     r"'interaction_strength' must be a finite number"),
    ("kuramoto-omega", lambda: simulate_kuramoto(1, omega_range=(5.0, 1.0)),
     r"'omega_range' must be \(low, high\)"),
    ("kuramoto-dt", lambda: simulate_kuramoto(1, dt=-0.1), r"'dt' must be positive"),
    ("kuramoto-features", lambda: simulate_kuramoto(1, features="raw"), r"'features' must be"),
    ("kuramoto-nodes", lambda: simulate_kuramoto(1, num_nodes=0), r"'num_nodes' must be at"),
    # datasets (tmp_path given as p)
    ("dataset-length", lambda p: SpringsDataset(p, length=0), r"'length' must be at least 1"),
    ("dataset-nodes", lambda p: SpringsDataset(p, num_nodes=0), r"'num_nodes' must be at least"),
    ("dataset-split", lambda p: SpringsDataset(p, split="eval"), r"'split' must be one of"),
    ("dataset-knn", lambda p: SpringsDataset(p, graph="knn"), r"graph='knn' needs a positive"),
    ("dataset-kuramoto-knn", lambda p: KuramotoDataset(p, graph="knn", k=2),
     r"no positions for a kNN graph"),
    ("dataset-physics-name", lambda p: SpringsDataset(p, gravity=1.0),
     r"no physics parameter 'gravity'"),
    ("dataset-physics-type", lambda p: SpringsDataset(p, box_size="big"),
     r"physics parameter 'box_size' must be float"),
    ("dataset-physics-value", lambda p: ChargedDataset(p, cutoff=-1.0), r"'cutoff' must be pos"),
    ("dataset-seed", lambda p: SpringsDataset(p, seed=-3), r"'seed' must be non-negative"),
]


def save_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def good_x(samples=2, steps=8, nodes=4, features=2):
    return np.random.default_rng(0).normal(size=(samples, steps, nodes, features))


FILES = [
    ("missing", lambda p: str(p / "none.npz"), FileNotFoundError, r"trajectory file not found"),
    ("garbage", lambda p: (open(p / "g.npz", "wb").write(b"garbage"), str(p / "g.npz"))[1],
     ValueError, r"g.npz is not a readable .npz file"),
    ("truncated", lambda p: (save_npz(p / "t.npz", x=good_x()),
                             open(p / "t2.npz", "wb").write(open(p / "t.npz", "rb").read()[:200]),
                             str(p / "t2.npz"))[2], ValueError, r"t2.npz is not a readable"),
    ("single-array", lambda p: (np.save(p / "a.npy", good_x()), str(p / "a.npy"))[1],
     ValueError, r"a.npy is not a readable .npz file"),
    ("no-x", lambda p: save_npz(p / "n.npz", y=good_x()), ValueError, r"n.npz has no array 'x'"),
    ("x-3d", lambda p: save_npz(p / "d.npz", x=good_x()[0]), ValueError,
     r"'x' in .*d.npz must have shape \[samples, T, N, F\]"),
    ("x-text", lambda p: save_npz(p / "s.npz", x=np.array([[[["a"]]]])), ValueError,
     r"'x' in .*s.npz must hold real numbers"),
    ("x-objects", lambda p: save_npz(p / "o.npz", x=np.array([None, 1], dtype=object)),
     ValueError, r"o.npz is not a readable .npz file"),
    ("x-nan", lambda p: save_npz(p / "nan.npz", x=good_x() * np.nan), ValueError,
     r"'x' in .*nan.npz contains 128 non-finite"),
    ("x-one-step", lambda p: save_npz(p / "one.npz", x=good_x(steps=1)), ValueError,
     r"needs at least 1 sample, 2 steps"),
    ("edges-float", lambda p: save_npz(p / "ef.npz", x=good_x(), edges=np.random.rand(2, 4, 4)),
     ValueError, r"'edges' in .*ef.npz must hold integer edge types, got dtype float64"),
    ("edges-negative", lambda p: save_npz(p / "en.npz", x=good_x(),
                                          edges=-np.ones((2, 4, 4), dtype=int)),
     ValueError, r"'edges' in .*en.npz must hold non-negative"),
    ("edges-shape", lambda p: save_npz(p / "es.npz", x=good_x(), edges=np.zeros((2, 4, 3), int)),
     ValueError, r"'edges' in .*es.npz must have shape \[samples, N, N\] = \[2, 4, 4\]"),
]


@pytest.mark.parametrize("case", FILES, ids=[c[0] for c in FILES])
def test_trajectory_files(tmp_path, case):
    _, make, error, match = case
    with pytest.raises(error, match=match):
        read_trajectories(make(tmp_path))


def write_splits(directory, features=(2, 2, 2), nodes=(4, 4, 4)):
    os.makedirs(directory, exist_ok=True)
    for name, f, n in zip(("train", "valid", "test"), features, nodes):
        save_npz(os.path.join(directory, f"{name}.npz"), x=good_x(steps=30, nodes=n, features=f))
    return str(directory)


DIRECTORIES = [
    ("splits-a-file", lambda p: (open(p / "f", "w").close(), str(p / "f"))[1], ValueError,
     r"is a file"),
    ("splits-missing", lambda p: str(p / "none"), FileNotFoundError, r"directory not found"),
    ("splits-one-missing", lambda p: (write_splits(p / "d"), os.remove(p / "d" / "test.npz"),
                                      str(p / "d"))[2], FileNotFoundError, r"missing: .*test.npz"),
    ("splits-features", lambda p: write_splits(p / "d", features=(2, 3, 2)), ValueError,
     r"valid.npz has N=4 objects and F=3 features"),
    ("splits-nodes", lambda p: write_splits(p / "d", nodes=(4, 4, 5)), ValueError,
     r"test.npz has N=5 objects"),
]


@pytest.mark.parametrize("case", DIRECTORIES, ids=[c[0] for c in DIRECTORIES])
def test_trajectory_directories(tmp_path, case):
    _, make, error, match = case
    with pytest.raises(error, match=match):
        load_splits(make(tmp_path))


def test_trajectory_dataset_options(tmp_path):
    path = save_npz(tmp_path / "one.npz", x=good_x(features=1))
    with pytest.raises(ValueError, match=r"graph='knn' finds neighbours by features 0 and 1"):
        TrajectoryDataset(path, graph="knn", k=2)
    stats = MinMaxStats.fit(good_x(features=4), [[0, 1], [2, 3]])
    with pytest.raises(ValueError, match=r"'x' in .*one.npz has 1 features, but the "
                                         r"normalisation .* is for 4"):
        TrajectoryDataset(path, stats=stats)


@pytest.mark.parametrize("case", API, ids=[c[0] for c in API])
def test_api(tmp_path, case):
    _, call, match = case
    takes_path = call.__code__.co_argcount == 1
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        call(str(tmp_path / "file.pt")) if takes_path else call()


CONFIGS = [
    (dict(num_nodes="5"), r"'num_nodes' must be an integer, got '5'"),
    (dict(num_nodes=True), r"'num_nodes' must be an integer, got True"),
    (dict(lr="0.1"), r"'lr' must be a finite number, got '0.1'"),
    (dict(progress=1), r"'progress' must be True or False"),
    (dict(physics=[1]), r"'physics' must be a dict"),
    (dict(prior="abc"), r"'prior' must have one probability per edge type"),
    (dict(data=5), r"'data' must be a string or None"),
    (dict(out=None), r"'out' must be a string"),
    (dict(device="tpu"), r"'device' must be one of"),
    (dict(model="gnn"), r"'model' must be one of"),
    (dict(system="gravity"), r"'system' must be one of"),
    (dict(graph="knn"), r"graph='knn' needs a positive 'k'"),
    (dict(graph="radius"), r"graph='radius' needs a positive 'graph_radius'"),
    (dict(graph="knn", k=3, graph_radius=1.0),
     r"'graph_radius' is the distance of graph='radius', but graph='knn'"),
    (dict(graph="radius", graph_radius=float("nan")), r"'graph_radius' must be a finite number"),
    (dict(position_features=[0, 0]), r"'position_features' must be distinct, got \[0, 0\]"),
    (dict(position_features=[]), r"'position_features' must name at least one feature"),
    (dict(position_features="01"), r"'position_features' must be a list of non-negative"),
    (dict(position_features=[0.5]), r"'position_features' must be a list of non-negative"),
    (dict(position_features=[2, 3]),
     r"position_features=\[2, 3\], but the position features of springs systems are \[0, 1\]"),
    (dict(system="kuramoto", position_features=[0]),
     r"the position features of kuramoto systems do not exist"),
    (dict(system="kuramoto", graph="radius", graph_radius=1.0),
     r"kuramoto systems have no positions for a kNN graph or a radius graph"),
    (dict(skip_first=True, num_edge_types=1), r"'skip_first=True' needs at least 2 edge types"),
    (dict(length=1000, sample_freq=300), r"'length' \(1000\) must be a multiple"),
    (dict(physics={"box_size": "big"}), r"physics parameter 'box_size' must be float"),
    (dict(data="somewhere", num_nodes=7), r"num_nodes=7 describe simulated data"),
]


@pytest.mark.parametrize("options, match", CONFIGS, ids=[str(c[0]) for c in CONFIGS])
def test_config(options, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**options)


# The numeric options of `torch-nri train`, each with its smallest valid value
# and whether it is an integer; every value below is refused before any work.
TRAIN_OPTIONS = {
    "num-nodes": (2, int), "num-train": (1, int), "num-valid": (1, int), "num-test": (1, int),
    "length": (1, int), "test-length": (1, int), "sample-freq": (1, int), "k": (1, int),
    "data-seed": (0, int), "encoder-hidden": (1, int), "decoder-hidden": (1, int),
    "num-edge-types": (1, int), "checkpoint-chunk-size": (1, int),
    "checkpoint-memory": (1, int), "epochs": (1, int), "batch-size": (1, int),
    "lr-decay": (1, int), "prediction-steps": (1, int), "burn-in-steps": (1, int),
    "seed": (0, int), "threads": (1, int), "observed-steps": (1, int), "horizon": (1, int),
    "tau": (0, float), "variance": (0, float), "lr": (0, float), "gamma": (0, float),
    "max-seconds": (0, float), "symmetry-weight": (None, float), "dropout": (None, float),
    "graph-radius": (0, float),
}


def bad_values(low, kind):
    values = ["-1", "abc"]
    if low is not None and low > 0 or kind is float and low == 0:
        values.append("0")
    values += ["2.5"] if kind is int else ["nan", "inf"]
    return values


NUMERIC = [(option, value) for option, (low, kind) in TRAIN_OPTIONS.items()
           for value in bad_values(low, kind)]


@pytest.fixture
def no_simulation(monkeypatch):
    # A bad option must be refused before any data is simulated: were one
    # accepted, this stops the run at once instead of simulating 50k systems.
    from torch_nri.datasets.simulated import SimulatedDataset

    def refuse(self):
        raise AssertionError("the data was being simulated: the option was accepted")

    monkeypatch.setattr(SimulatedDataset, "process", refuse)


def re_search(pattern, line):
    assert re.search(pattern, line), line
    return True


def cli_error(capsys, argv):
    r"""Runs ``torch-nri ARGV`` in this process; returns its one-line error."""
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"torch-nri {argv[0]}: error: "), err
    return lines[0]


@pytest.mark.parametrize("option, value", NUMERIC, ids=[f"{o}={v}" for o, v in NUMERIC])
def test_train_numeric_options(capsys, tmp_path, no_simulation, option, value):
    kind = TRAIN_OPTIONS[option][1]
    line = cli_error(capsys, ["train", f"--{option}", value, "--out", str(tmp_path / "run"),
                              "--data-root", str(tmp_path / "data")])
    try:
        kind(value)
    except ValueError:  # argparse's own answer
        assert f"argument --{option}: invalid {kind.__name__} value: '{value}'" in line
    else:
        assert f"'{option.replace('-', '_')}'" in line


OTHER_COMMANDS = [
    (["generate", "springs", "--length", "0"], r"'length' must be at least 1"),
    (["generate", "springs", "--sample-freq", "0"], r"'sample_freq' must be at least 1"),
    (["generate", "springs", "--num-nodes", "0"], r"'num_nodes' must be at least 2"),
    (["generate", "springs", "--seed", "-1"], r"'seed' must be non-negative"),
    (["generate", "springs", "--box-size", "abc"], r"argument --box-size: invalid float"),
    (["generate", "charged", "--cutoff", "-1"], r"'cutoff' must be positive"),
    (["generate", "springs", "--num-neighbors", "9"], r"'num_neighbors' must be in"),
    (["generate", "kuramoto", "--graph", "knn", "--k", "3"], r"no positions for a kNN graph"),
    (["generate", "gravity"], r"argument system: invalid choice"),
    (["baseline", "static", "--horizon", "0"], r"'horizon' must be at least 1"),
    (["baseline", "static", "--horizon", "100"], r"the test protocol needs 150 steps"),
    (["baseline", "static", "--observed-steps", "-1"], r"'observed_steps' must be at least 1"),
    (["baseline", "lstm-single", "--hidden", "0"], r"'hidden' must be at least 1"),
    (["baseline", "lstm-single", "--epochs", "0"], r"'epochs' must be at least 1"),
    (["baseline", "lstm-single", "--lr", "nan"], r"'lr' must be a finite number"),
    (["baseline", "lstm-single", "--max-seconds", "-5"], r"'max_seconds' must be positive"),
    (["baseline", "lstm-single", "--seed", "-1"], r"'seed' must be non-negative"),
    (["baseline", "static", "--device", "tpu"], r"'device' must be one of"),
    (["demo", "--epochs", "0"], r"'epochs' must be at least 1"),
    (["demo", "--epochs", "abc"], r"argument --epochs: invalid int value"),
    (["demo", "--device", "tpu"], r"'device' must be one of"),
    (["train", "--model", "gnn"], r"argument --model: invalid choice"),
    (["train", "--prior", "0.5", "0.6"], r"'prior' must hold positive probabilities"),
    (["train", "--skip-first", "--num-edge-types", "1"], r"needs at least 2 edge types"),
    (["train", "--graph", "knn"], r"graph='knn' needs a positive 'k'"),
    (["train", "--graph", "radius"], r"graph='radius' needs a positive 'graph_radius'"),
    (["train", "--graph-radius", "2"], r"'graph_radius' is the distance of graph='radius'"),
    (["train", "--position-features", "2", "3"], r"position features of springs systems are"),
    (["train", "--position-features", "a"], r"argument --position-features: invalid int"),
    (["generate", "kuramoto", "--position-features", "0"],
     r"position features of kuramoto systems do not exist"),
    (["train", "--decoder", "st", "--skip-no-edges"],
     r"'skip_no_edges=True' is an option of the mlp and rnn decoders"),
    (["train", "--model", "supervised", "--dynamic-graph"], r"'dynamic_graph' re-infers"),
    (["evaluate"], r"the following arguments are required: run_dir"),
    (["train", "--no-such-option"], r"unrecognized arguments: --no-such-option"),
]


@pytest.mark.parametrize("argv, match", OTHER_COMMANDS,
                         ids=[" ".join(c[0]) for c in OTHER_COMMANDS])
def test_other_commands(capsys, tmp_path, no_simulation, argv, match):
    # Were an option accepted, nothing would be written outside tmp_path.
    data, out = ["--data-root", str(tmp_path / "data")], ["--out", str(tmp_path / "run")]
    paths = {"train": data + out, "demo": data + out, "generate": data, "baseline": data}
    line = cli_error(capsys, [*argv, *paths.get(argv[0], [])])
    re_search(match, line)


def a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("not a directory")
    return str(path)


PATHS = [
    (lambda p: ["train", "--out", a_file(p)], r"'out' must be a directory, but .*file is an "
                                              r"existing file"),
    (lambda p: ["train", "--out", os.path.join(a_file(p), "run")],
     r"'out' must be a directory, but .*file, on its path .*file/run, is an existing file"),
    (lambda p: ["train", "--data", a_file(p)], r"trajectory directory expected, but .*file is a"),
    (lambda p: ["train", "--data", str(p / "none")], r"trajectory directory not found"),
    (lambda p: ["demo", "--out", a_file(p)], r"'out' must be a directory"),
    (lambda p: ["baseline", "static", "--out", a_file(p)], r"'out' must be a directory"),
    # generate's --out is --data-root by another name: the error names the flag typed.
    (lambda p: ["generate", "springs", "--out", a_file(p)],
     r"'--out' must be a directory, but .*file is an existing file"),
    (lambda p: ["generate", "springs", "--data-root", a_file(p)],
     r"'--data-root' must be a directory, but .*file is an existing file"),
    (lambda p: ["generate", "springs", "--data-root", str(p / "data"), "--out", a_file(p)],
     r"'--out' must be a directory"),
    (lambda p: ["generate", "springs", "--out", str(p / "data"), "--data-root", a_file(p)],
     r"'--data-root' must be a directory"),
    (lambda p: ["train", "--data-root", a_file(p), "--out", str(p / "run")],
     r"'data_root' must be a directory, but .*file is an existing file"),
    (lambda p: ["baseline", "static", "--data-root", a_file(p)],
     r"'data_root' must be a directory, but .*file is an existing file"),
    (lambda p: ["demo", "--data-root", a_file(p), "--out", str(p / "run")],
     r"'data_root' must be a directory, but .*file is an existing file"),
    (lambda p: ["evaluate", str(p / "none")], r"no run in .*none: .*config.json is missing"),
    (lambda p: ["evaluate", a_file(p)], r"no run in .*file"),
]


@pytest.mark.parametrize("argv, match", PATHS)
def test_paths(capsys, tmp_path, no_simulation, argv, match):
    re_search(match, cli_error(capsys, argv(tmp_path)))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="permissions do not bind root")
def test_read_only_output_directory(capsys, tmp_path):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        line = cli_error(capsys, ["train", "--out", str(read_only)])
    finally:
        read_only.chmod(0o700)
    assert "is not writable" in line


TINY = ["--num-train", "16", "--num-valid", "4", "--num-test", "4", "--epochs", "1",
        "--encoder-hidden", "8", "--decoder-hidden", "8", "--batch-size", "8",
        "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    data = ["--data-root", str(root / "data")]
    assert main(["train", *TINY, *data, "--out", str(root / "run")]) == 0
    return root, data


def copy_run(trained, name):
    root, data = trained
    shutil.copytree(root / "run", root / name, dirs_exist_ok=True)
    return str(root / name), data


def test_evaluate_refuses_other_data(capsys, trained):
    root, _ = trained
    run = str(root / "run")
    cases = [
        (save_npz(root / "f1.npz", x=good_x(steps=99, nodes=5, features=1)),
         r"f1.npz has 1 features, but the normalisation .* is for 4"),
        (save_npz(root / "ef.npz", x=good_x(steps=99, nodes=5, features=4),
                  edges=np.random.rand(2, 5, 5)),
         r"'edges' in .*ef.npz must hold integer edge types"),
        (str(root / "missing.npz"), r"trajectory file not found: .*missing.npz"),
    ]
    re_search(r"'device' must be one of", cli_error(capsys, ["evaluate", run, "--device",
                                                              "tpu"]))
    (root / "trunc.npz").write_bytes(open(root / "f1.npz", "rb").read()[:100])
    cases.append((str(root / "trunc.npz"), r"trunc.npz is not a readable .npz file"))
    capsys.readouterr()
    for path, match in cases:
        re_search(match, cli_error(capsys, ["evaluate", run, "--data", path]))


def test_corrupt_run_files(capsys, trained):
    run, data = copy_run(trained, "corrupt")
    with open(os.path.join(run, "config.json"), "w") as f:
        f.write("{not json")
    assert re_search(r"corrupt/config.json is not a readable run configuration",
                     cli_error(capsys, ["evaluate", run]))
    with open(os.path.join(run, "config.json"), "w") as f:
        json.dump([1, 2], f)
    assert re_search(r"config.json is not a run configuration: it holds a list",
                     cli_error(capsys, ["evaluate", run]))
    os.remove(os.path.join(run, "stats.json"))
    shutil.copy(os.path.join(str(trained[0]), "run", "config.json"), run)
    assert re_search(r"stats.json \(the run's normalisation, needed for --data\) is missing",
                     cli_error(capsys, ["evaluate", run, "--data", run]))
    for content, match in [(b"garbage", r"last.pt is corrupted or not a torch file"),
                           (open(os.path.join(run, "last.pt"), "rb").read()[:1000],
                            r"last.pt is corrupted or not a torch file")]:
        with open(os.path.join(run, "last.pt"), "wb") as f:
            f.write(content)
        assert re_search(match, cli_error(capsys, ["train", *TINY, *data, "--out", run,
                                                   "--resume"]))
    torch.save(torch.load(os.path.join(str(trained[0]), "run", "best.pt"), weights_only=False),
               os.path.join(run, "last.pt"))  # a model checkpoint, no training state
    assert re_search(r"last.pt cannot be resumed: it holds no optimizer, scheduler",
                     cli_error(capsys, ["train", *TINY, *data, "--out", run, "--resume"]))


def test_evaluate_refuses_a_checkpoint_of_another_model(capsys, trained):
    # A best.pt copied from another run (here a CNN encoder's) was scored as
    # the run's model; now it is refused, with what each file says.
    run, _ = copy_run(trained, "copied")
    save_model(NRI(CNNEncoder(F, 8, K), MLPDecoder(F, K, 8, 8, 8), K),
               os.path.join(run, "best.pt"))
    re_search(r"copied/best.pt holds another model than the run's config.json describes \(its "
              r"encoder differs\): it holds NRI with encoder CNNEncoder and decoder MLPDecoder; "
              r"config.json says model='nri', encoder='mlp' \(MLPEncoder\), decoder='mlp' "
              r"\(MLPDecoder\)", cli_error(capsys, ["evaluate", run]))
    with open(os.path.join(run, "config.json")) as f:  # the run's own best.pt, config edited
        config = json.load(f)
    shutil.copy(os.path.join(str(trained[0]), "run", "best.pt"), run)
    with open(os.path.join(run, "config.json"), "w") as f:
        json.dump({**config, "model": "supervised"}, f)
    re_search(r"\(its model and decoder differ\): it holds NRI with encoder MLPEncoder and "
              r"decoder MLPDecoder \(trained with model='nri', encoder='mlp', decoder='mlp'\); "
              r"config.json says model='supervised', encoder='mlp' \(MLPEncoder\)",
              cli_error(capsys, ["evaluate", run]))


def test_resume_refuses_other_settings(capsys, trained):
    run, data = copy_run(trained, "other")
    line = cli_error(capsys, ["train", *TINY, *data, "--out", run, "--resume",
                              "--num-edge-types", "3", "--lr", "0.01", "--num-train", "32"])
    for difference in ("num_train: saved 16, given 32", "num_edge_types: saved 2, given 3",
                       "lr: saved 0.0005, given 0.01"):
        assert difference in line
    assert "only epochs, max_seconds" in line


# Documented conversions: accepted, and converted as the docs say.
def convert_trajectories(tmp_path):
    x, relations = read_trajectories(save_npz(tmp_path / "c.npz", x=good_x().astype(np.int16),
                                              edges=np.ones((2, 4, 4), dtype=bool)))
    assert x.dtype == np.float32 and relations.types.dtype == np.int64
    assert relations.types.tolist() == [1] * 24  # off the diagonal


def convert_float64_trajectories(tmp_path):
    x, _ = read_trajectories(save_npz(tmp_path / "d.npz", x=good_x()))
    assert x.dtype == np.float32


def convert_numpy_numbers(tmp_path):
    config = TrainConfig(num_nodes=np.int64(7), lr=np.float32(0.5), prior=np.array([0.5, 0.5]),
                         position_features=np.array([0, 1]))
    assert type(config.num_nodes) is int and type(config.lr) is float
    assert config.prior == [0.5, 0.5]
    assert config.position_features == [0, 1] and type(config.position_features[0]) is int
    json.dumps(config.to_dict())


def convert_integer_sizes(tmp_path):
    assert fully_connected_edge_index(np.int64(3)).shape == (2, 6)
    assert fully_connected_edge_index(torch.tensor([2, 3])).shape == (2, 8)


def convert_label_dtypes(tmp_path):
    assert edge_accuracy(WEIGHTS, torch.zeros(E, dtype=torch.int32)) == 1.0


def convert_hand_built_model(tmp_path):
    model = nri().eval()
    save_model(model, str(tmp_path / "model.pt"))
    loaded = load_model(str(tmp_path / "model.pt")).eval()
    torch.manual_seed(0)
    expected = model(X, EDGE_INDEX).predictions
    torch.manual_seed(0)
    assert torch.equal(loaded(X, EDGE_INDEX).predictions, expected)


CONVERSIONS = [convert_trajectories, convert_float64_trajectories, convert_numpy_numbers,
               convert_integer_sizes, convert_label_dtypes, convert_hand_built_model]


@pytest.mark.parametrize("conversion", CONVERSIONS, ids=[c.__name__ for c in CONVERSIONS])
def test_documented_conversions(tmp_path, conversion):
    conversion(tmp_path)


def test_asymmetry_of_a_split_without_pairs_in_a_batch():
    # A kNN-like graph: one batch with a reciprocal pair, one without.
    from torch_nri.metrics import asymmetry_counts
    with_pair = asymmetry_counts(torch.tensor([0, 1]), torch.tensor([[0, 1], [1, 0]]))
    without = asymmetry_counts(torch.tensor([0]), torch.tensor([[0], [1]]))
    assert with_pair == (2, 2) and without == (0, 0)
