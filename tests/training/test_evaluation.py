import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.models import NRI
from torch_nri.nn import MLPDecoder, MLPEncoder
from torch_nri.training import evaluate


def test_static_baseline_is_the_mean_squared_change():
    # The "Static" row of the NRI paper predicts x^{t+h} = x^t.
    items = [Data(x=torch.randn(4, 16, 3), edge_index=fully_connected_edge_index(4),
                  edge_type=torch.randint(0, 2, (12,))) for _ in range(5)]
    model = NRI(MLPEncoder(10 * 3, 8, 2), MLPDecoder(3, 2, 8, 8, 8), 2)
    results = evaluate(model, DataLoader(items, batch_size=2), observed_steps=10, horizon=5)
    x = torch.cat([item.x for item in items])
    for h in (1, 5):
        expected = (x[:, 10 + h] - x[:, 10]).pow(2).mean().item()
        assert abs(results["mse_static"][h - 1] - expected) < 1e-6
    assert results["num_examples"] == 5 and len(results["mse"]) == 5


def test_static_mse_of_the_baselines_matches_the_test_protocol():
    from torch_nri.baselines import static_mse

    items = [Data(x=torch.randn(4, 16, 3), edge_index=fully_connected_edge_index(4),
                  edge_type=torch.randint(0, 2, (12,))) for _ in range(5)]
    model = NRI(MLPEncoder(10 * 3, 8, 2), MLPDecoder(3, 2, 8, 8, 8), 2)
    results = evaluate(model, DataLoader(items, batch_size=2), observed_steps=10, horizon=5)
    x = torch.stack([item.x for item in items]).transpose(1, 2)  # [S, T, N, F]
    assert torch.allclose(torch.tensor(static_mse(x, observed_steps=10, horizon=5)),
                          torch.tensor(results["mse_static"]), atol=1e-7)


class FixedLogits(torch.nn.Module):
    # An encoder that returns given logits (for one batch of known edges).
    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x, edge_index, batch=None):
        return self.logits


def test_auroc_follows_the_learned_type_order():
    torch.manual_seed(0)
    items = [Data(x=torch.randn(4, 16, 3), edge_index=fully_connected_edge_index(4),
                  edge_type=torch.randint(0, 2, (12,))) for _ in range(5)]
    truth = torch.cat([item.edge_type for item in items])
    logits = 2.0 * torch.nn.functional.one_hot(truth, 2) + torch.randn(60, 2)  # informative
    results = {}
    for name, encoder_logits in (("named", logits), ("swapped", logits.flip(-1))):
        model = NRI(FixedLogits(encoder_logits), MLPDecoder(3, 2, 8, 8, 8), 2)
        results[name] = evaluate(model, DataLoader(items, batch_size=5), observed_steps=10,
                                 horizon=5)
    assert results["named"]["auroc"] > 0.8
    assert results["swapped"]["auroc"] == results["named"]["auroc"]
    assert results["swapped"]["accuracy"] == results["named"]["accuracy"]


def test_evaluate_run_reports_the_data_s_candidate_recall(tmp_path):
    import numpy as np

    from torch_nri.datasets import TrajectoryDataset
    from torch_nri.models import save_model
    from torch_nri.training import TrainConfig, evaluate_run

    x = np.zeros((2, 16, 4, 2))
    x[:, :, :, 0] = [0.0, 1.0, 2.5, 10.0]  # the candidates 1->0, 0->1, 1->2, 2->3 of k=1
    x += np.random.default_rng(0).normal(scale=1e-3, size=x.shape)
    edge_list = np.array([[s, i, j, 1] for s in (0, 1) for i, j in ((0, 1), (1, 0), (0, 3))])
    np.savez(tmp_path / "test.npz", x=x, edge_list=edge_list)
    test_set = TrajectoryDataset(str(tmp_path / "test.npz"), graph="knn", k=1)
    save_model(NRI(MLPEncoder(10 * 2, 8, 2), MLPDecoder(2, 2, 8, 8, 8), 2),
               str(tmp_path / "best.pt"))
    config = TrainConfig(observed_steps=10, horizon=5, batch_size=2)
    results = evaluate_run(str(tmp_path), config=config, test_set=test_set, device="cpu")
    assert results["candidate_recall"] == test_set.candidate_recall == 4 / 6
    assert {"accuracy", "f1"} <= set(results)
    # Data that does not know its recall (a list of items) reports none.
    results = evaluate_run(str(tmp_path), config=config, test_set=list(test_set), device="cpu")
    assert "candidate_recall" not in results and "accuracy" in results


