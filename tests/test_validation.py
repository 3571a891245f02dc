import re

import pytest
import torch

import torch_nri
from torch_nri.graphs import fully_connected_edge_index
from torch_nri.models import NRI
from torch_nri.nn import MLPDecoder, MLPEncoder


def model():
    return NRI(MLPEncoder(6 * 4, 8, 2), MLPDecoder(4, 2, 8, 8, 8), 2)


def test_value_checks_fire_at_the_public_entries_and_can_be_switched_off():
    x, edge_index = torch.randn(5, 6, 4), fully_connected_edge_index(5)
    bad_x = x.clone()
    bad_x[2, 3, 1] = float("nan")
    bad_index = edge_index.clone()
    bad_index[0, 4] = 7
    with pytest.raises(ValueError, match="'x' contains 1 non-finite values"):
        model()(bad_x, edge_index)
    with pytest.raises(ValueError, match=r"'edge_index' holds node indices in \[0, 7\]"):
        model()(x, bad_index)
    with torch_nri.value_checks(False):
        model()(bad_x, edge_index)  # not checked: the caller vouches for the data
        with torch_nri.value_checks(True):
            with pytest.raises(ValueError, match="non-finite"):
                model()(bad_x, edge_index)
    with pytest.raises(ValueError, match="non-finite"):  # on again after the block
        model()(bad_x, edge_index)
    # Shapes are always checked.
    with torch_nri.value_checks(False), pytest.raises(ValueError, match="must have shape"):
        model()(x[0], edge_index)


def test_the_training_steps_read_no_values_for_checks(tmp_path, monkeypatch):
    from torch_nri.training import TrainConfig, loop, train

    calls = {"in_steps": 0}
    isfinite, train_epochs = torch.isfinite, loop._train_epochs

    def counting(*args, **kwargs):
        calls["in_steps"] += calls.get("inside", 0)
        return isfinite(*args, **kwargs)

    def epochs(*args, **kwargs):
        calls["inside"] = 1
        try:
            return train_epochs(*args, **kwargs)
        finally:
            calls["inside"] = 0

    monkeypatch.setattr(torch, "isfinite", counting)
    monkeypatch.setattr(loop, "_train_epochs", epochs)
    train(TrainConfig(num_train=32, num_valid=8, num_test=8, encoder_hidden=8,
                      decoder_hidden=8, batch_size=16, epochs=1, progress=False,
                      out=str(tmp_path / "run"), data_root=str(tmp_path / "data")))
    assert calls["in_steps"] == 0
    calls["inside"] = 1  # the same call outside the loop's block does check
    model()(torch.randn(5, 6, 4), fully_connected_edge_index(5))
    assert calls["in_steps"] > 0


def test_check_sizes_names_the_argument_and_the_layer():
    from torch_nri._validation import check_sizes

    check_sizes("MyLayer", in_channels=3, hidden_channels=8)
    check_sizes("MyLayer", ("rnn_channels",), rnn_channels=None)
    for value in (0, -2, 2.5, True, "8", None):
        with pytest.raises(ValueError, match=rf"^'hidden_channels' of MyLayer must be a "
                                             rf"positive integer, got {re.escape(repr(value))}$"):
            check_sizes("MyLayer", in_channels=3, hidden_channels=value)
    with pytest.raises(ValueError, match="'hidden_channels' of MLPEncoder"):  # an instance
        check_sizes(MLPEncoder(4, 8, 2), hidden_channels=0)
