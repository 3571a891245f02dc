import json
import os

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from torch_nri.datasets import ChargedDataset, KuramotoDataset, SpringsDataset
from torch_nri.datasets.simulated import SimulatedDataset
from torch_nri.graphs import knn_graph, radius_graph
from torch_nri.models import NRI
from torch_nri.nn import MLPDecoder, MLPEncoder

SMALL = dict(num_train=40, num_valid=10, num_test=10, length=1000, test_length=2000)


@pytest.mark.parametrize("cls,num_features", [(SpringsDataset, 4), (ChargedDataset, 4),
                                              (KuramotoDataset, 3)])
def test_items_and_normalisation(tmp_path, cls, num_features):
    lengths = {} if cls is KuramotoDataset else dict(length=1000, test_length=2000)
    small = {**SMALL, **lengths} if lengths else {k: v for k, v in SMALL.items()
                                                   if "length" not in k}
    train = cls(str(tmp_path), **small)
    test = cls(str(tmp_path), split="test", **small)
    steps = 9 if lengths else 49
    assert len(train) == 40 and len(test) == 10
    item = train[0]
    assert item.x.shape == (5, steps, num_features) and item.x.dtype == torch.float32
    assert item.edge_index.shape == (2, 20) and item.edge_type.shape == (20,)
    assert test[0].x.shape[1] == 2 * steps + 1
    assert train.candidate_recall == test.candidate_recall == 1.0  # fully connected
    # Min-max scaled with the training statistics: train spans exactly [-1, 1] per group.
    for group in train.stats.groups:
        values = train.x[..., group]
        assert values.min().item() == pytest.approx(-1, abs=1e-5)
        assert values.max().item() == pytest.approx(1, abs=1e-5)
    raw = train.denormalize(train.x)
    assert torch.allclose(train.stats.normalize(raw), train.x, atol=1e-5)


def test_edge_types_match_the_simulated_relations(tmp_path):
    from torch_nri.simulations import simulate_springs
    ds = SpringsDataset(str(tmp_path), **SMALL)
    split_seed = int(np.random.SeedSequence([42, 0]).generate_state(1)[0])
    sim = simulate_springs(40, 5, 1000, 100, split_seed)
    for s in (0, 17, 39):
        item = ds[s]
        senders, receivers = item.edge_index
        assert torch.equal(item.edge_type, torch.as_tensor(sim.relations[s][senders, receivers]))
        assert torch.allclose(ds.denormalize(item.x), torch.from_numpy(
            sim.features[s]).transpose(0, 1), atol=1e-5)


def test_knn_candidate_graph(tmp_path):
    ds = ChargedDataset(str(tmp_path), num_nodes=12, graph="knn", k=4, **SMALL)
    item = ds[3]
    assert torch.equal(item.edge_index, knn_graph(item.x[:, 0, :2], 4))
    assert item.edge_index.size(1) == 12 * 4


def test_radius_candidate_graph_of_the_raw_positions(tmp_path):
    from torch_nri.simulations import simulate_charged

    ds = ChargedDataset(str(tmp_path), num_nodes=12, graph="radius", graph_radius=3.0, **SMALL)
    assert ds.position_features == [0, 1] and ds.params["graph_radius"] == 3.0
    split_seed = int(np.random.SeedSequence([42, 0]).generate_state(1)[0])
    sim = simulate_charged(40, 12, 1000, 100, split_seed)
    for s in (0, 21):
        raw = torch.from_numpy(sim.features[s]).transpose(0, 1)
        assert torch.equal(ds[s].edge_index, radius_graph(raw[:, 0, :2], 3.0))  # in box units
    with pytest.raises(ValueError, match=r"the charged train split, system 0: graph='radius' "
                                         r"with graph_radius=1e-06 leaves a system without a "
                                         r"candidate edge: its closest two objects are"):
        ChargedDataset(str(tmp_path), num_nodes=12, graph="radius", graph_radius=1e-6, **SMALL)


