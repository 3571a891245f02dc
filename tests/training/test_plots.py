import subprocess
import sys

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
