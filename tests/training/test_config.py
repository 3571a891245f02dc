import dataclasses
import re

import pytest

from torch_nri.nn import MLPEncoder
from torch_nri.training import ENCODERS, TrainConfig
from torch_nri.training.config import OPTION_GROUPS, option, option_choices, options
from torch_nri.training.registry import Part

FIELDS = {f.name: f for f in options()}


def test_every_field_is_an_option_with_help_and_a_group():
    assert [f.name for f in options()] == [f.name for f in dataclasses.fields(TrainConfig)]
    for f in options():
        help = re.sub(r"\(default: [^)]*\)", "", f.metadata["help"])
        assert len(help.split()) >= 4, f.name  # a sentence beyond its default
        assert f.metadata["group"] in OPTION_GROUPS, f.name
    assert [f.name for f in options("physics")] == ["physics"]
    assert {f.metadata["group"] for f in options()} == set(OPTION_GROUPS)


def test_the_simulated_data_options():
    simulated = [f.name for f in options("data") if f.metadata["simulated"]]
    assert simulated == ["system", "num_nodes", "num_train", "num_valid", "num_test", "length",
                         "test_length", "sample_freq", "data_root", "fresh_systems",
                         "data_seed"]
    assert not any(f.metadata["simulated"] for group in OPTION_GROUPS if group != "data"
                   for f in options(group))


@pytest.mark.parametrize("name, value, message", [
    ("model", "gnn", r"'model' must be one of \('nri', 'dnri', 'supervised', 'full-graph', "
                     r"'true-graph'\), got 'gnn'"),
    ("system", "gravity", r"'system' must be one of \('springs', 'charged', 'kuramoto', "
                          r"'proximity'\), got 'gravity'"),
    ("graph", "grid", r"'graph' must be one of \('full', 'knn', 'radius'\), got 'grid'"),
    ("sequence_model", "lstm", r"'sequence_model' must be one of \('gru', 'attention'\), got "
                               r"'lstm'"),
    ("decoder_sequence_model", "lstm", r"'decoder_sequence_model' must be one of \('gru', "
                                       r"'attention'\) \(or None, its default\), got 'lstm'"),
    ("inter_scope", "world", r"'inter_scope' must be one of \('graph', 'neighbourhood'\), got "
                             r"'world'"),
    ("precision", "fp64", r"'precision' must be one of \('fp32', 'bf16', 'fp16'\), got "
                          r"'fp64'"),
    ("encoder", "gnn", r"'encoder' must be one of \('mlp', 'cnn', 'ri', 'dnri'\), got 'gnn'"),
])
def test_values_are_checked_against_the_choices_of_their_option(name, value, message):
    assert option_choices(FIELDS[name]) is not None
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{name: value})


def test_the_choices_of_a_registry_are_read_when_checked(monkeypatch):
    monkeypatch.setitem(ENCODERS, "mine", Part(MLPEncoder, ENCODERS["mlp"].kwargs))
    assert option_choices(FIELDS["encoder"])[-1] == "mine"
    assert TrainConfig(encoder="mine").encoder == "mine"
    assert option_choices(FIELDS["epochs"]) is None


def test_an_option_names_a_known_group():
    with pytest.raises(ValueError, match=r"'group' must be one of \('data', 'physics'"):
        option(1, help="a number of something", group="optimisation")


@pytest.mark.parametrize("options, reason", [
    (dict(decoder="rnn"), "decoder='rnn' is fed by burn-in"),
    (dict(burn_in_steps=5), "burn_in_steps=5 feeds it by burn-in"),
    (dict(model="supervised"), "model='supervised' has no decoder"),
])
def test_train_segments_need_a_teacher_forced_decoder(options, reason):
    with pytest.raises(ValueError, match=f"'train_segments' rolls out segments .*; {reason}"):
        TrainConfig(train_segments=2, **options)
    assert TrainConfig(train_segments=2).train_segments == 2
