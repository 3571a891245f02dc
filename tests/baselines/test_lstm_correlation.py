import pytest
import torch

from torch_nri.baselines import LSTMCorrelationBaseline
from tests.baselines.test_correlation import planted


def test_fits_and_predicts_on_a_tiny_dataset():
    generator = torch.Generator().manual_seed(0)
    x, edges = planted(12, 1.0, generator, num_steps=12)
    baseline = LSTMCorrelationBaseline(2, hidden_channels=16)
    before = [p.clone() for p in baseline.parameters()]
    baseline.fit(x, edges, epochs=2, batch_size=16)
    assert any(not torch.equal(a, b) for a, b in zip(before, baseline.parameters()))
    assert baseline.hidden_states(x).shape == (12, 1, 6, 16)
    predicted = baseline.predict(x)
    assert predicted.shape == edges.shape and not predicted.diagonal(dim1=1, dim2=2).any()
    assert 0.0 <= baseline.score(x, edges) <= 1.0
    assert baseline.correlation.threshold is not None


def test_training_lowers_the_prediction_error():
    torch.manual_seed(0)
    t = torch.linspace(0, 6, 20)
    x = torch.stack([torch.sin(t + phase) for phase in torch.rand(40)]).view(8, 5, 20, 1)
    x = x.permute(0, 2, 1, 3)  # [S, T, N, F]: sine waves of random phase
    baseline = LSTMCorrelationBaseline(1, hidden_channels=16)
    paths = baseline._paths(x)

    def error():
        with torch.no_grad():
            return torch.nn.functional.mse_loss(baseline(paths[:, :-1])[0], paths[:, 1:]).item()

    start = error()
    baseline.fit(x, torch.zeros(8, 5, 5, dtype=torch.long), epochs=30, batch_size=8)
    assert error() < 0.2 * start


def test_seeded_fits_are_reproducible():
    x, edges = planted(6, 1.0, torch.Generator().manual_seed(1), num_steps=8)
    a = LSTMCorrelationBaseline(2, 8)
    b = LSTMCorrelationBaseline(2, 8)
    b.load_state_dict(a.state_dict())
    a.fit(x, edges, epochs=1, seed=3)
    b.fit(x, edges, epochs=1, seed=3)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="'x' must have shape"):
        a.fit(x[0], edges)
