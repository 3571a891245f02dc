import json

import pytest
import torch
import torch.nn.functional as F

from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.graphs import fully_connected_edge_index
from torch_nri.models import NRI
from torch_nri.nn import MLPEncoder, SpringsSimulationDecoder
from torch_nri.simulations import simulate_springs
from tests.layer_checks import assert_segments_start_from_ground_truth

NUM_SIMS, NUM_NODES = 8, 5


def springs_batch(box_size=5.0, seed=0, walls=True):
    """Normalised springs data as one disjoint graph: x [S*N, T, 4], the
    fully connected edge_index, the true one-hot edge types and the stats."""
    traj = simulate_springs(NUM_SIMS, NUM_NODES, length=2000, sample_freq=100, seed=seed,
                            box_size=box_size, walls=walls)
    stats = MinMaxStats.fit(traj.features, {"position": [0, 1], "velocity": [2, 3]})
    x = torch.as_tensor(stats.normalize(traj.features))  # [S, T, N, 4]
    x = x.permute(0, 2, 1, 3).reshape(NUM_SIMS * NUM_NODES, -1, 4)
    edge_index = fully_connected_edge_index([NUM_NODES] * NUM_SIMS)
    system, i, j = edge_index[0] // NUM_NODES, edge_index[0] % NUM_NODES, edge_index[1] % NUM_NODES
    types = torch.as_tensor(traj.relations)[system, i, j].long()
    return x, edge_index, F.one_hot(types, 2).float(), stats


@pytest.fixture(scope="module")
def springs():
    return springs_batch()


def mse(a, b):
    return F.mse_loss(a, b).item()


def test_true_graph_predicts_the_next_step(springs):
    x, edge_index, weights, stats = springs
    dec = SpringsSimulationDecoder.from_stats(stats)
    true = mse(dec(x, edge_index, weights), x[:, 1:])
    wrong = mse(dec(x, edge_index, 1 - weights), x[:, 1:])
    static = mse(x[:, :-1], x[:, 1:])
    # Measured (seed 0): true 2.9e-7, wrong graph 2.0e-4, static 4.5e-4
    # (over seeds 0-5: static / true >= 1350, wrong / true >= 550).
    assert true < static / 300
    assert true < wrong / 100


def test_substeps_reproduce_the_generator(springs):
    # 100 substeps of 0.001 are the generator's own integration steps.
    x, edge_index, weights, stats = springs
    x = x[:, :5]
    dec = SpringsSimulationDecoder.from_stats(stats, substeps=100)
    assert torch.allclose(dec(x, edge_index, weights), x[:, 1:], atol=1e-5)


def test_walls():
    box = 1.0  # the particles hit the walls
    x, edge_index, weights, stats = springs_batch(box_size=box)
    assert (x[..., :2].abs() > 0.95).any()
    pred = SpringsSimulationDecoder.from_stats(stats, box_size=box)(x, edge_index, weights)
    no_walls = SpringsSimulationDecoder.from_stats(stats, box_size=100.0)(x, edge_index,
                                                                          weights)
    # Measured: 1.9e-6 with walls, 3.1e-3 without, static 3.9e-3.
    assert mse(pred, x[:, 1:]) < mse(no_walls, x[:, 1:]) / 100
    exact = SpringsSimulationDecoder.from_stats(stats, box_size=box, substeps=100)
    assert torch.allclose(exact(x[:, :5], edge_index, weights), x[:, 1:5], atol=1e-5)


def test_free_space():
    # Data without walls that a box of half-width 1 would have reflected.
    x, edge_index, weights, stats = springs_batch(box_size=1.0, walls=False)
    low, high = stats.range_of("position")
    assert max(-low, high) > 1.0
    free = SpringsSimulationDecoder.from_stats(stats, box_size=None, substeps=100)
    assert torch.allclose(free(x[:, :5], edge_index, weights), x[:, 1:5], atol=1e-5)
    walled = SpringsSimulationDecoder.from_stats(stats, box_size=1.0, substeps=100)
    assert not torch.allclose(walled(x[:, :5], edge_index, weights), x[:, 1:5], atol=1e-3)
    assert "box_size=None" in repr(free)


