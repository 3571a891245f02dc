import pytest
import torch
import torch.nn.functional as F
from torch.nn import Linear

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.nn import (EdgeTypeMLP, MLPDecoder, MLPEncoder, NRIDecoder, RNNDecoder,
                          SpringsSimulationDecoder, STDecoder)
from tests.layer_checks import assert_segments_start_from_ground_truth


class LinearDecoder(NRIDecoder):
    """A decoder written as a user would: only its layers and step()."""

    def __init__(self, in_channels, num_edge_types, hidden_channels=8):
        super().__init__(in_channels, num_edge_types)
        self.hidden_channels = hidden_channels
        self.edge_mlp = EdgeTypeMLP(2 * in_channels, hidden_channels, hidden_channels,
                                    num_edge_types)
        self.lin = Linear(in_channels + hidden_channels, in_channels)
        self.reset_parameters()

    def step(self, x, edge_index, edge_weights, memory=None):
        messages = self.aggregate_messages(self.edge_mlp, x, edge_index, edge_weights)
        return x + self.lin(torch.cat([x, messages], dim=-1)), None


class CountingDecoder(LinearDecoder):
    """Counts its steps in the memory (a recurrent decoder)."""
    feeding = "burn_in"

    def step(self, x, edge_index, edge_weights, memory=None):
        count = 0 if memory is None else memory
        return super().step(x, edge_index, edge_weights)[0] + 0.01 * count, count + 1


def decoders():
    return {"mlp": MLPDecoder(4, 2, 16, 16, 16), "rnn": RNNDecoder(4, 2, 16),
            "st": STDecoder(4, 2, 16), "st-attention": STDecoder(4, 2, 16, "attention"),
            "sim": SpringsSimulationDecoder((-1.0, 1.0), (-1.0, 1.0)),
            "user": LinearDecoder(4, 2)}


def test_a_decoder_with_only_step_gets_every_rollout(system):
    x, edge_index = system
    dec = LinearDecoder(4, 2).eval()
    weights = torch.rand(edge_index.size(1), 2)
    assert dec(x, edge_index, weights, prediction_steps=5).shape == (6, 19, 4)
    assert_segments_start_from_ground_truth(dec, x, edge_index, weights)
    burnt = dec(x, edge_index, weights, burn_in_steps=8)
    noisy = x.clone()
    noisy[:, 8:] = torch.randn_like(noisy[:, 8:])
    assert torch.equal(burnt, dec(noisy, edge_index, weights, burn_in_steps=8))
    assert dec.forecast(x[:, :10], edge_index, weights, horizon=7).shape == (6, 7, 4)
    assert dec.training_kwargs(49, 10) == {"prediction_steps": 10}
    assert repr(dec) == "LinearDecoder(4, num_edge_types=2)"


@pytest.mark.parametrize("name", ["mlp", "st", "st-attention", "sim", "user"])
def test_teacher_forced_forecast_is_one_segment_from_the_last_observed_state(system, name):
    x, edge_index = system
    dec = decoders()[name].eval()
    weights = torch.rand(edge_index.size(1), 2)
    observed, horizon = 8, 6
    forecast = dec.forecast(x[:, :observed], edge_index, weights, horizon)
    segment = dec(x[:, observed - 1:observed + horizon], edge_index, weights,
                  prediction_steps=horizon)
    assert torch.allclose(forecast, segment, atol=1e-6)
    assert dec.training_kwargs(49, 10) == {"prediction_steps": 10}
    assert dec.training_kwargs(49, 10, burn_in_steps=30) == {"burn_in_steps": 30}


