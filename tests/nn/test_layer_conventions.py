"""The conventions every layer of torch_nri.nn keeps: reset_parameters()
resets every parameter, and __repr__ shows the arguments that change
behaviour."""
import pytest
import torch

from torch_nri import nn
from torch_nri.models import DNRI, NRI, FixedGraphModel, SupervisedEncoder

# Layer -> (arguments, {argument: a non-default value that must show in the repr}).
LAYERS = {
    nn.MLPBlock: (dict(in_channels=6, hidden_channels=8, out_channels=5),
                  dict(dropout=0.5, batch_norm=False)),
    nn.CNNBlock: (dict(in_channels=6, hidden_channels=8, out_channels=5), dict(dropout=0.5)),
    nn.EdgeTypeMLP: (dict(in_channels=6, hidden_channels=8, out_channels=5, num_edge_types=3),
                     dict(dropout=0.5, skip_first=True, average_types=True)),
    nn.ResidualHead: (dict(in_channels=6, hidden_channels=8, out_channels=4),
                      dict(dropout=0.5)),
    nn.MLPEncoder: (dict(in_channels=12, hidden_channels=8, num_edge_types=3),
                    dict(factor=False, dropout=0.5, aggr="mean", batch_norm=False,
                         checkpoint=True, checkpoint_memory=2**20, position_features=[0, 1])),
    nn.CNNEncoder: (dict(in_channels=4, hidden_channels=8, num_edge_types=3),
                    dict(factor=False, dropout=0.5, aggr="mean", position_features=[0, 1])),
    nn.RIEncoder: (dict(in_channels=12, hidden_channels=8, num_edge_types=3),
                   dict(sequence_model="attention", intra=False, inter=False,
                        inter_scope="neighbourhood", num_heads=2,
                        dropout=0.5, aggr="mean", batch_norm=False, position_features=[1])),
    nn.DNRIEncoder: (dict(in_channels=4, hidden_channels=8, num_edge_types=3),
                     dict(rnn_channels=6, head_channels=5, dropout=0.5, batch_norm=False,
                          position_features=[0, 1])),
    nn.MLPDecoder: (dict(in_channels=4, num_edge_types=3, msg_hidden_channels=8,
                         msg_out_channels=8, hidden_channels=8),
                    dict(skip_first=True, dropout=0.5, aggr="mean", checkpoint=True,
                         checkpoint_chunk_size=7, checkpoint_memory=2**20, skip_no_edges=True,
                         position_features=[0, 1])),
    nn.RNNDecoder: (dict(in_channels=4, num_edge_types=3, hidden_channels=8),
                    dict(skip_first=True, dropout=0.5, aggr="mean", checkpoint=True,
                         checkpoint_chunk_size=7, checkpoint_memory=2**20, skip_no_edges=True,
                         position_features=[2, 3])),
    nn.STDecoder: (dict(in_channels=4, num_edge_types=3, hidden_channels=8),
                   dict(sequence_model="attention", skip_first=True, dropout=0.5,
                        aggr="mean", checkpoint=True, position_features=[0, 1])),
    nn.SetSequenceModel: (dict(channels=8), dict(kind="attention", dropout=0.5,
                                                 shuffle=False)),
    nn.TemporalModel: (dict(in_channels=6, hidden_channels=8), dict(kind="attention")),
    nn.SpringsSimulationDecoder: (dict(position_range=(-1.0, 1.0), velocity_range=(-1.0, 1.0)),
                                  dict(spring_constants=(0.0, 0.2, 0.4), box_size=3.0,
                                       time_step=0.2, substeps=4)),
}
# Options that the repr can only show together with another one.
NEEDS = {"skip_no_edges": dict(aggr="sum"),
         "num_heads": dict(sequence_model="attention"),
         (nn.SetSequenceModel, "dropout"): dict(kind="attention")}


def test_every_layer_of_the_package_is_checked():
    layers = {getattr(nn, name) for name in nn.__all__}
    abstract = {nn.NRIMessagePassing, nn.NRIDecoder}
    assert layers - abstract == set(LAYERS)


def _models():
    mlp = dict(in_channels=4, num_edge_types=2, msg_hidden_channels=8, msg_out_channels=8,
               hidden_channels=8)
    return [NRI(nn.MLPEncoder(12, 8, 2), nn.MLPDecoder(**mlp), 2),
            NRI(nn.RIEncoder(12, 8, 2, "attention"), nn.STDecoder(4, 2, 8), 2),
            FixedGraphModel(nn.RNNDecoder(4, 2, 8), graph="true"),
            SupervisedEncoder(nn.CNNEncoder(4, 8, 2), 2),
            DNRI(nn.DNRIEncoder(4, 8, 2), nn.MLPDecoder(**mlp), 2)]


def _variant(cls, name, value):
    args = LAYERS[cls][0]
    needs = NEEDS.get((cls, name), NEEDS.get(name, {}))
    return cls(**{**args, **needs, name: value})


@pytest.mark.parametrize("layer", [cls(**args) for cls, (args, _) in LAYERS.items()] +
                         [_variant(cls, name, value) for cls, (_, alternatives) in LAYERS.items()
                          for name, value in alternatives.items()] + _models(),
                         ids=lambda layer: type(layer).__name__)
def test_reset_parameters_resets_every_parameter(layer):
    parameters = list(layer.parameters())
    with torch.no_grad():
        for parameter in parameters:
            parameter.fill_(0.123)
    layer.reset_parameters()
    for name, parameter in layer.named_parameters():
        assert not torch.all(parameter == 0.123), name


@pytest.mark.parametrize("cls", list(LAYERS), ids=lambda cls: cls.__name__)
def test_repr_shows_the_arguments_that_change_behaviour(cls):
    args, alternatives = LAYERS[cls]
    plain = repr(cls(**args))
    assert plain.startswith(f"{cls.__name__}(")
    for name, value in alternatives.items():
        shown = repr(_variant(cls, name, value))
        assert shown != plain, name
        assert f"{name}={value!r}" in shown, (name, shown)


@pytest.mark.parametrize("cls", list(LAYERS), ids=lambda cls: cls.__name__)
def test_the_constructor_calls_reset_parameters(cls, monkeypatch):
    calls = []
    original = cls.reset_parameters

    def recording(self):
        calls.append(type(self))
        original(self)

    monkeypatch.setattr(cls, "reset_parameters", recording)
    cls(**LAYERS[cls][0])
    assert cls in calls


def _sizes(cls):
    # The size arguments of a layer in the table: channels, edge types, heads.
    args, alternatives = LAYERS[cls]
    return [name for name, value in {**args, **alternatives}.items()
            if type(value) is int and (name.endswith("channels") or name.startswith("num_"))]


SIZES = [(cls, name, value) for cls in LAYERS for name in _sizes(cls)
         for value in (0, -1, 2.5)]


def test_every_layer_with_sizes_is_checked():
    assert {cls for cls, _, _ in SIZES} == set(LAYERS) - {nn.SpringsSimulationDecoder}


@pytest.mark.parametrize("cls, name, value", SIZES,
                         ids=[f"{cls.__name__}-{name}={value}" for cls, name, value in SIZES])
def test_non_positive_sizes_are_refused_in_the_constructor(cls, name, value):
    # Before: a size of 0 failed in torch.nn.init (ZeroDivisionError), or built
    # a layer of no width that failed at its first call.
    with pytest.raises(ValueError, match=rf"^'{name}' of {cls.__name__} must be a positive "
                                         rf"integer, got {value}$"):
        _variant(cls, name, value)
