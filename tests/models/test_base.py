import json
import pathlib
import shutil

import numpy as np
import pytest
import torch

from torch_nri import __version__
from torch_nri.models import NRI, load_model, read_checkpoint
from torch_nri.models.base import CHECKPOINT_FORMAT, layer_name, resolve_layer
from torch_nri.nn import MLPDecoder

LEGACY = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "runs_v0_1_0"


@pytest.mark.parametrize("name", ["mlp", "rnn", "st"])
def test_checkpoints_of_version_0_1_0_load_and_compute_as_they_did(name):
    # Written by torch_nri 0.1.0 (tests/fixtures), with its outputs on a fixed input.
    model = load_model(str(LEGACY / name / "best.pt")).eval()
    reference = torch.load(LEGACY / name / "reference.pt")
    x, edge_index = reference["x"], reference["edge_index"]
    assert torch.allclose(model.encoder(x, edge_index), reference["logits"], atol=1e-6)
    predictions = model.decoder(x, edge_index, reference["edges"],
                                **reference["decoder_kwargs"])
    assert torch.allclose(predictions, reference["predictions"], atol=1e-6)


def test_a_run_of_version_0_1_0_evaluates(tmp_path):
    from torch_nri.training import TrainConfig, evaluate_run

    run = tmp_path / "run"
    shutil.copytree(LEGACY / "rnn", run)
    config = json.loads((run / "config.json").read_text())
    assert "observed_steps" not in config  # 0.1.0 recorded no window
    config["data_root"] = str(tmp_path / "data")
    (run / "config.json").write_text(json.dumps(config))
    results = evaluate_run(str(run))
    assert len(results["mse"]) == 20 and np.isfinite(results["mse"]).all()
    assert TrainConfig.load(str(run)).observed_steps is None


def test_checkpoints_record_their_version_and_refuse_newer_formats(tmp_path):
    from torch_nri.models.base import checkpoint_entries

    model = NRI.from_config({"encoder": {"name": "MLPEncoder", "kwargs": dict(
        in_channels=8, hidden_channels=4, num_edge_types=2)}, "decoder": {
        "name": "MLPDecoder", "kwargs": dict(in_channels=4, num_edge_types=2,
                                             msg_hidden_channels=4, msg_out_channels=4,
                                             hidden_channels=4)}, "num_edge_types": 2})
    entries = checkpoint_entries(model)
    assert entries["torch_nri_version"] == __version__ and entries["format"] == CHECKPOINT_FORMAT
    torch.save(entries, tmp_path / "now.pt")
    assert torch.equal(load_model(str(tmp_path / "now.pt")).decoder.head.mlp.lins[0].weight,
                       model.decoder.head.mlp.lins[0].weight)
    torch.save({**entries, "format": CHECKPOINT_FORMAT + 1, "torch_nri_version": "9.0"},
               tmp_path / "future.pt")
    with pytest.raises(ValueError, match=r"written by torch_nri 9.0 \(format 3\); torch_nri "
                                         r".* reads formats up to 2: upgrade"):
        read_checkpoint(str(tmp_path / "future.pt"))
    # A model built by hand is described from its parts (describe_model).
    hand_built = checkpoint_entries(NRI(model.encoder, model.decoder, 2))["model_config"]
    for part in ("encoder", "decoder"):  # the given arguments, and the defaults
        assert hand_built[part]["name"] == model.config[part]["name"]
        assert model.config[part]["kwargs"].items() <= hand_built[part]["kwargs"].items()


def test_layer_names_of_the_package_and_of_your_own():
    assert layer_name(MLPDecoder) == "MLPDecoder" and resolve_layer("MLPDecoder") is MLPDecoder
    assert layer_name(torch.nn.Linear) == "torch.nn.modules.linear:Linear"
    assert resolve_layer("torch.nn.modules.linear:Linear") is torch.nn.Linear
    with pytest.raises(ValueError, match="cannot import the layer class 'nowhere:Thing'"):
        resolve_layer("nowhere:Thing")
    with pytest.raises(ValueError, match="unknown layer 'Thing': not a class of torch_nri.nn"):
        resolve_layer("Thing")


@pytest.mark.parametrize("encoder", ["MLPEncoder", "CNNEncoder", "RIEncoder"])
@pytest.mark.parametrize("decoder", ["MLPDecoder", "RNNDecoder", "STDecoder"])
def test_a_model_built_by_hand_saves_and_loads(tmp_path, encoder, decoder):
    from torch_nri import nn
    from torch_nri.graphs import fully_connected_edge_index
    from torch_nri.models import describe_model, save_model

    encoder = getattr(nn, encoder)(16 * 4 if encoder != "CNNEncoder" else 4, 8, 2)
    decoder = getattr(nn, decoder)(4, 2, *((8, 8, 8) if decoder == "MLPDecoder" else (8,)),
                                   skip_first=True)
    model = NRI(encoder, decoder, 2, tau=0.3, prior=[0.8, 0.2]).eval()
    assert model.config is None
    save_model(model, str(tmp_path / "model.pt"))
    loaded = load_model(str(tmp_path / "model.pt")).eval()
    assert loaded.config == describe_model(model) and loaded.tau == 0.3
    x, edge_index = torch.randn(5, 16, 4), fully_connected_edge_index(5)
    torch.manual_seed(0)
    expected = model(x, edge_index).predictions
    torch.manual_seed(0)
    assert torch.equal(loaded(x, edge_index).predictions, expected)


def test_a_checkpoint_without_a_model_description_says_how_to_save_one(tmp_path):
    path = tmp_path / "hand.pt"
    torch.save({"model_config": None, "model": {}}, path)
    with pytest.raises(ValueError, match=r"has no model description .*save_model"):
        load_model(str(path))


def test_decode_rolls_out_random_segments_with_their_targets_and_nll_scale(system):
    from torch_nri.models.base import decode
    from torch_nri.nn import MLPDecoder
    x, edge_index = system  # T = 20
    decoder = MLPDecoder(4, 2, 8, 8, 8).eval()
    weights = torch.rand(edge_index.size(1), 2)
    predictions, targets, scale = decode(decoder, x, edge_index, weights,
                                         {"prediction_steps": 5})
    assert torch.equal(predictions, decoder(x, edge_index, weights, prediction_steps=5))
    assert torch.equal(targets, x[:, 1:]) and scale == 1.0
    torch.manual_seed(0)
    predictions, targets, scale = decode(decoder, x, edge_index, weights,
                                         {"prediction_steps": 5, "segments": 3})
    assert predictions.shape == targets.shape == (6, 15, 4) and scale == 19 / 15
    torch.manual_seed(0)
    starts = torch.randint(0, 15, (3,))  # the draw decode made: starts 0..T - 1 - M
    assert torch.equal(predictions, decoder(x, edge_index, weights, prediction_steps=5,
                                            segment_starts=starts))
    steps = [int(start) + m for start in starts for m in range(1, 6)]
    assert torch.equal(targets, x[:, steps])
    with pytest.raises(ValueError, match="prediction_steps=20 steps needs trajectories of "
                                         "more steps, got 20"):
        decode(decoder, x, edge_index, weights, {"prediction_steps": 20, "segments": 1})