@pytest.mark.parametrize("dec", [RNNDecoder(4, 2, 16), CountingDecoder(4, 2)])
def test_burn_in_forecast_runs_the_memory_through_the_observed_steps(system, dec):
    x, edge_index = system
    dec = dec.eval()
    weights = torch.rand(edge_index.size(1), 2)
    observed, horizon = 8, 6
    forecast = dec.forecast(x[:, :observed], edge_index, weights, horizon)
    burnt = dec(x[:, :observed + horizon], edge_index, weights, burn_in_steps=observed)
    assert torch.allclose(forecast, burnt[:, observed - 1:], atol=1e-6)
    # The memory matters: a forecast from the last state alone differs.
    alone = dec.forecast(x[:, observed - 1:observed], edge_index, weights, horizon)
    assert not torch.allclose(forecast, alone)
    assert dec.training_kwargs(49, 10) == {"burn_in_steps": 39}


@pytest.mark.parametrize("name", ["mlp", "rnn", "st", "sim", "user"])
def test_dynamic_graph_reads_only_the_decoders_own_inputs(system, name):
    x, edge_index = system
    torch.manual_seed(0)
    dec = decoders()[name].eval()
    observed, window, horizon = 8, 5, 6
    enc = MLPEncoder(window * 4, 16, 2).eval()
    windows = []

    def dynamic_graph(recent, edge_index):
        windows.append(recent)
        return F.gumbel_softmax(enc(recent, edge_index), tau=0.5, hard=True)

    weights = F.one_hot(torch.randint(0, 2, (edge_index.size(1),)), 2).float()
    torch.manual_seed(1)
    forecast = dec.forecast(x[:, :observed], edge_index, weights, horizon,
                            dynamic_graph=dynamic_graph, dynamic_graph_window=window)
    static = dec.forecast(x[:, :observed], edge_index, weights, horizon)
    assert not torch.allclose(forecast, static)  # the re-inferred graph changes the forecast
    # One re-inference per step from a prediction, on the last `window` inputs.
    assert len(windows) == horizon - 1
    for n, recent in enumerate(windows):
        assert recent.shape == (6, window, 4)
        assert torch.equal(recent[:, -1], forecast[:, n])
        if n == 0:
            assert torch.equal(recent[:, :-1], x[:, observed - window + 1:observed])
    # In training's burn-in rollout, the ground truth after burn-in is never read.
    noisy = x.clone()
    noisy[:, observed:] = torch.randn_like(noisy[:, observed:])
    outs = []
    for data in (x, noisy):
        torch.manual_seed(1)
        outs.append(dec(data, edge_index, weights, burn_in_steps=observed,
                        dynamic_graph=dynamic_graph, dynamic_graph_window=window))
    assert torch.equal(outs[0], outs[1])


def test_contract_errors(system):
    x, edge_index = system
    weights = torch.rand(edge_index.size(1), 2)

    class NoStep(NRIDecoder):
        pass

    with pytest.raises(NotImplementedError, match="NoStep must implement step"):
        NoStep(4, 2)(x, edge_index, weights)

    class Odd(NRIDecoder):
        feeding = "sometimes"

    with pytest.raises(ValueError, match="Odd.feeding must be one of"):
        Odd(4, 2)
    dec = LinearDecoder(4, 2)
    with pytest.raises(ValueError, match="'horizon' must be at least 1, got 0"):
        dec.forecast(x, edge_index, weights, horizon=0)
    with pytest.raises(ValueError, match=r"'dynamic_graph_window' must be in \[1, observed "
                                         r"steps=20\], got 21"):
        dec.forecast(x, edge_index, weights, 3, dynamic_graph=lambda w, e: weights,
                     dynamic_graph_window=21)
    with pytest.raises(ValueError, match="'dynamic_graph' needs 'burn_in_steps'"):
        dec(x, edge_index, weights, dynamic_graph=lambda w, e: weights)
    with pytest.raises(ValueError, match="'x' must have 4 features"):
        dec.forecast(x[..., :3], edge_index, weights, horizon=2)
    with pytest.raises(ValueError, match="'skip_first=True' needs at least 2 edge types"):
        NRIDecoder(4, 1, skip_first=True)


