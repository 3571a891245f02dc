import pytest
import torch

from torch_nri.baselines.lstm_correlation import LSTMCorrelationBaseline
from torch_nri.baselines.lstm_path import LSTMPathBaseline


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny LSTMs run faster on one thread, and far faster than on two
    threads that compete with another process for two cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def constant_velocity(num_sims, num_steps=12, num_nodes=3, seed=0, dt=0.1):
    """Particles in 2D moving at constant velocity: ``[S, T, N, 4]`` with
    position and velocity, so the state difference is ``[dt * v, 0]``."""
    generator = torch.Generator().manual_seed(seed)
    position = torch.randn(num_sims, 1, num_nodes, 2, generator=generator)
    velocity = torch.randn(num_sims, 1, num_nodes, 2, generator=generator)
    t = dt * torch.arange(num_steps, dtype=torch.float).view(1, -1, 1, 1)
    return torch.cat([position + t * velocity, velocity.expand(-1, num_steps, -1, -1)], dim=-1)


def models(num_nodes=3, hidden=8):
    torch.manual_seed(0)
    return {"single": LSTMPathBaseline(4, hidden), "joint": LSTMPathBaseline(4, hidden, num_nodes)}


@pytest.mark.parametrize("kind", ["single", "joint"])
def test_forward_shapes_and_joint_lstm_size(kind):
    model = models()[kind]
    x = constant_velocity(5, num_steps=9)
    assert model(x, burn_in_steps=4).shape == (5, 8, 3, 4)
    assert model(x[:, :2], burn_in_steps=1).shape == (5, 1, 3, 4)
    assert model.lstm.hidden_size == (8 * 3 if kind == "joint" else 8)
    assert model.output_mlp[0].in_features == 8  # the LSTM output is split per object


@pytest.mark.parametrize("kind", ["single", "joint"])
def test_burn_in_semantics(kind):
    model = models()[kind].eval()
    x = constant_velocity(4, num_steps=10)
    burn_in = 6
    with torch.no_grad():
        out = model(x, burn_in)
        # Ground truth after the burn-in is never read.
        changed = x.clone()
        changed[:, burn_in:] += 5.0
        assert torch.equal(model(changed, burn_in), out)
        # A prediction depends only on the inputs up to its step.
        changed = x.clone()
        changed[:, 4] += 1.0
        other = model(changed, burn_in)
        assert torch.equal(other[:, :4], out[:, :4])
        assert not torch.allclose(other[:, 4:], out[:, 4:])
        # Before the burn-in, the inputs are the ground truth (teacher forcing).
        assert torch.allclose(out[:, :burn_in], model(x, 100)[:, :burn_in], atol=1e-6)
        assert torch.allclose(model(x, 9), model(x, 100))
        # After it, the input of step t is the prediction of step t.
        fed = x.clone()
        fed[:, burn_in] = out[:, burn_in - 1]
        assert torch.allclose(model(fed, burn_in + 1), out, atol=1e-6)
        # Predictions are residual: step t + 1 = input of step t + network output.
        difference, _, _ = model.network(model._sequences(x[:, :1]))
        difference = model._trajectories(difference, x.size(0))[:, 0]
        assert torch.allclose(out[:, 0], x[:, 0] + difference, atol=1e-6)


def test_joint_mixes_objects_and_single_does_not():
    x = constant_velocity(4, num_steps=8)
    changed = x.clone()
    changed[:, :3, 0] += 1.0  # object 0's early states
    for kind, model in models().items():
        with torch.no_grad():
            out, other = model(x, 4), model(changed, 4)
        assert not torch.allclose(other[:, :, 0], out[:, :, 0])
        if kind == "joint":
            assert not torch.allclose(other[:, :, 1], out[:, :, 1])
        else:
            assert torch.allclose(other[:, :, 1:], out[:, :, 1:], rtol=0, atol=1e-7)


def test_single_shares_the_network_of_corr_lstm_and_joint_with_one_object():
    torch.manual_seed(1)
    corr = LSTMCorrelationBaseline(4, 8)
    single = LSTMPathBaseline(4, 8)
    single.load_state_dict(corr.state_dict())
    x = constant_velocity(3, num_steps=7)
    with torch.no_grad():
        paths = corr._paths(x)
        expected = paths[:, :-1] + corr(paths[:, :-1])[0]  # the state difference, teacher forced
        out = single(x, burn_in_steps=6)
        assert torch.allclose(out.permute(0, 2, 1, 3).flatten(0, 1), expected, atol=1e-6)
        joint = LSTMPathBaseline(4, 8, num_nodes=1)
        joint.load_state_dict(single.state_dict())
        assert torch.allclose(joint(x[:, :, :1], 3), single(x[:, :, :1], 3), atol=1e-6)