def test_cache_keys_without_a_radius_are_those_made_before_it(tmp_path):
    # The keys of torch_nri before graph_radius existed: their caches are still read.
    assert SpringsDataset(str(tmp_path), **SMALL).key == "196fad4477d959ba"
    knn = ChargedDataset(str(tmp_path), num_nodes=12, graph="knn", k=4, **SMALL)
    assert knn.key == "e8e88d93ce4d14b1"
    radius = ChargedDataset(str(tmp_path), num_nodes=12, graph="radius", graph_radius=3.0,
                            **SMALL)
    assert radius.key != ChargedDataset(str(tmp_path), num_nodes=12, graph="radius",
                                        graph_radius=4.0, **SMALL).key


def test_feeds_the_model_through_a_dataloader(tmp_path):
    ds = SpringsDataset(str(tmp_path), **SMALL)
    loader = DataLoader(ds, batch_size=16, shuffle=True)
    model = NRI(MLPEncoder(9 * 4, 16, 2), MLPDecoder(4, 2, 16, 16, 16), 2)
    batch = next(iter(loader))
    out = model(batch.x, batch.edge_index, prediction_steps=4)
    assert out.edge_logits.shape == (16 * 20, 2)
    loss = -model.elbo(out).elbo
    loss.backward()
    assert torch.isfinite(loss)


def test_seeds_and_cache(tmp_path, monkeypatch):
    a = SpringsDataset(str(tmp_path), **SMALL)
    calls = []
    original = SimulatedDataset.process

    def counting(self):
        calls.append(self.params)
        original(self)

    monkeypatch.setattr(SimulatedDataset, "process", counting)
    b = SpringsDataset(str(tmp_path), **SMALL)  # reused: nothing simulated
    assert calls == [] and torch.equal(a.x, b.x)
    c = SpringsDataset(str(tmp_path), seed=1, **SMALL)  # another configuration
    d = SpringsDataset(str(tmp_path), spring_probs=(1.0, 0.0), **SMALL)
    assert len(calls) == 2
    assert not torch.equal(a.x, c.x)
    assert d.edge_type.sum() == 0
    assert len({a.processed_dir, c.processed_dir, d.processed_dir}) == 3
    meta = json.load(open(os.path.join(c.processed_dir, "meta.json")))
    assert meta["params"]["seed"] == 1


def test_interrupted_generation_is_not_trusted(tmp_path, monkeypatch):
    original = SpringsDataset.simulate

    def fail_on_test_split(self, num_sims, length, seed):
        if length == SMALL["test_length"]:
            raise KeyboardInterrupt
        return original(self, num_sims, length, seed)

    monkeypatch.setattr(SpringsDataset, "simulate", fail_on_test_split)
    with pytest.raises(KeyboardInterrupt):
        SpringsDataset(str(tmp_path), **SMALL)
    monkeypatch.setattr(SpringsDataset, "simulate", original)
    processed = [p for p in os.listdir(tmp_path / "processed") if p.startswith("springs")]
    left = os.listdir(tmp_path / "processed" / processed[0])
    assert "train.pt" in left and "test.pt" not in left
    assert not [f for f in left if f.startswith(".tmp-")]
    calls = []
    monkeypatch.setattr(SpringsDataset, "simulate",
                        lambda self, *a: calls.append(a) or original(self, *a))
    ds = SpringsDataset(str(tmp_path), split="test", **SMALL)
    assert len(calls) == 3 and len(ds) == 10  # regenerated, all three splits


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="'split' must be one of"):
        SpringsDataset(str(tmp_path), split="val")
    with pytest.raises(ValueError, match="graph='knn' needs a positive 'k'"):
        SpringsDataset(str(tmp_path), graph="knn")
    with pytest.raises(ValueError, match="kuramoto systems have no positions"):
        KuramotoDataset(str(tmp_path), graph="knn", k=3)
    with pytest.raises(ValueError, match="kuramoto systems have no positions for a kNN graph or "
                                         "a radius graph"):
        KuramotoDataset(str(tmp_path), graph="radius", graph_radius=1.0)
    with pytest.raises(ValueError, match="graph='radius' needs a positive 'graph_radius'"):
        SpringsDataset(str(tmp_path), graph="radius")
    with pytest.raises(ValueError, match="'graph_radius' of graph='radius' must be positive, "
                                         "got -1"):
        SpringsDataset(str(tmp_path), graph="radius", graph_radius=-1)
    with pytest.raises(ValueError, match="'graph_radius' is the distance of graph='radius', "
                                         "but graph='full'"):
        SpringsDataset(str(tmp_path), graph_radius=1.0)
    with pytest.raises(ValueError, match=r"position_features=\[1, 0\], but the position "
                                         r"features of springs systems are \[0, 1\]"):
        SpringsDataset.check_graph("full", None, position_features=[1, 0])
    with pytest.raises(ValueError, match="'num_train' must be at least 1"):
        SpringsDataset(str(tmp_path), num_train=0)


