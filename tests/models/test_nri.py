import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from torch_nri.graphs import fully_connected_edge_index, reverse_edge_index
from torch_nri.models import NRI
from torch_nri.nn import CNNEncoder, MLPDecoder, MLPEncoder, RIEncoder, RNNDecoder, STDecoder


def make_model(num_steps=12, num_features=4, hidden=16, num_edge_types=2, **kwargs):
    return NRI(MLPEncoder(num_steps * num_features, hidden, num_edge_types),
               MLPDecoder(num_features, num_edge_types, hidden, hidden, hidden),
               num_edge_types=num_edge_types, **kwargs)


def test_output_shapes_and_sampling_modes():
    model = make_model()
    x, edge_index = torch.randn(5, 12, 4), fully_connected_edge_index(5)
    out = model(x, edge_index, prediction_steps=3)
    assert out.edge_logits.shape == out.edge_probs.shape == out.edges.shape == (20, 2)
    assert out.predictions.shape == out.targets.shape == (5, 11, 4)
    assert torch.equal(out.targets, x[:, 1:])
    assert torch.allclose(out.edge_probs.sum(-1), torch.ones(20))
    assert not torch.isin(out.edges, torch.tensor([0.0, 1.0])).all()  # soft in training
    model.eval()
    edges = model(x, edge_index).edges
    assert torch.isin(edges, torch.tensor([0.0, 1.0])).all() and (edges.sum(-1) == 1).all()


def test_gradients_reach_every_parameter():
    for model in (make_model(num_steps=16),
                  NRI(CNNEncoder(4, 8, 3), RNNDecoder(4, 3, 8, skip_first=True), 3,
                      prior=[0.8, 0.1, 0.1])):
        out = model(torch.randn(6, 16, 4), fully_connected_edge_index(6))
        (-model.elbo(out).elbo).backward()
        for name, param in model.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_seeded_runs_are_reproducible():
    x, edge_index = torch.randn(5, 12, 4), fully_connected_edge_index(5)
    results = []
    for _ in range(2):
        torch.manual_seed(7)
        model = make_model()
        results.append(model(x, edge_index).predictions)
    assert torch.equal(*results)


def test_batch_of_systems_gives_per_system_results():
    model = make_model().eval()
    systems = [Data(x=torch.randn(n, 12, 4), edge_index=fully_connected_edge_index(n))
               for n in (3, 5, 4)]
    batch = Batch.from_data_list(systems)
    model.hard_in_eval = False
    model.tau = 1e-3  # the argmax of logits plus noise; compare the logits themselves
    out = model(batch.x, batch.edge_index)
    for logits, system in zip(out.edge_logits.split([6, 20, 12]), systems):
        assert torch.allclose(logits, model.encoder(system.x, system.edge_index), atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="decoder has num_edge_types=3.*num_edge_types=2"):
        NRI(MLPEncoder(8, 8, 2), MLPDecoder(4, 3, 8, 8, 8), num_edge_types=2)
    with pytest.raises(ValueError, match="'tau' must be positive"):
        make_model(tau=0.0)
    model = make_model()
    with pytest.raises(ValueError, match=r"'x' must have shape \[num_nodes, num_steps, "):
        model(torch.randn(5, 48), fully_connected_edge_index(5))
    with pytest.raises(ValueError, match=r"'edge_index'.*\[0, 5\].*5 nodes"):
        model(torch.randn(5, 12, 4), fully_connected_edge_index(6))


def simulate_toy_springs(num_sims, num_nodes=4, num_steps=12, seed=0):
    """Tiny springs systems (Hooke's law, leap-frog), enough to train on."""
    rng = np.random.default_rng(seed)
    edges = np.triu(rng.random((num_sims, num_nodes, num_nodes)) < 0.5, 1)
    edges = (edges | edges.transpose(0, 2, 1)).astype(np.float32)
    pos = rng.normal(0, 0.5, (num_sims, num_nodes, 2))
    vel = rng.normal(0, 0.5, (num_sims, num_nodes, 2))
    frames = []
    for t in range(num_steps * 10):
        force = -(edges[..., None] * (pos[:, :, None] - pos[:, None, :])).sum(2)
        vel = vel + 0.01 * force
        pos = pos + 0.01 * vel
        if t % 10 == 0:
            frames.append(np.concatenate([pos, vel], -1))
    x = torch.tensor(np.stack(frames, 2), dtype=torch.float32)  # [S, N, T, 4]
    return x, torch.tensor(edges)


def test_training_on_toy_springs_lowers_the_loss():
    x, _ = simulate_toy_springs(64)
    edge_index = fully_connected_edge_index([4] * 16)
    model = make_model(hidden=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for step in range(200):
        batch = x[(step % 4) * 16:(step % 4 + 1) * 16].reshape(-1, 12, 4)
        out = model(batch, edge_index, prediction_steps=4)
        loss = -model.elbo(out).elbo
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-20:]) < 0.2 * np.mean(losses[:20])


@pytest.mark.slow
def test_torch_compile_matches_eager():
    import torch._inductor.config as inductor_config

    # Eager's random number generator in compiled code, so the Gumbel noise
    # matches (patch() restores the option; monkeypatch's undo deleted it).
    with inductor_config.patch(fallback_random=True):
        _check_compiled_model()


def _check_compiled_model():
    model = make_model().eval()
    x, edge_index = torch.randn(5, 12, 4), fully_connected_edge_index(5)
    compiled = torch.compile(model)
    torch.manual_seed(3)
    eager_out = model(x, edge_index, prediction_steps=4)
    torch.manual_seed(3)
    compiled_out = compiled(x, edge_index, prediction_steps=4)
    assert torch.allclose(compiled_out.edge_logits, eager_out.edge_logits, atol=1e-5)
    assert torch.allclose(compiled_out.predictions, eager_out.predictions, atol=1e-4)
    model.train()
    out = compiled(x, edge_index, prediction_steps=4)
    (-model.elbo(out).elbo).backward()
    assert model.encoder.lin_out.weight.grad is not None


def test_hard_symmetry_ties_each_pair():
    model = make_model(hard_symmetry=True)
    x, edge_index = torch.randn(5, 12, 4), fully_connected_edge_index(5)
    out = model(x, edge_index, prediction_steps=3)
    reverse = reverse_edge_index(edge_index)
    assert torch.equal(out.edge_logits, out.edge_logits[reverse])
    assert torch.equal(out.edges, out.edges[reverse])  # one sample per pair
    free = make_model()(x, edge_index, prediction_steps=3)
    assert not torch.equal(free.edges, free.edges[reverse])


def test_nri_mpm_model_with_symmetry_prior_trains_on_a_batch():
    model = NRI(RIEncoder(12 * 4, 16, 2), STDecoder(4, 2, 16), 2, symmetry_weight=100.0)
    systems = [Data(x=torch.randn(n, 12, 4), edge_index=fully_connected_edge_index(n))
               for n in (4, 3)]
    batch = Batch.from_data_list(systems)
    out = model(batch.x, batch.edge_index, batch=batch.batch, prediction_steps=4)
    terms = model.elbo(out)
    assert terms.symmetry > 0
    assert torch.allclose(terms.elbo, -(terms.nll + terms.kl + 100.0 * terms.symmetry))
    (-terms.elbo).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match="'symmetry_weight' must be non-negative"):
        make_model(symmetry_weight=-1.0)
