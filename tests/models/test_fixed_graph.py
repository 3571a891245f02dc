import pytest
import torch

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.losses import gaussian_nll
from torch_nri.models import FixedGraphModel
from torch_nri.nn import MLPDecoder


class RecordingDecoder(MLPDecoder):
    """An MLPDecoder that remembers the edge weights it was given."""
    def forward(self, x, edge_index, edge_weights, **kwargs):
        self.seen = edge_weights
        return super().forward(x, edge_index, edge_weights, **kwargs)


def test_true_graph_decoder_receives_the_true_relations():
    decoder = RecordingDecoder(4, 3, 8, 8, 8)
    model = FixedGraphModel(decoder, graph="true", num_edge_types=3)
    x, edge_index = torch.randn(4, 10, 4), fully_connected_edge_index(4)
    edge_type = torch.randint(0, 3, (12,), generator=torch.Generator().manual_seed(0))
    out = model(x, edge_index, edge_type=edge_type, prediction_steps=2)
    assert torch.equal(decoder.seen, torch.nn.functional.one_hot(edge_type, 3).float())
    assert out.edge_logits is None and out.predictions.shape == (4, 9, 4)
    # Another graph gives other predictions: the relations reach the messages.
    other = model(x, edge_index, edge_type=(edge_type + 1) % 3, prediction_steps=2)
    assert not torch.allclose(out.predictions, other.predictions)


def test_full_graph_is_one_edge_type_everywhere():
    decoder = RecordingDecoder(4, 1, 8, 8, 8)
    model = FixedGraphModel(decoder, graph="full", num_edge_types=1)
    x, edge_index = torch.randn(5, 6, 4), fully_connected_edge_index(5)
    model(x, edge_index)
    assert torch.equal(decoder.seen, torch.ones(20, 1))


def test_objective_is_the_gaussian_nll_and_trains_the_decoder():
    model = FixedGraphModel(MLPDecoder(4, 2, 8, 8, 8), num_edge_types=2, variance=1e-3)
    x, edge_index = torch.randn(4, 6, 4), fully_connected_edge_index(4)
    out = model(x, edge_index, edge_type=torch.ones(12, dtype=torch.long))
    terms = model.objective(out)
    assert torch.allclose(terms.loss, gaussian_nll(out.predictions, x[:, 1:], 1e-3))
    assert terms.kl == 0
    terms.loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_errors():
    with pytest.raises(ValueError, match="one edge type"):
        FixedGraphModel(MLPDecoder(4, 2, 8, 8, 8), graph="full", num_edge_types=2)
    with pytest.raises(ValueError, match="'graph'"):
        FixedGraphModel(MLPDecoder(4, 2, 8, 8, 8), graph="none")
    with pytest.raises(ValueError, match="num_edge_types=3"):
        FixedGraphModel(MLPDecoder(4, 3, 8, 8, 8), num_edge_types=2)
    model = FixedGraphModel(MLPDecoder(4, 2, 8, 8, 8))
    x, edge_index = torch.randn(3, 5, 4), fully_connected_edge_index(3)
    with pytest.raises(ValueError, match="needs the true relations"):
        model(x, edge_index)
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        model(x, edge_index, edge_type=torch.full((6,), 2))
    with pytest.raises(ValueError, match="one entry per edge"):
        model(x, edge_index, edge_type=torch.zeros(5, dtype=torch.long))
