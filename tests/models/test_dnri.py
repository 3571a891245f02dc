import pytest
import torch

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.models import DNRI, DNRIOutput
from torch_nri.nn import DNRIEncoder, MLPDecoder, NRIDecoder, RNNDecoder, STDecoder
from tests.conftest import random_graph
from tests.layer_checks import assert_batch_matches_systems, assert_permutation_equivariant


def make_model(decoder="mlp", hidden=16, num_edge_types=2, **kwargs):
    decoders = {"mlp": MLPDecoder(4, num_edge_types, hidden, hidden, hidden, skip_first=True),
                "rnn": RNNDecoder(4, num_edge_types, hidden)}
    encoder_kwargs = {k: kwargs.pop(k) for k in ("batch_norm",) if k in kwargs}
    return DNRI(DNRIEncoder(4, hidden, num_edge_types, **encoder_kwargs), decoders[decoder],
                num_edge_types, **kwargs)


def soft_samples(model):
    # The softmax of the logits instead of a Gumbel sample: deterministic.
    model.sample_edges = lambda logits, hard: logits.softmax(-1)
    return model


class RecordingDecoder(NRIDecoder):
    """Records the edge weights of each step; predicts x + 0.1."""
    step_weights = True

    def __init__(self, feeding="burn_in"):
        super().__init__(4, 2)
        self.feeding = feeding
        self.seen = []

    def step(self, x, edge_index, edge_weights, memory=None):
        self.seen.append(edge_weights)
        return x + 0.1, None


def test_output_holds_a_graph_per_step():
    model = make_model()
    x, edge_index = torch.randn(5, 12, 4), fully_connected_edge_index(5)
    out = model(x, edge_index)
    assert isinstance(out, DNRIOutput)
    for per_step in (out.edge_logits, out.edge_probs, out.edges, out.prior_logits):
        assert per_step.shape == (20, 11, 2)
    assert out.predictions.shape == out.targets.shape == (5, 11, 4)
    terms = model.objective(out)
    assert terms.loss == terms.nll + terms.kl and terms.kl >= 0
    # A fixed prior shares the KL term with the learned one.
    model.prior = [0.9, 0.1]
    shared = model.objective(out).kl
    fixed = (out.edge_probs * (out.edge_probs.log() - torch.tensor([0.9, 0.1]).log())).sum() / 5
    assert torch.allclose(shared, (terms.kl + fixed) / 2)
    model.eval()
    edges = model(x, edge_index).edges
    assert torch.isin(edges, torch.tensor([0.0, 1.0])).all()  # hard in evaluation


@pytest.mark.parametrize("training", [False, True])
def test_the_prior_at_step_t_never_sees_later_inputs(training):
    # In training, batch statistics pool every step: causal without batch norm.
    model = make_model(batch_norm=not training).train(training)
    x, edge_index = torch.randn(6, 15, 4), random_graph(6, 20)
    t = 7
    noisy = x.clone()
    noisy[:, t + 1:] = torch.randn_like(noisy[:, t + 1:])
    prior, posterior = model.encoder(x, edge_index)
    noisy_prior, noisy_posterior = model.encoder(noisy, edge_index)
    assert torch.equal(prior[:, :t + 1], noisy_prior[:, :t + 1])
    assert not torch.allclose(prior[:, t + 1:], noisy_prior[:, t + 1:])
    assert not torch.allclose(posterior[:, :t + 1], noisy_posterior[:, :t + 1])  # q sees all
    # The prior run one step at a time on its state equals the whole pass.
    first, state = model.encoder.prior(x[:, :t], edge_index)
    step, _ = model.encoder.prior(x[:, t:t + 1], edge_index, state)
    assert torch.allclose(torch.cat([first, step], 1), prior[:, :t + 1], atol=1e-6)


def test_the_decoder_uses_the_sample_of_step_t_at_step_t():
    decoder = RecordingDecoder()
    model = DNRI(DNRIEncoder(4, 16, 2), decoder, 2)
    x, edge_index = torch.randn(5, 10, 4), fully_connected_edge_index(5)
    out = model(x, edge_index)
    assert len(decoder.seen) == 9
    for t, weights in enumerate(decoder.seen):
        assert torch.equal(weights, out.edges[:, t])


