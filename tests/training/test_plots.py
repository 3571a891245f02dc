import subprocess
import sys
import tracemalloc

import pytest
import torch

SCRIPT = """
import matplotlib
matplotlib.use("svg")
import torch
import torch_nri.training
from torch_nri.training.plots import plot_curves
row = dict(epoch=1, train_nll=1.0, valid_nll=1.0, train_kl=0.1, valid_kl=0.1,
           train_accuracy=0.5, valid_accuracy=0.5)
plot_curves([row, dict(row, epoch=2)], {path!r})
import matplotlib.pyplot as plt
print(matplotlib.get_backend(), len(plt.get_fignums()))
"""


def test_plots_leave_the_session_s_backend_and_figures_alone(tmp_path):
    path = str(tmp_path / "curves.png")
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(path=path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["svg", "0"]
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_a_graph_over_time_is_drawn_beside_the_truth(tmp_path):
    import torch

    from torch_nri.graphs import fully_connected_edge_index
    from torch_nri.training.plots import plot_graph_over_time

    edge_index = fully_connected_edge_index(3)
    truth = torch.zeros(6, 30, dtype=torch.long)
    truth[1, 5:12] = 1
    for inferred in (truth.roll(1, dims=1), torch.tensor([0, 1, 0, 0, 0, 0])):
        plot_graph_over_time(edge_index, inferred, truth, str(tmp_path / "graph.png"))
        assert (tmp_path / "graph.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
@pytest.mark.parametrize("per_step", [False, True])
def test_the_plots_of_a_large_system_draw_a_window_in_bounded_memory(tmp_path, capsys,
                                                                     per_step):
    from torch_geometric.data import Data

    from torch_nri.graphs import knn_graph
    from torch_nri.models import NRI
    from torch_nri.nn import MLPDecoder, MLPEncoder
    from torch_nri.training.evaluation import plot_example

    num_nodes = 20_000  # an [N, N] array of floats would be 3.2 GB
    x = torch.randn(num_nodes, 8, 4)
    edge_index = knn_graph(x[:, 0, 2:], 2)
    shape = (edge_index.size(1), 8) if per_step else (edge_index.size(1),)
    data = Data(x=x, edge_index=edge_index, edge_type=torch.randint(0, 2, shape))
    model = NRI(MLPEncoder(4 * 4, 8, 2), MLPDecoder(4, 2, 8, 8, 8), 2)
    tracemalloc.start()  # numpy's and matplotlib's allocations
    try:
        plot_example(model, data, 4, 3, None, str(tmp_path), position_features=[2, 3])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 300 * 2 ** 20, peak
    for name in ("trajectories.png", "graph.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
    # Without positions, a window makes no sense: nothing is drawn, and it is said.
    plot_example(model, data, 4, 3, None, str(tmp_path / "none"))
    assert "trajectories.png and graph.png are not drawn: the system has 20000 objects" \
        in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_the_window_is_the_objects_nearest_object_0_and_the_edges_among_them():
    from torch_nri.training.plots import nearest_objects, window_edges

    positions = torch.tensor([[0.0, 0.0], [5.0, 0.0], [1.0, 0.0], [0.0, -2.0], [9.0, 9.0]])
    nodes = nearest_objects(positions, 3)
    assert nodes.tolist() == [0, 2, 3]
    edge_index = torch.tensor([[0, 2, 1, 3, 3], [2, 3, 0, 0, 4]])
    local, kept = window_edges(edge_index, nodes, 5)
    assert kept.tolist() == [0, 1, 3] and local.tolist() == [[0, 1, 2], [1, 2, 0]]


def test_a_small_system_is_drawn_whole(tmp_path, monkeypatch):
    from torch_geometric.data import Data

    from torch_nri.graphs import fully_connected_edge_index
    from torch_nri.models import NRI
    from torch_nri.nn import MLPDecoder, MLPEncoder
    from torch_nri.training import evaluation

    drawn = {}
    monkeypatch.setattr(evaluation, "plot_trajectories",
                        lambda *args, **kwargs: drawn.update(paths=args[:3], **kwargs))
    monkeypatch.setattr(evaluation, "plot_graph",
                        lambda *args, **kwargs: drawn.update(graph=args[:4], **kwargs))
    data = Data(x=torch.randn(100, 8, 4), edge_index=fully_connected_edge_index(100))
    model = NRI(MLPEncoder(4 * 4, 8, 2), MLPDecoder(4, 2, 8, 8, 8), 2)
    evaluation.plot_example(model, data, 4, 3, None, str(tmp_path), position_features=[0, 1])
    assert [path.size(0) for path in drawn["paths"]] == [100, 100, 100]
    edge_index, _, _, num_nodes = drawn["graph"]
    assert edge_index is data.edge_index and num_nodes == 100 and drawn["title"] is None
