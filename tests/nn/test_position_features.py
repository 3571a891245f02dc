"""Translation-invariant inputs (``position_features``): shifting every
position by one constant leaves every encoder's edge logits and every
decoder's predicted changes of state as they are; without the option they
change (the test can fail). Chunked and plain runs agree."""
import pytest
import torch

from torch_nri import nn
from tests.conftest import random_graph

POSITIONS = [0, 1]
N, T, F = 9, 16, 4

ENCODERS = {
    "mlp": lambda **kw: nn.MLPEncoder(T * F, 16, 3, **kw),
    "mlp, no factor": lambda **kw: nn.MLPEncoder(T * F, 16, 3, factor=False, **kw),
    "cnn": lambda **kw: nn.CNNEncoder(F, 16, 3, **kw),
    "ri": lambda **kw: nn.RIEncoder(T * F, 16, 3, **kw),
    "ri, neighbourhood": lambda **kw: nn.RIEncoder(T * F, 16, 3, sequence_model="attention",
                                                   inter_scope="neighbourhood", **kw),
    "dnri": lambda **kw: nn.DNRIEncoder(F, 16, 3, **kw),
}
DECODERS = {
    "mlp": (lambda **kw: nn.MLPDecoder(F, 3, 16, 16, 16, **kw), dict(prediction_steps=4)),
    "rnn": (lambda **kw: nn.RNNDecoder(F, 3, 16, **kw), dict(burn_in_steps=6)),
    "st": (lambda **kw: nn.STDecoder(F, 3, 16, **kw), dict(prediction_steps=4)),
    "st, attention": (lambda **kw: nn.STDecoder(F, 3, 16, sequence_model="attention", **kw),
                      dict(prediction_steps=4)),
}


def shifted(x, offset=(3.5, -7.25)):
    out = x.clone()
    out[..., POSITIONS] += torch.tensor(offset)
    return out


def inputs():
    torch.manual_seed(0)
    return torch.randn(N, T, F), random_graph(N, 40)


def logits(encoder, x, edge_index):
    torch.manual_seed(1)  # the RI encoder's random order in training
    out = encoder(x, edge_index)
    return out if isinstance(out, torch.Tensor) else torch.cat(out, dim=-1)  # dNRI: two


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", ENCODERS)
def test_encoder_logits_are_invariant_to_a_translation(name, training):
    encoder = ENCODERS[name](position_features=POSITIONS).train(training)
    x, edge_index = inputs()
    assert torch.allclose(logits(encoder, shifted(x), edge_index),
                          logits(encoder, x, edge_index), atol=1e-4)
    absolute = ENCODERS[name]().train(training)
    assert not torch.allclose(logits(absolute, shifted(x), edge_index),
                              logits(absolute, x, edge_index), atol=1e-3)


@pytest.mark.parametrize("name", DECODERS)
def test_decoder_predicts_the_same_changes_after_a_translation(name):
    make, kwargs = DECODERS[name]
    x, edge_index = inputs()
    weights = torch.rand(edge_index.size(1), 3).softmax(-1)
    for decoder, invariant in ((make(position_features=POSITIONS), True), (make(), False)):
        changes = []
        for states in (x, shifted(x)):
            torch.manual_seed(2)
            predictions = decoder(states, edge_index, weights, **kwargs)
            changes.append(predictions - states[:, :-1])
        assert torch.allclose(*changes, atol=1e-4) == invariant, name
        # A forecast moves with the positions too.
        if invariant:
            forecasts = [decoder.forecast(states, edge_index, weights, horizon=3) - states[:, -1:]
                         for states in (x, shifted(x))]
            assert torch.allclose(*forecasts, atol=1e-4)


@pytest.mark.parametrize("name", ["mlp", "mlp, no factor", "ri"])
def test_chunked_encoder_with_positions_equals_one_pass(name):
    plain = ENCODERS[name](position_features=POSITIONS).train()
    chunked = ENCODERS[name](position_features=POSITIONS, checkpoint=True,
                             checkpoint_chunk_size=7).train()
    chunked.load_state_dict(plain.state_dict())
    x, edge_index = inputs()
    assert torch.allclose(logits(chunked, x, edge_index), logits(plain, x, edge_index),
                          atol=1e-5)


@pytest.mark.parametrize("name", DECODERS)
def test_chunked_decoder_with_positions_equals_one_pass(name):
    make, kwargs = DECODERS[name]
    plain = make(position_features=POSITIONS)
    chunked = make(position_features=POSITIONS, checkpoint=True, checkpoint_chunk_size=7)
    chunked.load_state_dict(plain.state_dict())
    x, edge_index = inputs()
    weights = torch.rand(edge_index.size(1), 3).softmax(-1)
    outs = [layer(x, edge_index, weights, **kwargs) for layer in (plain, chunked)]
    assert torch.allclose(*outs, atol=1e-5)


def test_position_features_are_checked():
    with pytest.raises(ValueError, match=r"'position_features' must be distinct, "
                                         r"got \[0, 0\]"):
        nn.MLPDecoder(F, 2, 8, 8, 8, position_features=[0, 0])
    with pytest.raises(ValueError, match=r"'position_features' must be a list of "
                                         r"non-negative integer feature indices, got 3"):
        nn.CNNEncoder(F, 8, 2, position_features=3)
    decoder = nn.MLPDecoder(F, 2, 8, 8, 8, position_features=[3, 4])
    x, edge_index = inputs()
    with pytest.raises(ValueError, match=r"'position_features' \[3, 4\] must index the 4 "
                                         r"features of 'x' .*: index 4 is out of range"):
        decoder(x, edge_index, torch.rand(edge_index.size(1), 2))
    encoder = nn.MLPEncoder(T * F, 8, 2, position_features=[0, 1])
    with pytest.raises(ValueError, match=r"'x' must have 3 dimensions"):
        encoder(x.reshape(N, -1), edge_index)
