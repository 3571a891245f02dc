import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, kl_divergence

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.losses import elbo, gaussian_nll, kl_categorical, symmetry_kl


def test_gaussian_nll_is_per_node_and_matches_torch():
    predictions, targets = torch.randn(15, 9, 4), torch.randn(15, 9, 4)
    variance = 5e-5
    expected = ((predictions - targets) ** 2 / (2 * variance)).sum() / 15
    assert torch.allclose(gaussian_nll(predictions, targets, variance), expected)
    full = F.gaussian_nll_loss(predictions, targets, torch.full_like(targets, variance),
                               full=True, reduction="sum") / 15
    assert torch.allclose(gaussian_nll(predictions, targets, variance, add_const=True), full)


def test_gaussian_nll_errors():
    with pytest.raises(ValueError, match=r"same shape.*\(3, 4, 2\) and \(3, 5, 2\)"):
        gaussian_nll(torch.zeros(3, 4, 2), torch.zeros(3, 5, 2))
    with pytest.raises(ValueError, match="'variance' must be positive"):
        gaussian_nll(torch.zeros(3, 4, 2), torch.zeros(3, 4, 2), variance=0.0)


@pytest.mark.parametrize("prior", [None, [0.91, 0.03, 0.03, 0.03]])
def test_kl_matches_torch_distributions(prior):
    logits = torch.randn(40, 4)
    p = torch.full((4,), 0.25) if prior is None else torch.tensor(prior)
    expected = kl_divergence(Categorical(logits=logits), Categorical(probs=p)).sum() / 8
    assert torch.allclose(kl_categorical(logits, num_nodes=8, prior=prior), expected, atol=1e-6)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    prior = torch.tensor([0.7, 0.2, 0.1])
    assert abs(kl_categorical(prior.log().expand(10, 3), 5, prior).item()) < 1e-6
    assert kl_categorical(torch.randn(10, 3), 5, prior) > 0


def test_kl_prior_errors():
    with pytest.raises(ValueError, match=r"one probability per edge type \(2\).*\(3,\)"):
        kl_categorical(torch.randn(4, 2), 2, prior=[0.5, 0.25, 0.25])
    with pytest.raises(ValueError, match="summing to 1"):
        kl_categorical(torch.randn(4, 2), 2, prior=[0.5, 0.6])


def test_elbo_is_minus_nll_minus_kl():
    predictions, targets, logits = torch.randn(5, 3, 2), torch.randn(5, 3, 2), torch.randn(20, 2)
    terms = elbo(predictions, targets, logits, variance=0.1)
    assert torch.allclose(terms.nll, gaussian_nll(predictions, targets, 0.1))
    assert torch.allclose(terms.kl, kl_categorical(logits, 5))
    assert torch.allclose(terms.elbo, -(terms.nll + terms.kl))
    assert terms.kl >= -1e-6 and terms.kl <= math.log(2) * 20 / 5


def test_symmetry_kl_is_zero_for_a_symmetric_posterior_and_positive_otherwise():
    edge_index = fully_connected_edge_index(4)
    node_logits = torch.randn(4, 4, 3)
    symmetric = (node_logits + node_logits.transpose(0, 1)).softmax(-1)
    probs = symmetric[edge_index[0], edge_index[1]]
    assert symmetry_kl(probs, edge_index, 4).abs() < 1e-6
    asymmetric = node_logits.softmax(-1)[edge_index[0], edge_index[1]]
    value = symmetry_kl(asymmetric, edge_index, 4)
    # KL(q' || q) from torch.distributions, summed over edges, per node.
    reverse = node_logits.softmax(-1)[edge_index[1], edge_index[0]]
    expected = kl_divergence(Categorical(probs=reverse), Categorical(probs=asymmetric)).sum() / 4
    assert value > 0 and torch.allclose(value, expected, atol=1e-5)


def test_symmetry_kl_leaves_out_edges_without_reverse():
    edge_index = torch.tensor([[0, 1, 2], [1, 0, 0]])  # 0->2 is not a candidate edge
    probs = torch.tensor([[0.5, 0.5], [0.5, 0.5], [0.99, 0.01]])
    assert symmetry_kl(probs, edge_index, 3).abs() < 1e-7
    probs[1] = torch.tensor([0.9, 0.1])
    assert symmetry_kl(probs, edge_index, 3) > 0
    with pytest.raises(ValueError, match="'edge_probs' must have shape"):
        symmetry_kl(probs[:2], edge_index, 3)


def test_elbo_adds_the_weighted_symmetry_term():
    edge_index = fully_connected_edge_index(5)
    predictions, targets = torch.randn(5, 9, 4), torch.randn(5, 9, 4)
    logits = torch.randn(20, 2)
    plain = elbo(predictions, targets, logits)
    terms = elbo(predictions, targets, logits, edge_index=edge_index, symmetry_weight=100.0)
    assert plain.symmetry == 0 and terms.symmetry > 0
    assert torch.allclose(terms.elbo, plain.elbo - 100.0 * terms.symmetry)
    with pytest.raises(ValueError, match="needs 'edge_index'"):
        elbo(predictions, targets, logits, symmetry_weight=1.0)