def test_checkpoints_of_version_0_1_0_map_the_output_head():
    # torch_nri 0.1.0 named the output MLP lin1..3 (MLP) and lin_out1..3 (RNN, ST).
    for dec, old in ((MLPDecoder(4, 2, 8, 8, 8), "lin"), (RNNDecoder(4, 2, 8), "lin_out"),
                     (STDecoder(4, 2, 8), "lin_out")):
        state = dec.state_dict()
        legacy = {}
        for key, value in state.items():
            if key.startswith("head.mlp.lins."):
                index = int(key.split(".")[3])
                key = f"{old}{index + 1}.{key.split('.')[-1]}"
            legacy[key] = value + 1.0
        fresh = type(dec)(**{"in_channels": 4, "num_edge_types": 2, **(
            {"msg_hidden_channels": 8, "msg_out_channels": 8, "hidden_channels": 8}
            if isinstance(dec, MLPDecoder) else {"hidden_channels": 8})})
        fresh.load_state_dict(legacy)
        for key, value in fresh.state_dict().items():
            assert torch.equal(value, state[key] + 1.0), key


def test_works_on_a_graph_without_edges():
    dec = LinearDecoder(3, 2).eval()
    x = torch.randn(4, 6, 3)
    empty = fully_connected_edge_index(4)[:, :0]
    assert dec.forecast(x, empty, torch.zeros(0, 2), horizon=3).shape == (4, 3, 3)


def test_a_subclass_with_a_layer_of_an_old_name_keeps_its_own_parameters():
    class Extended(MLPDecoder):
        def __init__(self):
            super().__init__(4, 2, 8, 8, 8)
            self.lin1 = Linear(3, 3)  # the old name of the head's first layer

    dec = Extended()
    again = Extended()
    again.load_state_dict(dec.state_dict())
    assert torch.equal(again.lin1.weight, dec.lin1.weight)
    assert torch.equal(again.head.mlp.lins[0].weight, dec.head.mlp.lins[0].weight)


class RecordingDecoder(NRIDecoder):
    """Records the edge weights each step is given; predicts x + 1."""
    step_weights = True

    def __init__(self, feeding="teacher_forcing"):
        super().__init__(4, 3)
        self.feeding = feeding
        self.seen = []

    def step(self, x, edge_index, edge_weights, memory=None):
        self.seen.append(edge_weights)
        return x + 1, None


def step_weights(num_edges, num_steps):
    # Weights whose every entry names its step: [E, T, K] with value t.
    return torch.arange(num_steps, dtype=torch.float).view(1, -1, 1).expand(num_edges, -1, 3)


@pytest.mark.parametrize("feeding", ["teacher_forcing", "burn_in"])
def test_each_step_gets_the_weights_of_its_input_step(system, feeding):
    x, edge_index = system
    dec = RecordingDecoder(feeding)
    weights = step_weights(edge_index.size(1), 19)
    dec(x, edge_index, weights, burn_in_steps=5)
    assert [int(w[0, 0]) for w in dec.seen] == list(range(19))
    dec.seen.clear()
    dec.forecast(x[:, :8], edge_index, step_weights(edge_index.size(1), 7 + 6), horizon=6)
    first = 0 if feeding == "burn_in" else 7
    assert [int(w[0, 0]) for w in dec.seen] == list(range(first, 13))


def test_teacher_forced_segments_each_read_their_own_steps(system):
    x, edge_index = system
    dec = RecordingDecoder()
    dec(x, edge_index, step_weights(edge_index.size(1), 19), prediction_steps=5)
    # Step m of the segments started at 0, 5, 10, 15 (the last one's step 4 is past T - 1).
    assert [w[0, :, 0].tolist() for w in dec.seen] == [
        [0, 5, 10, 15], [1, 6, 11, 16], [2, 7, 12, 17], [3, 8, 13, 18], [4, 9, 14, 18]]


@pytest.mark.parametrize("name", ["mlp", "rnn"])
def test_per_step_weights_equal_static_ones_repeated(system, name):
    x, edge_index = system
    dec = decoders()[name].eval()
    weights = torch.rand(edge_index.size(1), 2)
    repeated = weights[:, None].expand(-1, 19, -1)
    for kwargs in ({"prediction_steps": 4}, {"burn_in_steps": 6}):
        assert torch.allclose(dec(x, edge_index, weights, **kwargs),
                              dec(x, edge_index, repeated, **kwargs), atol=1e-6)
    assert torch.allclose(dec.forecast(x[:, :8], edge_index, weights, 5),
                          dec.forecast(x[:, :8], edge_index, repeated[:, :12], 5), atol=1e-6)


