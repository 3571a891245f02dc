import dataclasses

import numpy as np
import pytest
import torch
from torch.nn import Linear

from torch_nri.models import DNRI, NRI, load_model
from torch_nri.training import (DECODERS, ENCODERS, TrainConfig, evaluate_run, register_decoder,
                                register_encoder, train)
from torch_nri.training.registry import Part
# A decoder of a user's own: its layers and step(), nothing else.
from tests.nn.test_decoder import LinearDecoder as UserDecoder

# On the CPU on any machine: runs and evaluations are compared number for number.
TINY = dict(num_train=32, num_valid=8, num_test=8, encoder_hidden=8, decoder_hidden=8,
            batch_size=16, progress=False, threads=1, epochs=1, device="cpu")


@pytest.fixture
def registered():
    register_decoder("user", UserDecoder)
    yield "user"
    DECODERS.pop("user")


def test_a_user_decoder_trains_and_evaluates_through_train(tmp_path, registered):
    results = train(TrainConfig(decoder=registered, out=str(tmp_path / "run"),
                                data_root=str(tmp_path / "data"), **TINY))
    assert np.isfinite(results["mse"]).all() and 0 <= results["accuracy"] <= 1
    model = load_model(str(tmp_path / "run" / "best.pt"))
    assert isinstance(model, NRI) and isinstance(model.decoder, UserDecoder)
    assert model.decoder.hidden_channels == 8
    assert model.config["decoder"]["name"] == "tests.nn.test_decoder:LinearDecoder"
    assert evaluate_run(str(tmp_path / "run"), device="cpu")["mse"] == results["mse"]
    # The dynamic graph works with it too: the forecast changes, the edges do not.
    dynamic = evaluate_run(str(tmp_path / "run"), config=dataclasses.replace(
        TrainConfig.load(str(tmp_path / "run")), dynamic_graph=True), device="cpu")
    assert dynamic["mse"] != results["mse"] and dynamic["accuracy"] == results["accuracy"]


@pytest.mark.parametrize("decoder", ["mlp", "st"])
def test_dynamic_graph_changes_the_forecast_of_every_decoder(tmp_path, decoder):
    config = TrainConfig(decoder=decoder, out=str(tmp_path / "run"),
                         data_root=str(tmp_path / "data"), **TINY)
    static = train(config)
    dynamic = evaluate_run(config.out, config=dataclasses.replace(
        TrainConfig.load(config.out), dynamic_graph=True), device="cpu")
    assert dynamic["mse"] != static["mse"] and np.isfinite(dynamic["mse"]).all()
    assert dynamic["accuracy"] == static["accuracy"]  # the edges of the observed steps


def test_part_options_and_registration_errors():
    with pytest.raises(ValueError, match=r"'intra=False' is an option of the ri encoder, not "
                                         r"of encoder='mlp'"):
        TrainConfig(intra=False)
    with pytest.raises(ValueError, match=r"'sequence_model='attention'' is an option of the "
                                         r"ri encoder and the st decoder, not"):
        TrainConfig(sequence_model="attention")
    TrainConfig(encoder="cnn", decoder="st", sequence_model="attention")  # the st decoder's
    with pytest.raises(ValueError, match="a registered decoder must be a subclass of "
                                         "torch_nri.nn.NRIDecoder"):
        register_decoder("linear", Linear)
    with pytest.raises(ValueError, match=r"'decoder' must be one of \("):
        TrainConfig(decoder="user")


def test_a_user_encoder_is_one_registration(tmp_path):
    from torch_nri.nn import CNNEncoder

    def kwargs(config, train_set, num_edge_types):
        return dict(in_channels=train_set.num_features, hidden_channels=4,
                    num_edge_types=num_edge_types, factor=False)

    register_encoder("small-cnn", CNNEncoder, kwargs)
    try:
        results = train(TrainConfig(encoder="small-cnn", out=str(tmp_path / "run"),
                                    data_root=str(tmp_path / "data"), **TINY))
        assert load_model(str(tmp_path / "run" / "best.pt")).encoder.hidden_channels == 4
        assert 0 <= results["accuracy"] <= 1
    finally:
        from torch_nri.training import ENCODERS
        ENCODERS.pop("small-cnn")
    assert isinstance(DECODERS["mlp"], Part)


def test_dropout_defaults_to_the_paper_s_per_model():
    from torch_nri.training import TrainConfig

    assert TrainConfig(model="supervised").dropout == 0.5  # NRI supplement D.1.1
    assert TrainConfig().dropout == 0.0
    assert TrainConfig(model="supervised", dropout=0.1).dropout == 0.1
    assert TrainConfig.from_dict(TrainConfig(model="supervised").to_dict()).dropout == 0.5