@pytest.mark.parametrize("cls", [SpringsDataset, ChargedDataset, KuramotoDataset])
def test_a_root_that_is_a_file_is_refused_before_anything_is_simulated(tmp_path, cls,
                                                                        monkeypatch):
    # Before: PyG's makedirs failed deep in fsspec (NotADirectoryError) after
    # printing "Processing...".
    monkeypatch.setattr(SimulatedDataset, "process", lambda self: pytest.fail("simulated"))
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"^'root' must be a directory, but .*file is an "
                                         r"existing file$"):
        cls(root=str(tmp_path / "file"), num_train=2, num_valid=2, num_test=2)
    with pytest.raises(ValueError, match=r"^'root' must be a directory, but .*file, on its "
                                         r"path .*file/cache, is an existing file$"):
        cls(root=str(tmp_path / "file" / "cache"), num_train=2, num_valid=2, num_test=2)


TINY = dict(num_train=3, num_valid=2, num_test=2, length=1000, test_length=2000)


def split_simulation(simulator, split, **physics):
    """The raw simulation of one split of a TINY dataset (seed 42)."""
    length = TINY["test_length"] if split == "test" else TINY["length"]
    index = ("train", "valid", "test").index(split)
    seed = int(np.random.SeedSequence([42, index]).generate_state(1)[0])
    return simulator(TINY[f"num_{split}"], length=length, sample_freq=100, seed=seed, **physics)


def candidates(ds):
    """The candidate edges of each system as dense boolean [N, N] matrices."""
    out = []
    for item in ds:
        adjacency = np.zeros((item.num_nodes, item.num_nodes), dtype=bool)
        adjacency[tuple(item.edge_index.numpy())] = True
        out.append(adjacency)
    return out


def test_candidate_recall_of_local_springs_on_a_knn_graph(tmp_path):
    from torch_nri.simulations import simulate_springs
    physics = dict(num_nodes=40, num_neighbors=4, density=1.0, walls=False)
    for split in ("train", "test"):
        ds = SpringsDataset(str(tmp_path), split=split, graph="knn", k=3, **physics, **TINY)
        relations = [r.toarray() != 0 for r in split_simulation(simulate_springs, split,
                                                                **physics).relations]
        found = sum((r & c).sum() for r, c in zip(relations, candidates(ds)))
        assert ds.candidate_recall == pytest.approx(found / sum(r.sum() for r in relations))
        assert 0.5 < ds.candidate_recall < 1.0  # some springs join no 3 nearest neighbours
    full = SpringsDataset(str(tmp_path), **physics, **TINY)
    assert full.candidate_recall == 1.0


def test_candidate_recall_of_charges_with_a_cutoff(tmp_path):
    # The true relations: pairs closer than the cut-off at some sampled step.
    from torch_nri.simulations import simulate_charged
    physics = dict(num_nodes=30, cutoff=1.0, density=1.0, walls=False)
    ds = ChargedDataset(str(tmp_path), split="test", graph="knn", k=4, **physics, **TINY)
    sim = split_simulation(simulate_charged, "test", **physics)
    pos = sim.positions.astype(np.float64)
    dist = np.linalg.norm(pos[:, :, :, None] - pos[:, :, None], axis=-1)  # [S, T, N, N]
    interact = (dist < 1.0).any(1) & ~np.eye(30, dtype=bool)
    found = sum((r & c).sum() for r, c in zip(interact, candidates(ds)))
    assert ds.candidate_recall == pytest.approx(found / interact.sum())
    assert 0.2 < ds.candidate_recall < 1.0
    # Without a cut-off every pair interacts: a kNN graph holds k of N - 1.
    knn = ChargedDataset(str(tmp_path), num_nodes=12, graph="knn", k=4, **TINY)
    assert knn.candidate_recall == pytest.approx(4 / 11)