def test_mlp_decoder_uses_the_graph_of_step_t_at_step_t(system):
    x, edge_index = system
    dec = decoders()["mlp"].eval()
    weights = torch.rand(edge_index.size(1), 19, 2)
    out = dec(x, edge_index, weights, prediction_steps=1)
    for t in (0, 7, 18):
        static = dec(x[:, t:t + 2], edge_index, weights[:, t], prediction_steps=1)
        assert torch.allclose(out[:, t], static[:, 0], atol=1e-6)


def test_per_step_weights_are_checked(system):
    x, edge_index = system
    with pytest.raises(ValueError, match="cover the 19 steps"):
        decoders()["mlp"](x, edge_index, torch.rand(edge_index.size(1), 18, 2))
    with pytest.raises(ValueError, match="cover the 12 steps"):
        decoders()["rnn"].forecast(x[:, :8], edge_index, torch.rand(edge_index.size(1), 11, 2), 5)
    with pytest.raises(ValueError, match="not per step"):
        decoders()["st"](x, edge_index, torch.rand(edge_index.size(1), 19, 2))


@pytest.mark.parametrize("cls", [MLPDecoder, RNNDecoder])
def test_per_step_weights_in_checkpointed_chunks(system, cls):
    x, edge_index = system
    args = (4, 2, 16, 16, 16) if cls is MLPDecoder else (4, 2, 16)
    plain = cls(*args).eval()
    chunked = cls(*args, checkpoint=True, checkpoint_chunk_size=7).eval()
    chunked.load_state_dict(plain.state_dict())
    weights = torch.rand(edge_index.size(1), 19, 2)
    for kwargs in ({"prediction_steps": 4}, {"burn_in_steps": 6}):
        assert torch.allclose(plain(x, edge_index, weights, **kwargs),
                              chunked(x, edge_index, weights, **kwargs), atol=1e-5)


@pytest.mark.parametrize("name", ["mlp", "st", "sim", "user"])
def test_segments_from_given_starts_are_those_of_the_full_rollout(system, name):
    # x has T = 20 steps: segments of 5 start at 0, 5, 10 and 15 (the last one
    # has 4 steps); starts 10 and 0 give the second and first full segments.
    x, edge_index = system
    dec = decoders()[name].eval()
    weights = torch.rand(edge_index.size(1), 2)
    full = dec(x, edge_index, weights, prediction_steps=5)
    chosen = dec(x, edge_index, weights, prediction_steps=5,
                 segment_starts=torch.tensor([10, 0]))
    assert chosen.shape == (6, 10, 4)
    assert torch.allclose(chosen, torch.cat([full[:, 10:15], full[:, 0:5]], dim=1), atol=1e-6)
    # A start off the grid: step m of the segment reads the weights of step start + m.
    dec = RecordingDecoder()
    dec(x, edge_index, step_weights(edge_index.size(1), 19), prediction_steps=5,
        segment_starts=torch.tensor([3, 14]))
    assert [w[0, :, 0].tolist() for w in dec.seen] == [[3 + m, 14 + m] for m in range(5)]


def test_segment_starts_need_a_teacher_forced_decoder(system):
    x, edge_index = system
    weights = torch.rand(edge_index.size(1), 2)
    with pytest.raises(ValueError, match="'segment_starts' .* RNNDecoder is fed by burn-in"):
        decoders()["rnn"](x, edge_index, weights, segment_starts=torch.tensor([0]))
    with pytest.raises(ValueError, match="either 'burn_in_steps' or 'segment_starts'"):
        decoders()["mlp"](x, edge_index, weights, burn_in_steps=4,
                          segment_starts=torch.tensor([0]))
