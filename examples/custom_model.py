"""NRI layers inside your own PyG model, trained on your own graph data.

The data: sensors scattered on a plane, each linked to its 6 nearest
neighbours (the candidate graph). Only some of those links carry influence:
along a hidden edge j -> i, the signal of i relaxes towards that of j
(consensus dynamics). The model infers which candidate edges are real from
the signals alone, with an NRI MLP encoder and decoder inside a user-defined
module, and is scored against the hidden edges.

    python examples/custom_model.py
"""
import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from torch_nri.graphs import knn_graph
from torch_nri.losses import gaussian_nll, kl_categorical
from torch_nri.metrics import edge_accuracy
from torch_nri.nn import MLPDecoder, MLPEncoder


def make_system(num_nodes=20, num_steps=16, rate=0.3, generator=None) -> Data:
    """One system: random sensors, kNN candidates, half of them real edges."""
    pos = torch.rand(num_nodes, 2, generator=generator)
    edge_index = knn_graph(pos, k=6)
    edge_type = (torch.rand(edge_index.size(1), generator=generator) < 0.5).long()
    signal = torch.randn(num_nodes, 2, generator=generator)
    senders, receivers = edge_index[:, edge_type == 1]
    steps = [signal]
    for _ in range(num_steps - 1):
        pull = torch.zeros_like(signal).index_add_(0, receivers,
                                                   signal[senders] - signal[receivers])
        signal = signal + rate * pull / 3
        steps.append(signal)
    return Data(x=torch.stack(steps, dim=1), edge_index=edge_index, edge_type=edge_type, pos=pos)


class RelationalForecaster(torch.nn.Module):
    """Your model: NRI's encoder picks the real edges, its decoder rolls the
    signals forward over them. Anything else of PyG could sit around them."""

    def __init__(self, num_steps: int, num_features: int, hidden: int = 64):
        super().__init__()
        self.encoder = MLPEncoder(num_steps * num_features, hidden, num_edge_types=2)
        # Type 0 is "no edge": it passes no message, which breaks the symmetry early.
        self.decoder = MLPDecoder(num_features, 2, hidden, hidden, hidden, skip_first=True)

    def forward(self, x, edge_index):
        edge_logits = self.encoder(x, edge_index)
        edges = F.gumbel_softmax(edge_logits, tau=0.5, hard=not self.training)
        return edge_logits, self.decoder(x, edge_index, edges, prediction_steps=5)


def main():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    train_set = [make_system(generator=generator) for _ in range(300)]
    test_set = [make_system(generator=generator) for _ in range(50)]
    model = RelationalForecaster(num_steps=16, num_features=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(15):
        model.train()
        for batch in DataLoader(train_set, batch_size=32, shuffle=True):
            edge_logits, predictions = model(batch.x, batch.edge_index)
            loss = (gaussian_nll(predictions, batch.x[:, 1:], variance=5e-5)
                    + kl_categorical(edge_logits, batch.num_nodes))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch % 5 == 4:
            model.eval()
            with torch.no_grad():
                test = next(iter(DataLoader(test_set, batch_size=len(test_set))))
                edge_logits, _ = model(test.x, test.edge_index)
            accuracy = edge_accuracy(edge_logits, test.edge_type, no_edge_type=0)
            print(f"epoch {epoch + 1}: test edge accuracy {100 * accuracy:.1f}%")


if __name__ == "__main__":
    main()
