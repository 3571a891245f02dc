import pytest
import torch

from torch_nri.baselines import CorrelationBaseline, best_threshold


def test_threshold_search_is_exact():
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        values = torch.randint(0, 8, (30,), generator=generator).double()  # many ties
        present = torch.rand(30, generator=generator) < 0.5
        accuracy, threshold = best_threshold(values, present)
        candidates = torch.cat([values.unique(), values.min().view(1) - 1])
        brute = max(((values > c) == present).double().mean().item() for c in candidates)
        assert accuracy == pytest.approx(brute)
        assert ((values > threshold) == present).double().mean().item() == pytest.approx(accuracy)


def planted(num_sims, sign, generator, num_nodes=6, num_steps=40):
    """Objects joined by an edge share a noise signal (with ``sign`` on one
    side); the others' signals are independent."""
    edges = (torch.rand(num_sims, num_nodes, num_nodes, generator=generator) < 0.4).long()
    edges = torch.triu(edges, 1)
    edges = edges + edges.transpose(1, 2)
    x = torch.randn(num_sims, num_steps, num_nodes, 2, generator=generator)
    for s, i, j in torch.nonzero(torch.triu(edges, 1)).tolist():
        shared = 3 * torch.randn(num_steps, 2, generator=generator)
        x[s, :, i] += shared
        x[s, :, j] += sign * shared
    return x, edges


def test_recovers_a_planted_structure():
    generator = torch.Generator().manual_seed(1)
    baseline = CorrelationBaseline().fit(*planted(50, 1.0, generator))
    assert baseline.absolute is False and baseline.threshold > 0
    x, edges = planted(50, 1.0, generator)
    assert baseline.score(x, edges) > 0.9
    predicted = baseline.predict(x)
    assert predicted.shape == edges.shape and not predicted.diagonal(dim1=1, dim2=2).any()


def test_chooses_absolute_correlation_for_anticorrelated_edges():
    generator = torch.Generator().manual_seed(2)
    baseline = CorrelationBaseline().fit(*planted(50, -1.0, generator))
    assert baseline.absolute is True
    assert baseline.score(*planted(50, -1.0, generator)) > 0.9


def test_correlations_match_torch_corrcoef():
    x = torch.randn(3, 10, 4, 2)
    for s in range(3):
        expected = torch.corrcoef(x[s].permute(1, 0, 2).reshape(4, -1))
        assert torch.allclose(CorrelationBaseline.correlations(x)[s].float(), expected,
                              atol=1e-5)


def test_errors():
    baseline = CorrelationBaseline()
    with pytest.raises(RuntimeError, match="call fit"):
        baseline.predict(torch.randn(2, 5, 3, 2))
    with pytest.raises(ValueError, match="'x' must have shape"):
        baseline.fit(torch.randn(5, 3, 2), torch.zeros(5, 3, 3))
    with pytest.raises(ValueError, match="'edges' must have shape"):
        baseline.fit(torch.randn(2, 5, 3, 2), torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="NaN"):
        baseline.fit(torch.full((2, 5, 3, 2), float("nan")), torch.zeros(2, 3, 3))
