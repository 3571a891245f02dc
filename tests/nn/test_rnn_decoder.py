import pytest
import torch
import torch.nn.functional as F

from torch_nri.nn import MLPEncoder, RNNDecoder
from torch_nri.testing import dense_reference
from tests.conftest import random_graph
from tests.layer_checks import assert_batch_matches_systems, assert_permutation_equivariant


@pytest.mark.parametrize("burn_in_steps", [1, 7, 19])
@pytest.mark.parametrize("skip_first", [False, True])
def test_matches_dense_reference(system, burn_in_steps, skip_first):
    x, edge_index = system
    dec = RNNDecoder(4, 3, 16, skip_first=skip_first).eval()
    weights = torch.rand(edge_index.size(1), 3).softmax(-1)
    out = dec(x, edge_index, weights, burn_in_steps=burn_in_steps)
    assert out.shape == (6, 19, 4)
    ref = dense_reference.rnn_decoder(dec, x[None], edge_index, weights[None],
                                       burn_in_steps)[0]
    assert torch.allclose(out, ref, atol=1e-5)


def test_burn_in_feeds_ground_truth_then_own_predictions(system):
    x, edge_index = system
    dec = RNNDecoder(4, 2, 16).eval()
    weights = torch.rand(edge_index.size(1), 2)
    x2 = x.clone()
    x2[:, 8:] += 1.0  # after burn-in of 8 steps, ground truth is never read
    assert torch.equal(dec(x, edge_index, weights, burn_in_steps=8),
                       dec(x2, edge_index, weights, burn_in_steps=8))
    # Without burn-in, every step reads the ground truth.
    assert not torch.allclose(dec(x, edge_index, weights), dec(x2, edge_index, weights))


def test_prediction_steps_without_burn_in(system):
    x, edge_index = system
    dec = RNNDecoder(4, 2, 16).eval()
    weights = torch.rand(edge_index.size(1), 2)
    a = dec(x, edge_index, weights, prediction_steps=4)
    unread = x.clone()
    unread[:, 1:4] += 1.0  # with M = 4, inputs 1..3 are own predictions
    assert torch.equal(a, dec(unread, edge_index, weights, prediction_steps=4))
    read = x.clone()
    read[:, 4] += 1.0
    b = dec(read, edge_index, weights, prediction_steps=4)
    assert torch.equal(a[:, :4], b[:, :4]) and not torch.allclose(a[:, 4:], b[:, 4:])


def test_dynamic_graph_sees_only_own_inputs_after_burn_in(system):
    x, edge_index = system
    burn_in, window = 8, 5
    dec = RNNDecoder(4, 2, 16).eval()
    enc = MLPEncoder(window * 4, 16, 2).eval()
    windows = []

    def dynamic_graph(recent, edge_index):
        windows.append(recent)
        return F.gumbel_softmax(enc(recent, edge_index), tau=0.5, hard=True)

    weights = torch.rand(edge_index.size(1), 2)
    torch.manual_seed(0)
    out = dec(x, edge_index, weights, burn_in_steps=burn_in, dynamic_graph=dynamic_graph,
              dynamic_graph_window=window)
    assert len(windows) == 19 - burn_in
    for n, recent in enumerate(windows):
        t = burn_in + n
        assert recent.shape == (6, window, 4)
        # The window's last input is the decoder's own prediction of step t.
        assert torch.equal(recent[:, -1], out[:, t - 1])
        if t == burn_in:  # the rest of the first window is burn-in ground truth
            assert torch.equal(recent[:, :-1], x[:, t - window + 1:t])
    # Ground truth after burn-in cannot change anything.
    x2 = x.clone()
    x2[:, burn_in:] = 1e3
    torch.manual_seed(0)
    out2 = dec(x2, edge_index, weights, burn_in_steps=burn_in, dynamic_graph=dynamic_graph,
               dynamic_graph_window=window)
    assert torch.equal(out, out2)


def test_batching_and_permutation():
    dec = RNNDecoder(3, 2, 16).eval()

    def run(x, edge_index):
        weights = torch.sigmoid(x[edge_index[0], 0, :1] - x[edge_index[1], 0, :1])
        return dec(x, edge_index, torch.cat([weights, 1 - weights], -1), burn_in_steps=5)

    assert_batch_matches_systems(run, [3, 5, 2], 12, 3, level="node")
    assert_permutation_equivariant(run, torch.randn(7, 12, 3), random_graph(7, 25),
                                   level="node")


def test_errors(system):
    x, edge_index = system
    dec = RNNDecoder(4, 2, 16)
    weights = torch.rand(edge_index.size(1), 2)
    with pytest.raises(ValueError, match="either 'burn_in_steps' or 'prediction_steps'"):
        dec(x, edge_index, weights, burn_in_steps=5, prediction_steps=3)
    with pytest.raises(ValueError, match="'dynamic_graph' needs 'burn_in_steps'"):
        dec(x, edge_index, weights, dynamic_graph=lambda w, e: weights)
    with pytest.raises(ValueError,
                       match=r"'dynamic_graph_window' must be in \[1, burn_in_steps=5\], got 6"):
        dec(x, edge_index, weights, burn_in_steps=5, dynamic_graph=lambda w, e: weights,
            dynamic_graph_window=6)
    with pytest.raises(ValueError, match=r"'dynamic_graph\(window, edge_index\)'.*\(30, 3\)"):
        dec(x, edge_index, weights, burn_in_steps=5,
            dynamic_graph=lambda w, e: torch.rand(30, 3))
