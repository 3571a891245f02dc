import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, kl_divergence

from torch_nri.losses import elbo, gaussian_nll, kl_categorical


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
