import numpy as np
import torch
from torch_geometric.loader import DataLoader

from torch_nri.datasets import ProximityDataset
from torch_nri.graphs import fully_connected_edge_index

SMALL = dict(num_nodes=3, num_train=12, num_valid=4, num_test=4)


def test_three_particles_have_per_step_relations(tmp_path):
    train = ProximityDataset(str(tmp_path), **SMALL)
    test = ProximityDataset(str(tmp_path), split="test", **SMALL)
    item = train[0]
    assert item.x.shape == (3, 50, 4) and test[0].x.shape == (3, 71, 4)
    assert torch.equal(item.edge_index, fully_connected_edge_index(3))
    assert item.edge_type.shape == (6, 50) and test[0].edge_type.shape == (6, 71)
    # Only the drivers' edges into particle 2 ever act.
    into_2 = (item.edge_index[1] == 2) & (item.edge_index[0] < 2)
    assert not train.edge_type.view(12, 6, 50)[:, ~into_2].any()
    assert train.edge_type.view(12, 6, 50)[:, into_2].any()
    batch = next(iter(DataLoader(train, batch_size=4)))
    assert batch.edge_type.shape == (24, 50)


def test_many_particles_on_the_window_knn(tmp_path):
    data = ProximityDataset(str(tmp_path), num_nodes=300, num_train=1, num_valid=1,
                            num_test=1, graph="knn", k=6)
    item = data[0]
    assert item.edge_type.shape == (item.edge_index.size(1), 50)
    assert item.edge_index.size(1) < 300 * 20  # sparse: no N x N anywhere
    assert item.edge_type.any()


def test_a_radius_graph_over_every_step_holds_every_interaction(tmp_path):
    from torch_nri.simulations import simulate_proximity

    # The particles push each other within the physics' radius 1: a candidate
    # radius of 1.5 over the whole trajectory holds every pair that ever does.
    data = ProximityDataset(str(tmp_path), num_nodes=30, num_train=2, num_valid=1, num_test=1,
                            graph="radius", graph_radius=1.5)
    split_seed = int(np.random.SeedSequence([42, 0]).generate_state(1)[0])
    sim = simulate_proximity(2, 30, 51, 1, split_seed)
    acting = sum(len(keys) for keys in sim.active)
    assert acting > 0 and int(data.edge_type.count_nonzero()) == acting
    assert data.physics["radius"] == 1.0  # the physics' radius, not the graph's
