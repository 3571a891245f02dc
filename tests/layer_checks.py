"""Checks every layer must pass: batching and node permutation."""
import torch
from torch_geometric.data import Batch, Data

from torch_nri.graphs import fully_connected_edge_index


def assert_batch_matches_systems(run, sizes, num_steps, num_features, level, atol=1e-5):
    """``run(x, edge_index)`` on a PyG Batch of systems of different sizes
    equals ``run`` on each system alone (``level``: "edge" or "node" output)."""
    systems = [Data(x=torch.randn(n, num_steps, num_features),
                    edge_index=fully_connected_edge_index(n)) for n in sizes]
    batch = Batch.from_data_list(systems)
    together = run(batch.x, batch.edge_index)
    sizes_out = ([s.edge_index.size(1) for s in systems] if level == "edge"
                 else [s.num_nodes for s in systems])
    for part, system in zip(together.split(sizes_out), systems):
        assert torch.allclose(part, run(system.x, system.edge_index), atol=atol)


def assert_permutation_equivariant(run, x, edge_index, level, atol=1e-5):
    """Relabelling the nodes and reordering the edges permutes the output."""
    node_perm = torch.randperm(x.size(0))          # new node a is old node node_perm[a]
    new_label = torch.empty_like(node_perm)
    new_label[node_perm] = torch.arange(x.size(0))
    edge_perm = torch.randperm(edge_index.size(1))
    permuted = run(x[node_perm], new_label[edge_index[:, edge_perm]])
    expected = run(x, edge_index)
    expected = expected[edge_perm] if level == "edge" else expected[node_perm]
    assert torch.allclose(permuted, expected, atol=atol)


def assert_segments_start_from_ground_truth(decoder, x, edge_index, edge_weights, steps=5):
    """A segment decoder with ``prediction_steps=steps`` reads the ground
    truth only at steps 0, M, 2M, ...; each of those starts one segment."""
    a = decoder(x, edge_index, edge_weights, prediction_steps=steps)
    unread = x.clone()
    unread[:, 1:steps] += 1.0
    assert torch.equal(a, decoder(unread, edge_index, edge_weights, prediction_steps=steps))
    read = x.clone()
    read[:, steps] += 1.0  # starts the segment that predicts steps M+1..2M
    b = decoder(read, edge_index, edge_weights, prediction_steps=steps)
    assert torch.equal(a[:, :steps], b[:, :steps])
    assert torch.equal(a[:, 2 * steps:], b[:, 2 * steps:])
    assert not torch.allclose(a[:, steps:2 * steps], b[:, steps:2 * steps])
