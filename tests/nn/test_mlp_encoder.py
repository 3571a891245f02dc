import os
import subprocess
import sys
import textwrap

import pytest
import torch

from torch_nri.nn import MLPEncoder
from torch_nri.testing import dense_reference
from tests.conftest import random_graph
from tests.layer_checks import assert_batch_matches_systems, assert_permutation_equivariant


@pytest.mark.parametrize("factor", [True, False])
@pytest.mark.parametrize("aggr", ["sum", "mean"])
def test_matches_dense_reference(system, factor, aggr):
    x, edge_index = system
    enc = MLPEncoder(20 * 4, 32, 3, factor=factor, aggr=aggr).eval()
    out = enc(x, edge_index)
    assert out.shape == (edge_index.size(1), 3)
    if aggr == "sum":  # the dense C.1 formulation sums over incoming edges
        assert torch.allclose(out, dense_reference.mlp_encoder(enc, x[None], edge_index)[0], atol=1e-5)


def test_factor_graph_step_mixes_information_across_edges(system):
    # With the factor step, changing one node changes logits of edges it is not on.
    x, edge_index = system
    x2 = x.clone()
    x2[0] += 1.0
    untouched = (edge_index != 0).all(dim=0)
    for factor, changes in ((True, True), (False, False)):
        enc = MLPEncoder(20 * 4, 32, 2, factor=factor).eval()
        diff = (enc(x, edge_index) - enc(x2, edge_index))[untouched].abs().max()
        assert bool(diff > 1e-4) == changes


def test_accepts_flattened_trajectories(system):
    x, edge_index = system
    enc = MLPEncoder(20 * 4, 16, 2).eval()
    assert torch.equal(enc(x, edge_index), enc(x.reshape(6, -1), edge_index))


def test_batching_and_permutation():
    enc = MLPEncoder(10 * 3, 16, 2).eval()
    assert_batch_matches_systems(enc, [3, 5, 2], 10, 3, level="edge")
    x = torch.randn(7, 10, 3)
    assert_permutation_equivariant(enc, x, random_graph(7, 25), level="edge")


def test_errors_name_the_argument():
    enc = MLPEncoder(10 * 3, 16, 2)
    x = torch.randn(5, 10, 3)
    edge_index = random_graph(5, 8)
    with pytest.raises(ValueError, match=r"'x' must hold in_channels = T \* F = 30 .*\(5, 9, 3\)"):
        enc(x[:, :9], edge_index)
    with pytest.raises(ValueError, match=r"'x'.*\(5, 10, 3, 1\)"):
        enc(x.unsqueeze(-1), edge_index)
    with pytest.raises(ValueError, match=r"'x' contains 1 non-finite"):
        bad = x.clone()
        bad[2, 3, 1] = float("nan")
        enc(bad, edge_index)
    with pytest.raises(ValueError, match=r"'edge_index'.*\[0, 5\].*5 nodes"):
        enc(x, torch.tensor([[0, 1], [5, 2]]))
    with pytest.raises(ValueError, match=r"'edge_index' must have shape \[2, num_edges\]"):
        enc(x, torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match=r"'edge_index'.*torch.long"):
        enc(x, edge_index.float())


def test_repr():
    assert repr(MLPEncoder(12, 16, 2)) == ("MLPEncoder(12, 16, num_edge_types=2, factor=True, "
                                           "dropout=0.0, aggr='sum', batch_norm=True)")


MEMORY_SCRIPT = textwrap.dedent("""
    import resource, torch
    from torch_nri.nn import MLPEncoder
    torch.manual_seed(0)
    num_nodes, k = 20_000, 8
    # A random k-regular in-degree graph: ~160,000 edges.
    receivers = torch.arange(num_nodes).repeat_interleave(k)
    senders = (receivers + torch.randint(1, num_nodes, (receivers.numel(),))) % num_nodes
    edge_index = torch.stack([senders, receivers])
    x = torch.randn(num_nodes, 10, 4)
    enc = MLPEncoder(40, 32, 2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    logits = enc(x, edge_index)
    logits.square().sum().backward()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(edge_index.size(1), logits.shape[0], (after - before) * 1024)
""")


@pytest.mark.slow
def test_memory_grows_with_edges_not_nodes_squared():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], capture_output=True,
                            text=True, check=True, env=env)
    num_edges, num_logits, peak_growth = map(int, result.stdout.split())
    assert num_edges == num_logits == 160_000
    dense_bytes = num_edges * 20_000 * 4  # one float32 one-hot [E, N] matrix: 12.8 GB
    # Forward and backward of a hidden-32 encoder need a few hundred MB.
    assert peak_growth < 1.0e9 < dense_bytes / 10


def test_without_batch_norm():
    enc = MLPEncoder(10 * 4, 16, 2, batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in enc.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in MLPEncoder(40, 16, 2).modules()) == 4
    x, edge_index = torch.randn(5, 10, 4), torch.tensor([[0, 1, 2], [1, 2, 0]])
    # Without batch statistics, training and evaluation mode compute the same.
    assert torch.allclose(enc.train()(x, edge_index), enc.eval()(x, edge_index), atol=1e-6)
    with_norm = MLPEncoder(40, 16, 2)
    assert not torch.allclose(with_norm.train()(x, edge_index), with_norm.eval()(x, edge_index))