@pytest.mark.parametrize("feeding", ["burn_in", "teacher_forcing"])
def test_a_forecast_samples_the_prior_on_its_own_predictions(feeding):
    decoder = RecordingDecoder(feeding)
    model = soft_samples(DNRI(DNRIEncoder(4, 16, 2), decoder, 2).eval())
    x, edge_index = torch.randn(5, 8, 4), fully_connected_edge_index(5)
    given = torch.rand(20, 6, 2)  # the first 6 steps' graphs are given
    out = model.forecast(x, edge_index, given, horizon=5)
    predicted = x[:, -1:] + 0.1 * torch.arange(1, 6).view(1, 5, 1)
    assert torch.allclose(out, predicted)
    # Steps 0..7 read the true states, steps 8..11 the decoder's predictions.
    inputs = torch.cat([x, predicted[:, :-1]], dim=1)
    prior = model.encoder(inputs, edge_index)[0].softmax(-1)
    first = 0 if feeding == "burn_in" else 7
    assert len(decoder.seen) == 12 - first
    for t, weights in zip(range(first, 12), decoder.seen):
        expected = given[:, t] if t < 6 else prior[:, t]
        assert torch.allclose(weights, expected, atol=1e-6), t


@pytest.mark.parametrize("decoder", ["mlp", "rnn"])
def test_a_batch_equals_one_system_at_a_time(decoder):
    model = soft_samples(make_model(decoder).eval())
    assert_batch_matches_systems(lambda x, ei: model(x, ei).edge_logits.flatten(1),
                                 [3, 5, 4], 9, 4, "edge")
    assert_batch_matches_systems(lambda x, ei: model(x, ei).predictions.flatten(1),
                                 [3, 5, 4], 9, 4, "node")


def test_permutation_equivariance():
    model = soft_samples(make_model("rnn").eval())
    x, edge_index = torch.randn(6, 9, 4), random_graph(6, 22)
    assert_permutation_equivariant(lambda x, ei: model(x, ei).edge_logits, x, edge_index,
                                   "edge")
    assert_permutation_equivariant(lambda x, ei: model(x, ei).predictions, x, edge_index,
                                   "node")


@pytest.mark.parametrize("decoder", ["mlp", "rnn"])
def test_gradients_reach_every_parameter(decoder):
    model = make_model(decoder)
    out = model(torch.randn(6, 10, 4), fully_connected_edge_index(6))
    model.objective(out).loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_training_feeds_the_truth_every_step_or_burns_in():
    model = make_model()
    assert model.training_kwargs(50, 10) == {"prediction_steps": 1}
    assert model.training_kwargs(50, 10, burn_in_steps=30) == {"burn_in_steps": 30}


def test_reset_repr_and_checks():
    model = make_model()
    before = [p.detach().clone() for p in model.parameters()]
    model.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert repr(model.encoder) == ("DNRIEncoder(4, 16, num_edge_types=2, rnn_channels=16, "
                                   "head_channels=16, dropout=0.0, batch_norm=True)")
    assert repr(model).startswith("DNRI(\n  encoder=DNRIEncoder(4, 16")
    assert repr(model).endswith("num_edge_types=2, tau=0.5, hard=False, variance=5e-05, "
                                "prior=None)")
    with pytest.raises(ValueError, match="per-step edge"):
        DNRI(DNRIEncoder(4, 16, 2), STDecoder(4, 2, 16), 2)
    with pytest.raises(ValueError, match="per-step edge weights"):
        model.forecast(torch.randn(5, 8, 4), fully_connected_edge_index(5),
                       torch.rand(20, 2), 3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(prior=[0.9]), r"one probability per edge type \(2\)"),
    (dict(prior=[0.9, 0.2]), "summing to 1"),
    (dict(tau=float("nan")), "'tau' must be a finite number"),
    (dict(variance=0.0), "'variance' must be positive"),
])
def test_bad_arguments_are_refused_with_their_name(kwargs, message):
    # The prior is checked as NRI's is (the shared FixedPrior), when built and when set.
    with pytest.raises(ValueError, match=message):
        make_model(**kwargs)
    if "prior" in kwargs:
        model = make_model()
        with pytest.raises(ValueError, match=message):
            model.prior = kwargs["prior"]
        assert model.prior is None