def test_checkpoint_memory_reaches_the_encoder_and_decoders_from_the_command_line():
    from types import SimpleNamespace

    from torch_nri.cli import _train_config, build_parser

    args = build_parser().parse_args(["train", "--decoder", "rnn", "--checkpoint",
                                      "--checkpoint-memory", "1048576"])
    config = _train_config(args)
    assert config.checkpoint and config.checkpoint_memory == 2**20
    for name in ("mlp", "rnn", "st"):
        part = DECODERS[name]
        decoder = part.cls(**part.kwargs(config, SimpleNamespace(num_features=4), 2))
        assert decoder.checkpoint_memory == 2**20
    part = ENCODERS["mlp"]
    class TrainSet(list):  # one system of 3 nodes, 5 steps, 4 features
        num_features = 4

    train_set = TrainSet([SimpleNamespace(x=torch.zeros(3, 5, 4))])
    encoder = part.cls(**part.kwargs(config, train_set, 2))
    assert encoder.checkpoint and encoder.checkpoint_memory == 2**20
    assert TrainConfig().checkpoint_memory == 256 * 2**20
    with pytest.raises(ValueError, match="'checkpoint_memory' must be at least 1, got 0"):
        TrainConfig(checkpoint_memory=0)
    with pytest.raises(ValueError, match=r"'checkpoint_memory=1024' is an option of the mlp, "
                                         r"ri and dnri encoders and the mlp, rnn and st "
                                         r"decoders"):
        TrainConfig(encoder="cnn", decoder="sim", checkpoint_memory=1024)


def test_inter_scope_reaches_the_ri_encoder_from_the_command_line():
    from torch_nri.cli import _train_config, build_parser

    class TrainSet(list):  # what the ri encoder's kwargs read: items' steps and features
        num_features = 4

    args = build_parser().parse_args(["train", "--encoder", "ri", "--inter-scope",
                                      "neighbourhood"])
    config = _train_config(args)
    assert config.inter_scope == "neighbourhood"
    part = ENCODERS["ri"]
    train_set = TrainSet([dataclasses.make_dataclass("Item", ["x"])(torch.zeros(3, 10, 4))])
    assert part.cls(**part.kwargs(config, train_set, 2)).inter_scope == "neighbourhood"
    # Saved runs from before the option read as the paper's scope.
    saved = TrainConfig(encoder="ri").to_dict()
    del saved["inter_scope"]
    assert TrainConfig.from_dict(saved).inter_scope == "graph"
    with pytest.raises(ValueError, match=r"'inter_scope' must be one of \('graph', "
                                         r"'neighbourhood'\), got 'local'"):
        TrainConfig(encoder="ri", inter_scope="local")
    with pytest.raises(ValueError, match=r"'inter_scope='neighbourhood'' is an option of the "
                                         r"ri encoder, not of encoder='mlp'"):
        TrainConfig(inter_scope="neighbourhood")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--inter-scope", "local"])


def test_dnri_trains_resumes_and_reports_f1_on_the_proximity_system(tmp_path):
    options = dict(TINY, model="dnri", system="proximity", num_nodes=3, skip_first=True,
                   data_root=str(tmp_path / "data"))
    whole = TrainConfig(**{**options, "epochs": 2}, out=str(tmp_path / "whole"))
    assert whole.encoder == "dnri"
    results = train(whole)
    assert 0 <= results["accuracy"] <= 1 and 0 <= results["f1"] <= 1
    assert len(results["mse"]) == 20 and np.isfinite(results["mse"]).all()
    # Per step over the encoder's 50-step window, the types matched over all steps.
    assert len(results["accuracy_per_step"]) == len(results["f1_per_step"]) == 50
    assert np.mean(results["accuracy_per_step"]) == pytest.approx(results["accuracy"])
    assert isinstance(load_model(str(tmp_path / "whole" / "best.pt")), DNRI)
    train(TrainConfig(**options, out=str(tmp_path / "parts")))
    train(TrainConfig(**{**options, "epochs": 2}, out=str(tmp_path / "parts")), resume=True)
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "parts" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(a[key], b[key]) for key in a)
    # Static NRI on the same data is scored at every step of the window.
    static = train(TrainConfig(**{**options, "model": "nri"}, out=str(tmp_path / "nri")))
    assert 0 <= static["f1"] <= 1


def test_models_given_one_graph_refuse_relations_that_change(tmp_path):
    config = TrainConfig(**{**TINY, "model": "supervised", "system": "proximity",
                            "num_nodes": 3}, out=str(tmp_path / "run"),
                         data_root=str(tmp_path / "data"))
    with pytest.raises(ValueError, match="change over time"):
        train(config)


