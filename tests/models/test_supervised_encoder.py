import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.models import SupervisedEncoder
from torch_nri.nn import CNNEncoder, MLPEncoder, RIEncoder


@pytest.mark.parametrize("encoder", [MLPEncoder(16 * 4, 16, 2), CNNEncoder(4, 16, 2),
                                     RIEncoder(16 * 4, 16, 2)])
def test_every_encoder_learns_planted_relations(encoder):
    # Each object has a hidden label that shifts its first feature; relation 1
    # joins objects with the same label: a pairwise function of the inputs.
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = SupervisedEncoder(encoder, num_edge_types=2)
    batch = Batch.from_data_list([Data(edge_index=fully_connected_edge_index(4),
                                       num_nodes=4)] * 8)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def sample():
        label = torch.randint(0, 2, (32,), generator=generator)
        x = torch.randn(32, 16, 4, generator=generator)
        x[:, :, 0] += 2 * (2 * label[:, None] - 1)
        same = label[batch.edge_index[0]] == label[batch.edge_index[1]]
        return x, same.long()

    def accuracy():
        model.eval()
        with torch.no_grad():
            x, edge_type = sample()
            logits = model(x, batch.edge_index, batch=batch.batch).edge_logits
        model.train()
        return float((logits.argmax(-1) == edge_type).float().mean())

    before = accuracy()
    for _ in range(100):
        x, edge_type = sample()
        out = model(x, batch.edge_index, batch=batch.batch, edge_type=edge_type)
        terms = model.objective(out)
        assert torch.allclose(terms.loss, F.cross_entropy(out.edge_logits, edge_type))
        optimizer.zero_grad()
        terms.loss.backward()
        optimizer.step()
    assert accuracy() > max(before, 0.9)


def test_output_and_errors():
    model = SupervisedEncoder(MLPEncoder(5 * 4, 8, 3), num_edge_types=3)
    x, edge_index = torch.randn(3, 5, 4), fully_connected_edge_index(3)
    out = model(x, edge_index, prediction_steps=10)  # decoder options are ignored
    assert out.edge_logits.shape == (6, 3) and out.predictions is None
    with pytest.raises(ValueError, match="pass 'edge_type'"):
        model.objective(out)
    with pytest.raises(ValueError, match="num_edge_types=3"):
        SupervisedEncoder(MLPEncoder(20, 8, 3), num_edge_types=2)