def test_gradients_reach_the_edge_weights(springs):
    x, edge_index, weights, stats = springs
    weights = weights.clone().requires_grad_()
    dec = SpringsSimulationDecoder.from_stats(stats)
    F.mse_loss(dec(x, edge_index, weights, prediction_steps=5), x[:, 1:]).backward()
    grad = weights.grad
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # Edge type 0 has spring constant 0: its weight changes nothing.
    assert torch.equal(grad[:, 0], torch.zeros_like(grad[:, 0]))
    assert grad[:, 1].abs().sum() > 0


@pytest.mark.parametrize("prediction_steps", [3, 10, 40])
def test_prediction_steps(springs, prediction_steps):
    x, edge_index, weights, stats = springs
    dec = SpringsSimulationDecoder.from_stats(stats)
    one = dec(x, edge_index, weights)
    out = dec(x, edge_index, weights, prediction_steps=prediction_steps)
    assert out.shape == one.shape == (NUM_SIMS * NUM_NODES, x.size(1) - 1, 4)
    assert torch.equal(out[:, ::prediction_steps], one[:, ::prediction_steps])
    assert_segments_start_from_ground_truth(dec, x, edge_index, weights)


def test_from_stats_and_config():
    stats = MinMaxStats([[0, 1], [2, 3]], [-2.0, -1.0], [3.0, 0.5], ["position", "velocity"])
    dec = SpringsSimulationDecoder.from_stats(stats, spring_constants=[0.0, 0.05, 0.1],
                                              substeps=2)
    assert dec.position_range == (-2.0, 3.0) and dec.velocity_range == (-1.0, 0.5)
    assert dec.num_edge_types == 3 and dec.substeps == 2
    assert list(dec.parameters()) == []
    dec.reset_parameters()
    config = dict(position_range=dec.position_range, velocity_range=dec.velocity_range,
                  spring_constants=dec.spring_constants, box_size=dec.box_size,
                  time_step=dec.time_step, substeps=dec.substeps)
    again = SpringsSimulationDecoder(**json.loads(json.dumps(config)))
    assert repr(again) == repr(dec)
    assert repr(dec).startswith("SpringsSimulationDecoder(position_range=(-2.0, 3.0)")
    with pytest.raises(ValueError, match="'stats' must have the feature groups"):
        SpringsSimulationDecoder.from_stats(MinMaxStats([[0], [1]], [0.0, 0.0], [1.0, 1.0]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(position_range=(1.0, 1.0)), "'position_range'"),
    (dict(position_range=(0.0,)), "'position_range'"),
    (dict(velocity_range=(2.0, -2.0)), "'velocity_range'"),
    (dict(velocity_range=(0.0, float("nan"))), "'velocity_range'"),
    (dict(spring_constants=[]), "'spring_constants'"),
    (dict(spring_constants=["a"]), "'spring_constants'"),
    (dict(box_size=0.0), "'box_size' must be positive"),
    (dict(time_step=-0.1), "'time_step' must be positive"),
    (dict(substeps=0), "'substeps'"),
    (dict(substeps=1.5), "'substeps'"),
])
def test_bad_arguments(kwargs, match):
    args = dict(position_range=(-1.0, 1.0), velocity_range=(-1.0, 1.0))
    with pytest.raises(ValueError, match=match):
        SpringsSimulationDecoder(**{**args, **kwargs})


def test_bad_inputs():
    dec = SpringsSimulationDecoder((-1.0, 1.0), (-1.0, 1.0))
    edge_index = fully_connected_edge_index(3)
    weights = torch.rand(6, 2)
    with pytest.raises(ValueError, match=r"'x' must have 4 features"):
        dec(torch.randn(3, 10, 3), edge_index, weights)
    with pytest.raises(ValueError, match=r"'edge_weights'.*\[6, 2\].*\(6, 3\)"):
        dec(torch.randn(3, 10, 4), edge_index, torch.rand(6, 3))
    with pytest.raises(ValueError, match="'prediction_steps'"):
        dec(torch.randn(3, 10, 4), edge_index, weights, prediction_steps=0)


def test_as_nri_decoder(springs):
    x, edge_index, _, stats = springs
    torch.manual_seed(0)
    model = NRI(MLPEncoder(x.size(1) * 4, 16, 2), SpringsSimulationDecoder.from_stats(stats),
                num_edge_types=2)
    out = model(x, edge_index, prediction_steps=5)
    assert out.predictions.shape == out.targets.shape == x[:, 1:].shape
    (-model.elbo(out).elbo).backward()
    for name, param in model.encoder.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