def test_dnri_checks_its_parts():
    with pytest.raises(ValueError, match="encoder='dnri'"):
        TrainConfig(model="dnri", encoder="mlp")
    with pytest.raises(ValueError, match="takes one graph"):
        TrainConfig(model="dnri", decoder="st")
    with pytest.raises(ValueError, match="not of model='dnri'"):
        TrainConfig(model="dnri", symmetry_weight=1.0)
    with pytest.raises(ValueError, match="not of model='nri'"):
        TrainConfig(encoder="dnri")
    assert TrainConfig().encoder == "mlp"
    assert TrainConfig.from_dict(TrainConfig(model="dnri").to_dict()).encoder == "dnri"


def test_position_features_reach_every_learned_layer_and_the_simulator_refuses_them():
    from types import SimpleNamespace

    from torch_nri.cli import _train_config, build_parser

    args = build_parser().parse_args(["train", "--position-features", "0", "1"])
    config = _train_config(args)
    assert config.position_features == [0, 1]

    class TrainSet(list):  # one system of 3 nodes, 14 steps, 4 features
        num_features = 4

    train_set = TrainSet([SimpleNamespace(x=torch.zeros(3, 14, 4))])
    for table in (ENCODERS, DECODERS):
        for name, part in table.items():
            if name == "sim":
                continue
            layer = part.cls(**part.kwargs(config, train_set, 2))
            assert layer.position_features == [0, 1], name
    with pytest.raises(ValueError, match=r"decoder='sim' is the springs simulator, which reads "
                                         r"absolute positions .* got \[0, 1\]"):
        TrainConfig(decoder="sim", position_features=[0, 1])


# The simulator decoder has no hidden size: its sizes are its data's.
HIDDEN = [("encoder", name) for name in ENCODERS] + [("decoder", name) for name in DECODERS
                                                     if name != "sim"]


@pytest.mark.parametrize("kind, name", HIDDEN, ids=[f"{n} {k}" for k, n in HIDDEN])
def test_every_registered_part_refuses_a_hidden_size_of_zero(kind, name):
    # TrainConfig refuses encoder_hidden=0 itself; the layer must too, for a
    # configuration built around it (before: ZeroDivisionError in torch.nn.init).
    from types import SimpleNamespace

    class TrainSet(list):  # one system of 3 nodes, 20 steps, 4 features
        num_features = 4

    config = SimpleNamespace(**{**TrainConfig().to_dict(), "encoder_hidden": 0,
                                "decoder_hidden": 0})
    part = (ENCODERS if kind == "encoder" else DECODERS)[name]
    kwargs = part.kwargs(config, TrainSet([SimpleNamespace(x=torch.zeros(3, 20, 4))]), 2)
    with pytest.raises(ValueError, match=rf"^'(msg_)?hidden_channels' of {part.cls.__name__} "
                                         rf"must be a positive integer, got 0$"):
        part.cls(**kwargs)


@pytest.mark.parametrize("system, expected", [
    ("springs", dict(encoder="mlp", skip_first=False, prior=None, batch_size=128)),
    ("charged", dict(encoder="cnn", skip_first=False, prior=None, batch_size=128)),
    ("kuramoto", dict(encoder="cnn", skip_first=True, prior=None, batch_size=128)),
    ("proximity", dict(encoder="mlp", skip_first=True, prior=[0.9, 0.1], batch_size=16)),
])
def test_each_system_brings_its_paper_s_training_defaults(system, expected):
    config = TrainConfig(system=system)
    assert {name: getattr(config, name) for name in expected} == expected
    assert config.symmetry_weight == 0.0 and config.dropout == 0.0


def test_what_the_user_gives_comes_before_every_default():
    config = TrainConfig(system="proximity", encoder="cnn", skip_first=False, prior=[0.5, 0.5],
                         batch_size=8, symmetry_weight=1.0)
    assert (config.encoder, config.skip_first, config.prior, config.batch_size,
            config.symmetry_weight) == ("cnn", False, [0.5, 0.5], 8, 1.0)


def test_the_model_s_defaults_come_before_the_system_s():
    assert TrainConfig(model="dnri", system="charged").encoder == "dnri"
    # The full graph's one type passes messages, on Kuramoto too.
    assert TrainConfig(model="full-graph", system="kuramoto").skip_first is False
    assert TrainConfig(model="true-graph", system="kuramoto").skip_first is True
    assert TrainConfig(model="supervised", system="charged").encoder == "cnn"