def test_a_system_ten_times_larger_is_evaluated_in_bounded_memory():
    # A model of small systems, translation invariant, evaluated on one system
    # of 10x the objects: without gradients its layers run in chunks within
    # checkpoint_memory (no option needed), with the results of one pass.
    from torch_nri.graphs import knn_graph
    from tests.memory_checks import AllocationTracker

    torch.manual_seed(0)
    num_nodes, steps, hidden, budget = 400, 13, 32, 2**16
    positions = torch.rand(num_nodes, 2) * 20
    x = torch.cat([positions[:, None].expand(-1, steps, -1) + 0.01 * torch.randn(
        num_nodes, steps, 2), torch.randn(num_nodes, steps, 2)], dim=-1)
    edge_index = knn_graph(positions, 8)
    models = []
    for memory in (budget, 2**40):
        memory_options = dict(checkpoint_memory=memory, position_features=[0, 1])
        models.append(NRI(MLPEncoder(6 * 4, hidden, 2, **memory_options),
                          MLPDecoder(4, 2, hidden, hidden, hidden, skip_first=True,
                                     **memory_options), 2).eval())
    models[1].load_state_dict(models[0].state_dict())
    loader = DataLoader([Data(x=x, edge_index=edge_index)], batch_size=1)
    results, largest = [], []
    for model in models:
        torch.manual_seed(1)  # the same hard samples
        with AllocationTracker() as tracker:
            results.append(evaluate(model, loader, observed_steps=6, horizon=6))
        largest.append(tracker.largest)
    assert results[0]["mse"] == pytest.approx(results[1]["mse"], rel=1e-4)
    # One hidden activation of every edge is E H floats: the unchunked run
    # allocates such tensors, the chunked one nothing of half that size.
    per_edge = edge_index.size(1) * hidden * 4
    assert largest[1] >= per_edge and largest[0] < per_edge / 2


def _mismatches():
    from torch_nri.models import DNRI, FixedGraphModel, SupervisedEncoder
    from torch_nri.nn import CNNEncoder, DNRIEncoder, RNNDecoder

    mlp = MLPDecoder(2, 2, 8, 8, 8)
    nri = "config.json says model='nri', encoder='mlp' \\(MLPEncoder\\), decoder='mlp' " \
          "\\(MLPDecoder\\)"
    # (the model in best.pt, the run's configuration, what the error says)
    return [
        (NRI(CNNEncoder(2, 8, 2), mlp, 2), {}, "its encoder differs\\): it holds NRI with "
         "encoder CNNEncoder and decoder MLPDecoder; " + nri),
        (NRI(MLPEncoder(20, 8, 2), RNNDecoder(2, 2, 8), 2), {},
         "its decoder differs\\): it holds NRI with encoder MLPEncoder and decoder RNNDecoder"),
        (SupervisedEncoder(MLPEncoder(20, 8, 2), 2), {}, "its decoder differs\\): it holds "
         "SupervisedEncoder with encoder MLPEncoder; " + nri),
        (FixedGraphModel(MLPDecoder(2, 1, 8, 8, 8), "full", 1), {},
         "its encoder differs\\): it holds FixedGraphModel with decoder MLPDecoder"),
        (DNRI(DNRIEncoder(2, 8, 2), mlp, 2), {}, "its encoder differs\\): it holds DNRI with "
         "encoder DNRIEncoder"),
        (NRI(MLPEncoder(20, 8, 2), mlp, 2), dict(model="full-graph"),
         "its encoder differs\\): .* config.json says model='full-graph', decoder='mlp' "
         "\\(MLPDecoder\\)\\."),
        (NRI(MLPEncoder(20, 8, 2), mlp, 2), dict(model="supervised"),
         "its decoder differs\\): .* config.json says model='supervised', encoder='mlp' "
         "\\(MLPEncoder\\)\\."),
    ]


@pytest.mark.parametrize("case", range(len(_mismatches())))
def test_evaluate_run_refuses_a_checkpoint_of_another_model(tmp_path, case):
    # Before: the checkpoint's model was scored as if it were the run's.
    from torch_nri.models import save_model
    from torch_nri.training import TrainConfig, evaluate_run

    model, options, match = _mismatches()[case]
    save_model(model, str(tmp_path / "best.pt"))
    with pytest.raises(ValueError, match=rf"^{tmp_path}/best.pt holds another model than the "
                                         rf"run's config.json describes \({match}"):
        evaluate_run(str(tmp_path), config=TrainConfig(**options), test_set=[], device="cpu")


def test_the_configuration_a_checkpoint_was_trained_with_tells_apart_the_given_graphs(
        tmp_path):
    # The full-graph and true-graph baselines have the same layers: the
    # configuration in a checkpoint of train() tells them apart.
    from types import SimpleNamespace

    from torch_nri.models import FixedGraphModel
    from torch_nri.models.base import checkpoint_entries
    from torch_nri.training import TrainConfig
    from torch_nri.training.evaluation import check_checkpoint_model

    model = FixedGraphModel(MLPDecoder(2, 1, 8, 8, 8), "full", 1)
    checkpoint = {**checkpoint_entries(model),
                  "train_config": TrainConfig(model="full-graph").to_dict()}
    check_checkpoint_model(checkpoint, TrainConfig(model="full-graph"), "best.pt")
    with pytest.raises(ValueError, match=r"\(its model differs\): it holds FixedGraphModel with "
                                         r"decoder MLPDecoder \(trained with "
                                         r"model='full-graph', decoder='mlp'\); config.json "
                                         r"says model='true-graph', decoder='mlp'"):
        check_checkpoint_model(checkpoint, TrainConfig(model="true-graph"), "best.pt")
    # A saved run's decoder of one's own, not registered here: its class is
    # unknown, the configuration it was trained with is compared.
    checkpoint["train_config"]["decoder"] = "mine:Decoder"
    check_checkpoint_model(checkpoint, SimpleNamespace(model="full-graph", encoder="mlp",
                                                       decoder="mine:Decoder"), "best.pt")
    with pytest.raises(ValueError, match=r"its decoder differs"):
        check_checkpoint_model(checkpoint, SimpleNamespace(model="full-graph", encoder="mlp",
                                                           decoder="other:Decoder"), "best.pt")