def test_candidate_recall_per_step_where_relations_change(tmp_path):
    from torch_nri.datasets import ProximityDataset
    from torch_nri.simulations import simulate_proximity
    sizes = dict(num_nodes=40, num_train=2, num_valid=1, num_test=1)
    ds = ProximityDataset(str(tmp_path), graph="knn", k=1, density=1.0, **sizes)
    seed = int(np.random.SeedSequence([42, 0]).generate_state(1)[0])
    active = simulate_proximity(2, 40, 51, 1, seed, density=1.0).dense_relations() == 1
    found = sum((a & c).sum() for a, c in zip(active, candidates(ds)))  # [T, N, N] & [N, N]
    assert ds.candidate_recall == pytest.approx(found / active.sum())
    assert 0.0 < ds.candidate_recall < 1.0


def test_candidate_recall_of_older_caches_and_own_simulations_is_unknown(tmp_path):
    ds = SpringsDataset(str(tmp_path), **TINY)
    assert ds.candidate_recall == 1.0
    meta_path = os.path.join(ds.processed_dir, "meta.json")
    meta = json.load(open(meta_path))
    assert meta["candidate_recall"] == {"train": 1.0, "valid": 1.0, "test": 1.0}
    del meta["candidate_recall"]  # as torch_nri wrote it before
    json.dump(meta, open(meta_path, "w"))
    assert SpringsDataset(str(tmp_path), split="test", **TINY).candidate_recall is None

    class PairSprings(SpringsDataset):  # a subclass whose simulate returns a plain pair
        def simulate(self, num_sims, length, seed):
            return tuple(super().simulate(num_sims, length, seed)[:2])

    assert PairSprings(str(tmp_path / "pair"), **TINY).candidate_recall is None


def test_new_physics_at_their_defaults_keep_the_cache(tmp_path):
    a = SpringsDataset(str(tmp_path), **TINY)
    b = SpringsDataset(str(tmp_path), density=None, walls=True, **TINY)
    c = SpringsDataset(str(tmp_path), density=4.0, walls=False, **TINY)
    assert a.params["physics"] == {} and a.processed_dir == b.processed_dir
    assert c.params["physics"] == {"density": 4.0, "walls": False}
    assert c.processed_dir != a.processed_dir and c.box_size is None and a.box_size == 5.0
    with pytest.raises(ValueError, match="physics parameter 'walls' must be bool"):
        SpringsDataset(str(tmp_path), walls="no", **TINY)
    with pytest.raises(ValueError, match="must fit in the box"):
        ChargedDataset(str(tmp_path), num_nodes=1000, density=1.0, **TINY)


def test_a_split_drawn_anew_holds_new_systems_in_the_splits_units(tmp_path):
    from torch_nri.simulations import simulate_springs
    train = SpringsDataset(str(tmp_path), **SMALL)
    assert train.resimulated(0) is train  # draw 0 is the split itself
    fresh = train.resimulated(3)
    assert type(fresh) is SpringsDataset and len(fresh) == len(train) == 40
    assert fresh.x.shape == train.x.shape and fresh.stats is train.stats
    assert not torch.equal(fresh.x, train.x) and torch.equal(train.resimulated(3).x, fresh.x)
    assert not torch.equal(train.resimulated(4).x, fresh.x)
    assert fresh.candidate_recall == 1.0
    # The systems of the draw's seed, normalised with the cached split's statistics.
    seed = int(np.random.SeedSequence([42, 0, 3]).generate_state(1)[0])
    sim = simulate_springs(40, 5, 1000, 100, seed)
    item = fresh[7]
    senders, receivers = item.edge_index
    assert torch.equal(item.edge_type, torch.as_tensor(sim.relations[7][senders, receivers]))
    assert torch.allclose(item.x, train.stats.normalize(torch.from_numpy(
        sim.features[7]).transpose(0, 1)), atol=1e-5)
    # The cached split is untouched.
    assert torch.equal(SpringsDataset(str(tmp_path), **SMALL).x, train.x)
    with pytest.raises(ValueError, match="'draw'.*-1"):
        train.resimulated(-1)