def test_system_defaults_follow_the_number_of_edge_types():
    # The no-edge prior spreads its rest over the other types; one type
    # cannot be "no edge".
    assert TrainConfig(system="proximity", num_edge_types=3).prior == pytest.approx(
        [0.9, 0.05, 0.05])
    one_type = TrainConfig(system="kuramoto", num_edge_types=1)
    assert one_type.skip_first is False
    one_type = TrainConfig(system="proximity", num_edge_types=1)
    assert one_type.skip_first is False and one_type.prior is None


def test_nri_mpm_s_encoder_brings_its_symmetry_prior_to_nri_only():
    assert TrainConfig(encoder="ri", decoder="st").symmetry_weight == 100.0
    assert TrainConfig(encoder="ri", decoder="st", symmetry_weight=0.0).symmetry_weight == 0.0
    assert TrainConfig(model="supervised", encoder="ri").symmetry_weight == 0.0


def test_data_of_your_own_takes_no_system_defaults(tmp_path, monkeypatch):
    from torch_nri.datasets import SpringsDataset

    # Springs has no defaults of its own: give it one, to see it left out.
    monkeypatch.setattr(SpringsDataset, "training_defaults", {"batch_size": 7})
    assert TrainConfig().batch_size == 7
    config = TrainConfig(data=str(tmp_path))
    assert config.batch_size == 128


def test_a_saved_run_s_meaningful_nones_stay(tmp_path):
    # A proximity run saved before the system's prior became its default.
    config = TrainConfig(system="proximity", num_nodes=3, prior=[0.5, 0.5]).to_dict()
    config["prior"] = None
    (tmp_path / "config.json").write_text(__import__("json").dumps(config))
    assert TrainConfig.load(str(tmp_path)).prior is None
    assert TrainConfig.from_dict(config).prior == [0.9, 0.1]  # a new run: the default
    # A Kuramoto NRI-MPM run saved with the encoder's GRUs in its decoder.
    config = TrainConfig(system="kuramoto", encoder="ri", decoder="st",
                         decoder_sequence_model="gru").to_dict()
    config["decoder_sequence_model"] = None
    (tmp_path / "config.json").write_text(__import__("json").dumps(config))
    assert TrainConfig.load(str(tmp_path)).decoder_sequence_model is None


def test_every_default_names_a_field_that_has_one_and_its_source():
    from torch_nri.datasets import SYSTEMS
    from torch_nri.training.config import PAPER_DEFAULTS
    from torch_nri.training.registry import MODELS

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for name in PAPER_DEFAULTS:
        assert fields[name].default is None, name  # None until resolved
    tables = [spec.defaults for spec in MODELS.values()]
    tables += [part.defaults for part in (*ENCODERS.values(), *DECODERS.values())]
    for cls in SYSTEMS.values():
        tables.append(cls.training_defaults)
        assert bool(cls.training_defaults) == bool(cls.training_defaults_source), cls.name
    for table in tables:
        assert set(table) <= set(PAPER_DEFAULTS)


def test_the_command_line_leaves_the_defaults_to_the_system():
    from torch_nri.cli import _train_config, build_parser

    args = build_parser().parse_args(["train", "--system", "kuramoto"])
    config = _train_config(args)
    assert (config.encoder, config.skip_first) == ("cnn", True)
    args = build_parser().parse_args(["train", "--system", "kuramoto", "--no-skip-first"])
    assert _train_config(args).skip_first is False


def test_nri_mpm_s_parts_take_the_paper_s_settings_per_system():
    def nri_mpm(system, num_nodes, **kwargs):
        return TrainConfig(system=system, num_nodes=num_nodes, encoder="ri", decoder="st",
                           **kwargs)

    # NRI-MPM, Experiments and appendix E.
    assert nri_mpm("charged", 5).symmetry_weight == 100.0
    assert nri_mpm("springs", 10).symmetry_weight == 100.0
    kuramoto5, kuramoto10 = nri_mpm("kuramoto", 5), nri_mpm("kuramoto", 10)
    assert kuramoto5.symmetry_weight == 1.0 and kuramoto10.symmetry_weight == 1000.0
    assert kuramoto5.decoder_sequence_model == "attention"
    assert nri_mpm("charged", 5).decoder_sequence_model is None
    assert nri_mpm("kuramoto", 5, decoder_sequence_model="gru").decoder_sequence_model == "gru"
    decoder = DECODERS["st"].kwargs(kuramoto5, _FakeData(), 2)
    assert kuramoto5.sequence_model == "gru" and decoder["sequence_model"] == "attention"


class _FakeData:
    num_features = 3