@pytest.mark.parametrize("kind", ["single", "joint"])
def test_fit_lowers_the_error_and_keeps_the_best_epoch(kind):
    x, valid = constant_velocity(16, seed=1), constant_velocity(8, seed=2)
    model = models(hidden=16)[kind]
    start = model.evaluate(x, observed_steps=5, horizon=6)["mse"]
    model.fit(x, epochs=30, batch_size=8, lr=3e-3, prediction_steps=6, seed=3, valid=valid)
    end = model.evaluate(x, observed_steps=5, horizon=6)["mse"]
    assert sum(end) < 0.2 * sum(start)
    history = model.history
    assert len(history) == 30 and history[-1]["train_mse"] < history[0]["train_mse"]
    # The kept parameters are those of the best validation epoch.
    best = min(row["valid_mse"] for row in history)
    assert model._mse(model._sequences(valid), 6, 1000) == pytest.approx(best, rel=1e-5)


@pytest.mark.parametrize("kind", ["single", "joint"])
def test_seeded_fits_are_reproducible_and_time_budget_stops_early(kind):
    x = constant_velocity(8, num_steps=6)
    a, b, c = (models()[kind] for _ in range(3))  # the same initial parameters
    a.fit(x, epochs=2, batch_size=4, seed=0)
    b.fit(x, epochs=2, batch_size=4, seed=0)
    c.fit(x, epochs=2, batch_size=4, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    a.fit(x, epochs=50, batch_size=4, max_seconds=0.0)
    assert len(a.history) == 1


@pytest.mark.parametrize("kind", ["single", "joint"])
def test_evaluate_follows_the_test_protocol(kind):
    model = models()[kind]
    x = constant_velocity(7, num_steps=13, seed=4)
    x = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    observed_steps, horizon = 6, 5
    result = model.evaluate(x, observed_steps=observed_steps, horizon=horizon, batch_size=3)
    assert result["num_examples"] == 7
    assert len(result["mse"]) == horizon and len(result["mse_static"]) == horizon
    target = x[:, observed_steps + 1:observed_steps + horizon + 1]
    static = (target - x[:, observed_steps:observed_steps + 1]).pow(2).mean((0, 2, 3))
    assert result["mse_static"] == pytest.approx(static.tolist(), rel=1e-5)
    with torch.no_grad():
        predictions = model(x[:, :observed_steps + horizon + 1], observed_steps + 1)
    error = (predictions[:, observed_steps:] - target).pow(2).mean((0, 2, 3))
    assert result["mse"] == pytest.approx(error.tolist(), rel=1e-5)
    # The paper's protocol: 49 observed steps, 20 predicted.
    long = constant_velocity(2, num_steps=70)
    assert len(model.evaluate(long)["mse"]) == 20
    with pytest.raises(ValueError, match="needs 70 steps"):
        model.evaluate(long[:, :69])


def test_input_errors():
    single, joint = models().values()
    x = constant_velocity(2, num_steps=5)
    with pytest.raises(ValueError, match="must have 3 objects"):
        joint(constant_velocity(2, num_steps=5, num_nodes=4), 2)
    with pytest.raises(ValueError, match="must have 3 objects"):
        joint.fit(constant_velocity(2, num_steps=5, num_nodes=4))
    with pytest.raises(ValueError, match="'valid' must have 3 objects"):
        joint.fit(x, valid=constant_velocity(2, num_steps=5, num_nodes=2))
    with pytest.raises(ValueError, match="'x' must have shape"):
        single(x[0], 2)
    with pytest.raises(ValueError, match="4 features"):
        single(x[..., :2], 2)
    bad = x.clone()
    bad[1, 3, 2, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        single.fit(bad)
    with pytest.raises(ValueError, match="at least 2 steps"):
        single(x[:, :1], 1)
    with pytest.raises(ValueError, match="burn_in_steps"):
        single(x, 0)
    with pytest.raises(ValueError, match="prediction_steps"):
        single.fit(x, prediction_steps=0)
    with pytest.raises(ValueError, match="needs 8 steps"):
        single.evaluate(x, observed_steps=4, horizon=3)
    with pytest.raises(ValueError, match="num_nodes"):
        LSTMPathBaseline(4, 8, num_nodes=0)
